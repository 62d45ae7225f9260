package dev.parley;

import dev.parley.support.TestRedis;
import dev.parley.support.TestServer;
import dev.parley.support.WsClient;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The unmodified npm {@code @socket.io/redis-emitter} (pinned in src/test/emitter/package-lock.json,
 * installed by {@code npm ci} in the build) run by Node against two Parley nodes.
 */
@ExtendWith(VertxExtension.class)
@Timeout(value = 60, timeUnit = TimeUnit.SECONDS)
class NpmEmitterTest {

  private static final Path EMITTER_DIR = Path.of("src/test/emitter");
  private static TestRedis redis;
  private Vertx nodeA;
  private Vertx nodeB;
  private int portA;
  private int portB;

  @BeforeAll
  static void startRedis() throws IOException {
    assertTrue(Files.isDirectory(EMITTER_DIR.resolve("node_modules/@socket.io/redis-emitter")),
      "run `npm ci` in src/test/emitter first (mvn does it in process-test-resources)");
    redis = TestRedis.start();
  }

  @AfterAll
  static void stopRedis() throws IOException {
    redis.close();
  }

  @BeforeEach
  void start(VertxTestContext ctx) {
    nodeA = Vertx.vertx();
    nodeB = Vertx.vertx();
    JsonObject cfg = RedisChatTest.redisConfig(redis.uri()).put("emitter", new JsonObject().put("enabled", true));
    Future.all(TestServer.start(nodeA, cfg, 1), TestServer.start(nodeB, cfg, 1)).onComplete(ctx.succeeding(all -> {
      portA = all.resultAt(0);
      portB = all.resultAt(1);
      ctx.completeNow();
    }));
  }

  @AfterEach
  void stop(VertxTestContext ctx) {
    Future.join(nodeA.close(), nodeB.close()).onComplete(ar -> ctx.completeNow());
  }

  /** Runs emit.mjs with these operations on a worker thread; fails on a non-zero exit. */
  private Future<Void> node(Vertx vertx, JsonArray ops) {
    return vertx.executeBlocking(() -> {
      Process p = new ProcessBuilder("node", "emit.mjs", redis.uri(), ops.encode())
        .directory(EMITTER_DIR.toFile()).redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes());
      if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
        throw new IllegalStateException("emit.mjs failed: " + out);
      }
      return null;
    });
  }

  private static JsonObject emit(List<String> to, List<String> except, String event, JsonArray args) {
    return new JsonObject().put("op", "emit").put("to", new JsonArray(to)).put("except", new JsonArray(except))
      .put("event", event).put("args", args);
  }

  @Test
  void theRealEmitterReachesAllARoomAndOneSession(Vertx vertx, VertxTestContext ctx) {
    WsClient[] c = new WsClient[3];
    Future.all(WsClient.connect(vertx, portA), WsClient.connect(vertx, portB), WsClient.connect(vertx, portB))
      .compose(all -> {
        for (int i = 0; i < 3; i++) {
          c[i] = all.resultAt(i);
        }
        return c[0].join("room1", "a").compose(v -> c[1].join("room1", "b"));
      })
      .compose(v -> node(vertx, new JsonArray()
        .add(emit(List.of(), List.of(), "to-all", new JsonArray().add("hello").add(new JsonObject().put("n", 1))))
        .add(emit(List.of("room1"), List.of(), "to-room", new JsonArray().add(7)))
        .add(emit(List.of(c[2].session()), List.of(), "to-one", new JsonArray().add("psst")))
        .add(emit(List.of(), List.of("room1"), "except-room", new JsonArray().add(new JsonObject().put("$binary", "AQID"))))
        .add(emit(List.of(), List.of(), "last", new JsonArray()))))
      .compose(v -> Future.all(c[0].expect("event"), c[1].expect("event"), c[2].expect("event")))
      .compose(all -> {
        ctx.verify(() -> {
          for (int i = 0; i < 3; i++) {
            JsonObject e = all.resultAt(i);
            assertEquals("to-all", e.getString("event"));
            assertEquals(new JsonArray().add("hello").add(new JsonObject().put("n", 1)), e.getJsonArray("args"));
          }
        });
        return Future.all(c[0].expect("event"), c[1].expect("event"));
      })
      .compose(all -> {
        ctx.verify(() -> {
          JsonObject e = all.resultAt(0);
          assertEquals("to-room", e.getString("event"));
          assertEquals("room1", e.getString("room"));
          assertEquals(new JsonArray().add(7), e.getJsonArray("args"));
        });
        return c[2].expect("event");
      })
      .compose(e -> {
        ctx.verify(() -> assertEquals("to-one", e.getString("event")));
        return c[2].expect("event");
      })
      .compose(e -> {
        ctx.verify(() -> {
          assertEquals("except-room", e.getString("event"));
          assertEquals("AQID", e.getJsonArray("args").getString(0), "binary as base64");
        });
        return Future.all(c[0].expect("event"), c[1].expect("event"), c[2].expect("event"));
      })
      .onComplete(ctx.succeeding(all -> {
        ctx.verify(() -> {
          for (int i = 0; i < 3; i++) {
            assertEquals("last", all.<JsonObject>resultAt(i).getString("event"), "nothing else arrived before the last emit");
          }
        });
        ctx.completeNow();
      }));
  }

  @Test
  void theRealEmittersRequests(Vertx vertx, VertxTestContext ctx) {
    WsClient[] c = new WsClient[2];
    Future.all(WsClient.connect(vertx, portA), WsClient.connect(vertx, portB))
      .compose(all -> {
        c[0] = all.resultAt(0);
        c[1] = all.resultAt(1);
        return c[0].join("lobby", "alice").compose(v -> c[1].join("lobby", "bob"));
      })
      .compose(v -> node(vertx, new JsonArray().add(new JsonObject().put("op", "socketsJoin").put("in", new JsonArray().add("lobby"))
        .put("rooms", new JsonArray().add("vip")))))
      .compose(v -> Future.all(c[0].expect("presence", "vip"), c[1].expect("presence", "vip")))
      .compose(v -> node(vertx, new JsonArray().add(new JsonObject().put("op", "socketsLeave").put("in", new JsonArray().add(c[1].session()))
        .put("rooms", new JsonArray().add("vip")))))
      .compose(v -> c[0].expect("left", "vip"))
      .compose(v -> node(vertx, new JsonArray().add(new JsonObject().put("op", "disconnectSockets").put("in", new JsonArray().add(c[1].session())))))
      .compose(v -> c[1].closed())
      .onComplete(ctx.succeeding(code -> {
        ctx.verify(() -> assertEquals(4003, code));
        ctx.completeNow();
      }));
  }
}
