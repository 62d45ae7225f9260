package dev.parley;

import dev.parley.support.TestRedis;
import dev.parley.support.TestServer;
import dev.parley.support.WsClient;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The real npm {@code socket.io-client} 4.8 (pinned in src/test/socketio/package-lock.json) against
 * Parley, in its three transport modes, in the seed applications' vocabularies, and across two nodes
 * with WebSocket only and no affinity (seed 004). A native {@code /ws} client shares each room.
 */
@ExtendWith(VertxExtension.class)
@Timeout(value = 60, timeUnit = TimeUnit.SECONDS)
class SocketIoNodeClientTest {

  private static final Path DIR = Path.of("src/test/socketio");

  @BeforeAll
  static void installed() {
    assertTrue(Files.isDirectory(DIR.resolve("node_modules/socket.io-client")),
      "run `npm ci` in src/test/socketio first (mvn does it in process-test-resources)");
  }

  /** Runs a script of src/test/socketio on a worker thread and parses the JSON line it prints. */
  static Future<JsonObject> node(Vertx vertx, String... args) {
    return vertx.executeBlocking(() -> {
      List<String> cmd = new java.util.ArrayList<>(List.of("node"));
      cmd.addAll(List.of(args));
      Process p = new ProcessBuilder(cmd).directory(DIR.toFile()).start();
      String out = new String(p.getInputStream().readAllBytes());
      String err = new String(p.getErrorStream().readAllBytes());
      if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
        throw new IllegalStateException(String.join(" ", args) + " failed: " + err + out);
      }
      return new JsonObject(out.trim());
    });
  }

  @ParameterizedTest
  @ValueSource(strings = {"default", "polling", "websocket"})
  void chatInEveryTransportModeWithANativeClientInTheRoom(String mode, Vertx vertx, VertxTestContext ctx) {
    String room = "sio-" + mode;
    WsClient[] watcher = new WsClient[1];
    // two instances: polling requests of one session land on either, and must reach the session's loop
    TestServer.start(vertx, new JsonObject(), 2).compose(port -> WsClient.connect(vertx, port).compose(w -> {
        watcher[0] = w;
        return w.join(room, "native");
      }).compose(v -> node(vertx, "chat.mjs", mode, room, "http://127.0.0.1:" + port)))
      .compose(result -> {
        ctx.verify(() -> {
          assertEquals("presence", result.getJsonObject("presenceB").getString("type"));
          assertEquals(3, result.getJsonObject("presenceB").getJsonArray("members").size(), "native + two Socket.IO clients");
          assertTrue(result.getJsonObject("publishAck").containsKey("id"));
          assertEquals("sio-a", result.getJsonObject("messageAtB").getString("name"));
          assertEquals("sio-b", result.getJsonObject("messageAtA").getString("name"));
          assertEquals("not_joined", result.getJsonObject("errorAck").getJsonObject("error").getString("code"));
          assertEquals("sio-a", result.getJsonObject("left").getString("name"));
          String expected = "polling".equals(mode) ? "polling" : "websocket";
          assertEquals(expected, result.getString("transportA"));
        });
        // the native client saw the Socket.IO clients join, talk and leave
        return watcher[0].expect(f -> "message".equals(f.getString("type")) && "from a".equals(f.getString("text")), "from a")
          .compose(v -> watcher[0].expect(f -> "message".equals(f.getString("type")) && "from b".equals(f.getString("text")), "from b"))
          .compose(v -> watcher[0].expect(f -> "left".equals(f.getString("type")) && "sio-a".equals(f.getString("name")), "sio-a left"));
      })
      .onComplete(ctx.succeedingThenComplete());
  }

  /**
   * Tokens with socket.io-client 4.8 in token mode: an expired token and no token are refused at CONNECT
   * ({@code connect_error} with message {@code unauthorized} and the reason in {@code data}); a socket whose
   * token expires gets an {@code error} event with code 4005 and a server disconnect; one that sent a fresh
   * token with the {@code auth} event stays, in its room.
   */
  @ParameterizedTest
  @ValueSource(strings = {"default", "polling", "websocket"})
  void tokensAreCheckedAtConnectAndOnExpiry(String mode, Vertx vertx, VertxTestContext ctx) {
    TestServer.start(vertx, new JsonObject().put("auth", dev.parley.support.Tokens.auth("token")), 1)
      .compose(port -> node(vertx, "auth.mjs", mode, "http://127.0.0.1:" + port,
        dev.parley.support.Tokens.of(vertx, "old", "Old", -30), dev.parley.support.Tokens.of(vertx, "alice", "Alice", 4),
        dev.parley.support.Tokens.of(vertx, "bob", "Bob", 4), dev.parley.support.Tokens.of(vertx, "bob", "Bob", 600)))
      .onComplete(ctx.succeeding(r -> {
        ctx.verify(() -> {
          JsonObject expired = r.getJsonObject("refusedExpired");
          assertEquals("unauthorized", expired.getString("message"), r.encode());
          assertTrue(expired.getJsonObject("data").getString("message").contains("expired"), r.encode());
          assertEquals("unauthorized", r.getJsonObject("refusedMissing").getString("message"));
          JsonObject alice = r.getJsonObject("joined").getJsonArray("members").getJsonObject(0);
          assertEquals("Alice", alice.getString("name"));
          assertEquals("bob", r.getJsonObject("refreshed").getString("user"));
          assertEquals(4005, r.getJsonObject("error").getInteger("close"));
          assertEquals("token_expired", r.getJsonObject("error").getString("code"));
          assertEquals("io server disconnect", r.getString("reason"));
          assertTrue(r.getJsonObject("published").containsKey("id"), "bob publishes after alice's expiry: " + r.encode());
          assertTrue(r.getBoolean("bobConnected"));
        });
        ctx.completeNow();
      }));
  }

  /**
   * Connection state recovery as socket.io-client 4.8 does it: the client's connection drops, ten messages
   * are posted meanwhile, it reconnects by itself and reports {@code recovered}, having got each missed
   * message once, in order. Two instances: the reconnection may land on the other one.
   */
  @ParameterizedTest
  @ValueSource(strings = {"default", "polling", "websocket"})
  void aCutClientRecoversItsRoomsAndTheMessagesItMissed(String mode, Vertx vertx, VertxTestContext ctx) {
    TestServer.start(vertx, new JsonObject(), 2)
      .compose(port -> node(vertx, "recovery.mjs", mode, "rec-" + mode, "http://127.0.0.1:" + port))
      .onComplete(ctx.succeeding(result -> {
        ctx.verify(() -> {
          assertEquals(Boolean.TRUE, result.getBoolean("recovered"), "socket.recovered: " + result);
          List<Object> expected = new java.util.ArrayList<>(List.of("before"));
          for (int i = 0; i < 10; i++) {
            expected.add("missed " + i);
          }
          expected.add("after");
          assertEquals(expected, result.getJsonArray("got").getList(), "each missed message once, in order");
        });
        ctx.completeNow();
      }));
  }

  @Test
  void seed000Vocabulary(Vertx vertx, VertxTestContext ctx) {
    WsClient[] watcher = new WsClient[1];
    TestServer.start(vertx).compose(port -> WsClient.connect(vertx, port).compose(w -> {
        watcher[0] = w;
        return w.join("lobby", "native");
      }).compose(v -> node(vertx, "seeds.mjs", "http://127.0.0.1:" + port, "000")))
      .compose(result -> {
        ctx.verify(() -> {
          assertEquals("hello everyone", result.getJsonObject("a").getString("value"), "the sender gets it too");
          assertEquals("hello everyone", result.getJsonObject("b").getString("value"));
          assertEquals("alice left", result.getJsonObject("left").getString("value"));
        });
        return watcher[0].expect(f -> "message".equals(f.getString("type")) && "hello everyone".equals(f.getString("text")), "seed message");
      })
      .onComplete(ctx.succeeding(m -> {
        ctx.verify(() -> assertEquals("alice", m.getString("name"), "native clients see who wrote it"));
        ctx.completeNow();
      }));
  }

  @Test
  void seed003Vocabulary(Vertx vertx, VertxTestContext ctx) {
    TestServer.start(vertx).compose(port -> node(vertx, "seeds.mjs", "http://127.0.0.1:" + port, "003"))
      .onComplete(ctx.succeeding(result -> {
        ctx.verify(() -> {
          assertEquals("hello from alice", result.getString("b"));
          assertEquals("hi back from bob", result.getString("a"));
          assertTrue(result.getJsonArray("ownEcho").isEmpty(), "the sender does not get its own message back");
        });
        ctx.completeNow();
      }));
  }

  @Test
  void webSocketOnlyClientsThroughTwoNodesWithoutAffinity(Vertx vertx, VertxTestContext ctx) throws Exception {
    TestRedis redis = TestRedis.start();
    Vertx nodeA = Vertx.vertx();
    Vertx nodeB = Vertx.vertx();
    Future.all(TestServer.start(nodeA, RedisChatTest.redisConfig(redis.uri()), 1), TestServer.start(nodeB, RedisChatTest.redisConfig(redis.uri()), 1))
      .compose(ports -> node(vertx, "chat.mjs", "websocket", "seed004",
        "http://127.0.0.1:" + ports.resultAt(0), "http://127.0.0.1:" + ports.resultAt(1)))
      .eventually(() -> Future.join(nodeA.close(), nodeB.close()).eventually(() -> vertx.executeBlocking(() -> {
        redis.close();
        return null;
      })))
      .onComplete(ctx.succeeding(result -> {
        ctx.verify(() -> {
          assertEquals("sio-a", result.getJsonObject("messageAtB").getString("name"));
          assertEquals("sio-b", result.getJsonObject("messageAtA").getString("name"));
          assertEquals(2, result.getJsonObject("presenceB").getJsonArray("members").size());
        });
        ctx.completeNow();
      }));
  }
}
