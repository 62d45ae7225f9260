package dev.parley;

import dev.parley.support.BridgeClient;
import dev.parley.support.TestServer;
import dev.parley.support.WsClient;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

/**
 * Two transport verticle instances on one port, each with its own hub on its own event loop: clients
 * that land on different instances chat, see each other in presence, and hear each other leave.
 */
@ExtendWith(VertxExtension.class)
@Timeout(value = 30, timeUnit = TimeUnit.SECONDS)
class MultiInstanceTest {

  private int port;

  @BeforeEach
  void start(Vertx vertx, VertxTestContext ctx) {
    TestServer.start(vertx, new JsonObject(), 2).onComplete(ctx.succeeding(p -> {
      port = p;
      ctx.completeNow();
    }));
  }

  @AfterEach
  void stop(Vertx vertx, VertxTestContext ctx) {
    TestServer.stop(vertx).onComplete(ctx.succeedingThenComplete());
  }

  /** The hub part of a session id ({@code <node>.<instance>-<n>}). */
  private static String hubOf(String session) {
    return session.substring(0, session.lastIndexOf('-'));
  }

  /** Connects until two clients sit on different instances (connections are spread round-robin). */
  private Future<List<WsClient>> twoOnDifferentHubs(Vertx vertx) {
    return Future.all(WsClient.connect(vertx, port), WsClient.connect(vertx, port), WsClient.connect(vertx, port))
      .map(all -> {
        List<WsClient> clients = new ArrayList<>(all.list());
        WsClient first = clients.get(0);
        WsClient other = clients.stream().filter(c -> !hubOf(c.session()).equals(hubOf(first.session()))).findFirst()
          .orElseThrow(() -> new AssertionError("all connections landed on one instance"));
        return List.of(first, other);
      });
  }

  @Test
  void clientsOnDifferentInstancesChat(Vertx vertx, VertxTestContext ctx) {
    WsClient[] c = new WsClient[2];
    twoOnDifferentHubs(vertx)
      .compose(two -> {
        c[0] = two.get(0);
        c[1] = two.get(1);
        ctx.verify(() -> assertNotEquals(hubOf(c[0].session()), hubOf(c[1].session())));
        return c[0].join("shared", "alice");
      })
      .compose(v -> c[1].join("shared", "bob"))
      .compose(presence -> {
        ctx.verify(() -> assertEquals(2, presence.getJsonArray("members").size(), "presence spans instances: " + presence));
        return c[0].expect(f -> "joined".equals(f.getString("type")) && "bob".equals(f.getString("name")), "bob joined");
      })
      .compose(v -> {
        // order per publisher: 50 messages from bob arrive at alice in the order sent
        for (int i = 0; i < 50; i++) {
          c[1].send(new JsonObject().put("type", "publish").put("room", "shared").put("text", "m" + i));
        }
        Future<JsonObject> chain = Future.succeededFuture();
        for (int i = 0; i < 50; i++) {
          String expected = "m" + i;
          chain = chain.compose(x -> c[0].expect("message", "shared").map(m -> {
            assertEquals(expected, m.getString("text"));
            return m;
          }));
        }
        return chain;
      })
      .compose(v -> c[0].publish("shared", "back to bob"))
      .compose(v -> c[1].expect(f -> "back to bob".equals(f.getString("text")), "reply"))
      .compose(v -> {
        c[1].close();
        return c[0].expect("left", "shared");
      })
      .onComplete(ctx.succeeding(left -> {
        ctx.verify(() -> assertEquals("bob", left.getString("name")));
        ctx.completeNow();
      }));
  }

  @Test
  void bridgeClientsOnAnyInstanceWork(Vertx vertx, VertxTestContext ctx) {
    // Several bridge sockets: each command must run on the socket's own instance.
    List<Future<BridgeClient>> opens = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      opens.add(BridgeClient.open(vertx, port));
    }
    WsClient[] w = new WsClient[1];
    WsClient.connect(vertx, port).compose(ws -> {
        w[0] = ws;
        return ws.join("bridged", "watcher");
      })
      .compose(v -> Future.all(opens))
      .compose(all -> {
        List<Future<JsonObject>> joins = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
          BridgeClient b = all.resultAt(i);
          joins.add(b.request("parley.join", new JsonObject().put("room", "bridged").put("name", "b" + i)));
        }
        return Future.all(joins);
      })
      .compose(replies -> {
        for (int i = 0; i < 4; i++) {
          JsonObject r = replies.resultAt(i);
          ctx.verify(() -> assertEquals("rec", r.getString("type"), r.encode()));
        }
        List<Future<JsonObject>> seen = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
          String name = "b" + i;
          seen.add(w[0].expect(f -> "joined".equals(f.getString("type")) && name.equals(f.getString("name")), name + " joined"));
        }
        return Future.all(seen);
      })
      .onComplete(ctx.succeedingThenComplete());
  }
}
