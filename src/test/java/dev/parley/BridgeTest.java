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

import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The event bus bridge at {@code /eventbus}, through its real frame protocol over SockJS. */
@ExtendWith(VertxExtension.class)
@Timeout(value = 30, timeUnit = TimeUnit.SECONDS)
class BridgeTest {

  private int port;

  @BeforeEach
  void start(Vertx vertx, VertxTestContext ctx) {
    TestServer.start(vertx).onComplete(ctx.succeeding(p -> {
      port = p;
      ctx.completeNow();
    }));
  }

  @AfterEach
  void stop(Vertx vertx, VertxTestContext ctx) {
    TestServer.stop(vertx).onComplete(ctx.succeedingThenComplete());
  }

  @Test
  void joinRegisterReceiveAndPublishWithWsClients(Vertx vertx, VertxTestContext ctx) {
    BridgeClient[] b = new BridgeClient[1];
    WsClient[] w = new WsClient[1];
    Future.all(BridgeClient.open(vertx, port), WsClient.connect(vertx, port))
      .compose(all -> {
        b[0] = all.resultAt(0);
        w[0] = all.resultAt(1);
        return w[0].join("lobby", "wendy");
      })
      .compose(v -> b[0].request("parley.join", new JsonObject().put("room", "lobby").put("name", "bridget")))
      .compose(reply -> {
        ctx.verify(() -> {
          assertEquals("rec", reply.getString("type"), reply.encode());
          JsonObject presence = reply.getJsonObject("body");
          assertEquals("presence", presence.getString("type"));
          assertEquals("lobby", presence.getString("room"));
          assertEquals(2, presence.getJsonArray("members").size());
        });
        return w[0].expect(f -> "joined".equals(f.getString("type")) && "bridget".equals(f.getString("name")), "bridget joined");
      })
      .compose(v -> {
        b[0].frame("register", "parley.room.lobby", null);
        // the registration is in place once a message published after it arrives
        return w[0].publish("lobby", "hello bridge");
      })
      .compose(v -> b[0].expectRec("parley.room.lobby", "message"))
      .compose(m -> {
        ctx.verify(() -> {
          assertEquals("hello bridge", m.getString("text"));
          assertEquals("wendy", m.getString("name"));
        });
        // the body's name is ignored: the name is bound at join
        return b[0].request("parley.publish", new JsonObject().put("room", "lobby").put("text", "from bridge").put("name", "mallory"));
      })
      .compose(reply -> {
        ctx.verify(() -> assertTrue(reply.getJsonObject("body").getString("id") != null, reply.encode()));
        return w[0].expect(f -> "from bridge".equals(f.getString("text")), "bridge message");
      })
      .compose(m -> {
        ctx.verify(() -> assertEquals("bridget", m.getString("name")));
        return b[0].expectRec("parley.room.lobby", "message");
      })
      .compose(own -> {
        ctx.verify(() -> assertEquals("from bridge", own.getString("text"), "the sender gets its own message"));
        return w[0].leave("lobby").compose(v -> b[0].expectRec("parley.room.lobby", "left"));
      })
      .compose(left -> {
        ctx.verify(() -> assertEquals("wendy", left.getString("name")));
        return b[0].request("parley.leave", new JsonObject().put("room", "lobby"));
      })
      .onComplete(ctx.succeeding(reply -> {
        ctx.verify(() -> assertEquals("rec", reply.getString("type")));
        ctx.completeNow();
      }));
  }

  @Test
  void registeringARoomBeforeJoiningIsDenied(Vertx vertx, VertxTestContext ctx) {
    BridgeClient.open(vertx, port).compose(b -> {
      b.frame("register", "parley.room.secret", null);
      return b.expectError();
    }).onComplete(ctx.succeeding(err -> {
      ctx.verify(() -> assertEquals("access_denied", err.getString("body")));
      ctx.completeNow();
    }));
  }

  @Test
  void everythingOutsideTheThreeCommandsIsDenied(Vertx vertx, VertxTestContext ctx) {
    BridgeClient.open(vertx, port).compose(b -> {
      b.frame("send", "parley.broker.room.lobby", new JsonObject());
      return b.expectError().compose(e1 -> {
        ctx.verify(() -> assertEquals("access_denied", e1.getString("body"), "internal broker address"));
        b.frame("publish", "parley.join", new JsonObject().put("room", "x").put("name", "y"));
        return b.expectError();
      }).compose(e2 -> {
        ctx.verify(() -> assertEquals("access_denied", e2.getString("body"), "publish instead of send"));
        b.frame("register", "some.other.address", null);
        return b.expectError();
      }).compose(e3 -> {
        ctx.verify(() -> assertEquals("access_denied", e3.getString("body"), "register elsewhere"));
        // a hub's private command address cannot be used directly either
        String hub = ParleyNode.of(vertx).id() + ".1";
        b.frame("send", "parley.bridge." + hub + ".join", new JsonObject().put("room", "x").put("name", "y"));
        return b.expectError();
      });
    }).onComplete(ctx.succeeding(e4 -> {
      ctx.verify(() -> assertEquals("access_denied", e4.getString("body"), "private hub address"));
      ctx.completeNow();
    }));
  }

  @Test
  void failuresComeBackAsFailedRepliesWithTheErrorCode(Vertx vertx, VertxTestContext ctx) {
    BridgeClient.open(vertx, port).compose(b -> b.request("parley.publish", new JsonObject().put("room", "lobby").put("text", "x"))
      .compose(r1 -> {
        ctx.verify(() -> assertFailure(r1, "not_joined"));
        return b.request("parley.join", new JsonObject().put("room", "no spaces").put("name", "a"));
      })
      .compose(r2 -> {
        ctx.verify(() -> assertFailure(r2, "invalid_room"));
        return b.request("parley.join", new JsonObject().put("room", "ok"));
      })
      .compose(r3 -> {
        ctx.verify(() -> assertFailure(r3, "bad_request"));
        return b.request("parley.join", "not an object");
      })
      .compose(r4 -> {
        ctx.verify(() -> assertFailure(r4, "bad_request"));
        return b.request("parley.join", new JsonObject().put("room", "ok").put("name", "\u0000"));
      })
      .compose(r5 -> {
        ctx.verify(() -> assertFailure(r5, "invalid_name"));
        return b.request("parley.leave", new JsonObject().put("room", "ok"));
      }))
      .onComplete(ctx.succeeding(r6 -> {
        ctx.verify(() -> assertFailure(r6, "not_joined"));
        ctx.completeNow();
      }));
  }

  @Test
  void closedBridgeSocketLeavesItsRooms(Vertx vertx, VertxTestContext ctx) {
    Future.all(BridgeClient.open(vertx, port), WsClient.connect(vertx, port)).compose(all -> {
      BridgeClient b = all.resultAt(0);
      WsClient w = all.resultAt(1);
      return w.join("room1", "watcher")
        .compose(v -> b.request("parley.join", new JsonObject().put("room", "room1").put("name", "ghost")))
        .compose(v -> w.expect(f -> "joined".equals(f.getString("type")) && "ghost".equals(f.getString("name")), "ghost joined"))
        .compose(v -> {
          b.close();
          return w.expect("left", "room1");
        });
    }).onComplete(ctx.succeeding(left -> {
      ctx.verify(() -> assertEquals("ghost", left.getString("name")));
      ctx.completeNow();
    }));
  }

  private static void assertFailure(JsonObject reply, String code) {
    assertEquals("err", reply.getString("type"), reply.encode());
    assertEquals(code, reply.getString("message"), reply.encode());
    assertEquals("RECIPIENT_FAILURE", reply.getString("failureType"), reply.encode());
  }
}
