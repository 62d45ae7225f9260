package dev.parley;

import dev.parley.conformance.ConformanceServer;
import dev.parley.support.TestServer;
import dev.parley.support.WsClient;
import io.socket.client.Ack;
import io.socket.client.IO;
import io.socket.client.Socket;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import org.json.JSONObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.net.URI;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The real Java client {@code io.socket:socket.io-client} 2.1 (Socket.IO v4 protocol): connection,
 * namespaces, the auth payload, acks, binary, chat events, and disconnect announced as left.
 */
@ExtendWith(VertxExtension.class)
@Timeout(value = 60, timeUnit = TimeUnit.SECONDS)
class SocketIoJavaClientTest {

  /** Connects on the client's own threads; completes on connect, fails on connect_error. */
  private static Future<Socket> connect(String url, IO.Options options) {
    Promise<Socket> p = Promise.promise();
    Socket s = IO.socket(URI.create(url), options);
    s.once(Socket.EVENT_CONNECT, args -> p.tryComplete(s));
    s.once(Socket.EVENT_CONNECT_ERROR, args -> p.tryFail("connect_error: " + Arrays.toString(args)));
    s.connect();
    return p.future();
  }

  private static IO.Options options() {
    IO.Options o = new IO.Options();
    o.forceNew = true;
    o.reconnection = false;
    return o;
  }

  private static Future<Object[]> emitWithAck(Socket s, String event, Object... args) {
    Promise<Object[]> p = Promise.promise();
    Object[] all = Arrays.copyOf(args, args.length + 1);
    all[args.length] = (Ack) reply -> p.tryComplete(reply);
    s.emit(event, all);
    return p.future();
  }

  private static Future<Object[]> next(Socket s, String event) {
    Promise<Object[]> p = Promise.promise();
    s.once(event, p::tryComplete);
    return p.future();
  }

  @Test
  void chatWithAcksEventsAndLeave(Vertx vertx, VertxTestContext ctx) {
    Socket[] s = new Socket[2];
    WsClient[] native0 = new WsClient[1];
    TestServer.start(vertx).compose(port -> {
        String url = "http://127.0.0.1:" + port;
        return Future.all(connect(url, options()), connect(url, options()), WsClient.connect(vertx, port));
      })
      .compose(all -> {
        s[0] = all.resultAt(0);
        s[1] = all.resultAt(1);
        native0[0] = all.resultAt(2);
        return native0[0].join("java", "native");
      })
      .compose(v -> emitWithAck(s[0], "join", new JSONObject(Map.of("room", "java", "name", "jay"))))
      .compose(reply -> {
        JsonObject presence = new JsonObject(reply[0].toString());
        ctx.verify(() -> {
          assertEquals("presence", presence.getString("type"));
          assertEquals(2, presence.getJsonArray("members").size());
          assertEquals(s[0].id(), presence.getJsonArray("members").getJsonObject(1).getString("session"),
            "the socket id is the session id");
        });
        Future<Object[]> joinedAtFirst = next(s[0], "joined");
        return emitWithAck(s[1], "join", new JSONObject(Map.of("room", "java", "name", "kay"))).compose(r -> joinedAtFirst);
      })
      .compose(joined -> {
        ctx.verify(() -> assertEquals("kay", new JsonObject(joined[0].toString()).getString("name")));
        Future<Object[]> atSecond = next(s[1], "message");
        return emitWithAck(s[0], "publish", new JSONObject(Map.of("room", "java", "text", "hi from java"))).compose(ack -> {
          ctx.verify(() -> assertTrue(new JsonObject(ack[0].toString()).containsKey("id")));
          return atSecond;
        });
      })
      .compose(message -> {
        JsonObject m = new JsonObject(message[0].toString());
        ctx.verify(() -> {
          assertEquals("hi from java", m.getString("text"));
          assertEquals("jay", m.getString("name"));
        });
        return native0[0].expect(f -> "hi from java".equals(f.getString("text")), "native sees it");
      })
      .compose(v -> emitWithAck(s[0], "join", new JSONObject(Map.of("room", "bad room", "name", "jay"))))
      .compose(err -> {
        ctx.verify(() -> assertEquals("invalid_room", new JsonObject(err[0].toString()).getJsonObject("error").getString("code")));
        Future<Object[]> left = next(s[1], "left");
        s[0].disconnect();
        return left;
      })
      .onComplete(ctx.succeeding(left -> {
        ctx.verify(() -> assertEquals("jay", new JsonObject(left[0].toString()).getString("name")));
        s[1].disconnect();
        ctx.completeNow();
      }));
  }

  @Test
  void namespacesAuthBinaryAndAcksOnTheConformanceServer(Vertx vertx, VertxTestContext ctx) {
    ConformanceServer server = new ConformanceServer(0);
    Socket[] s = new Socket[1];
    vertx.deployVerticle(server).compose(id -> {
        IO.Options o = options();
        o.auth = Map.of("token", "abc");
        Promise<Object[]> auth = Promise.promise();
        Socket socket = IO.socket(URI.create("http://127.0.0.1:" + server.actualPort() + "/custom"), o);
        socket.once("auth", auth::tryComplete);
        socket.connect();
        s[0] = socket;
        return auth.future();
      })
      .compose(auth -> {
        ctx.verify(() -> assertEquals("abc", new JsonObject(auth[0].toString()).getString("token"), "auth payload delivered"));
        Future<Object[]> back = next(s[0], "message-back");
        s[0].emit("message", 1, "two", new byte[] {1, 2, 3});
        return back;
      })
      .compose(back -> {
        ctx.verify(() -> {
          assertEquals(1, ((Number) back[0]).intValue());
          assertEquals("two", back[1]);
          assertArrayEquals(new byte[] {1, 2, 3}, (byte[]) back[2], "binary round trip");
        });
        return emitWithAck(s[0], "message-with-ack", "x", new byte[] {9, 8});
      })
      .compose(ack -> {
        ctx.verify(() -> {
          assertEquals("x", ack[0]);
          assertArrayEquals(new byte[] {9, 8}, (byte[]) ack[1], "binary ack");
        });
        Promise<Object[]> refused = Promise.promise();
        Socket unknown = IO.socket(URI.create("http://127.0.0.1:" + server.actualPort() + "/random"), options());
        unknown.once(Socket.EVENT_CONNECT_ERROR, refused::tryComplete);
        unknown.connect();
        return refused.future();
      })
      .onComplete(ctx.succeeding(error -> {
        ctx.verify(() -> assertTrue(String.valueOf(error[0]).contains("Invalid namespace"), String.valueOf(error[0])));
        s[0].disconnect();
        ctx.completeNow();
      }));
  }

}
