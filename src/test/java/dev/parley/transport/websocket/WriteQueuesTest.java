package dev.parley.transport.websocket;

import dev.parley.support.TestServer;
import dev.parley.transport.Internals;
import dev.parley.support.WsClient;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import dev.parley.support.SioChatClient;
import dev.parley.support.SioClient;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The per-connection memory saving of {@link WriteQueues}, the /ws fast write path and the unfinished-input
 * guard read Vert.x internals: this fails when a Vert.x upgrade makes any of them fall back to the public
 * API ({@link Internals}), and shows that chat over swapped queues still works (heartbeat pings from
 * Vert.x, events from the hub, the close handshake).
 */
@ExtendWith(VertxExtension.class)
@Timeout(value = 30, timeUnit = TimeUnit.SECONDS)
class WriteQueuesTest {

  @Test
  void everyWebSocketClientGetsDirectQueuesAndStillChats(Vertx vertx, VertxTestContext ctx) {
    long before = WriteQueues.swapped();
    long released = WriteQueues.released();
    JsonObject cfg = new JsonObject().put("heartbeat", new JsonObject().put("intervalMs", 100).put("timeoutMs", 2000));
    TestServer.start(vertx, cfg, 1)
      .compose(port -> Future.all(WsClient.connect(vertx, port), WsClient.connect(vertx, port)))
      .compose(all -> {
        WsClient a = all.resultAt(0);
        WsClient b = all.resultAt(1);
        ctx.verify(() -> {
          assertTrue(WriteQueues.swapped() - before >= 2, "both connections swapped");
          assertTrue(WriteQueues.released() - released >= 2, "both let go of their upgrade request");
        });
        return a.join("q", "a").compose(v -> b.join("q", "b")).compose(v -> {
          // a few heartbeat intervals pass: pings written by Vert.x go through the swapped queue
          Future<JsonObject> got = a.expect(m -> "message".equals(m.getString("type")), "message", 5000);
          vertx.setTimer(400, t -> b.publish("q", "after pings"));
          return got;
        }).compose(m -> {
          ctx.verify(() -> assertEquals("after pings", m.getString("text")));
          b.close();
          return a.expect("left", "q");
        });
      })
      .onComplete(ctx.succeeding(left -> ctx.verify(() -> {
        assertEquals(java.util.Set.of(), Internals.fallbacks(), "no internals fell back to the public API");
        ctx.completeNow();
      })));
  }

  /**
   * Socket.IO clients on a WebSocket of their own get the same direct queues and the shared fast write path
   * (a room event's packet encoded once into a frame for every recipient): events arrive whole and in order,
   * Engine.IO pings go out through the same path, and the client's pongs keep it connected.
   */
  @Test
  void socketIoWebSocketClientsGetDirectQueuesAndTheSharedFramePath(Vertx vertx, VertxTestContext ctx) {
    long before = WriteQueues.swapped();
    long released = WriteQueues.released();
    JsonObject cfg = new JsonObject().put("socketio", new JsonObject().put("pingIntervalMs", 100).put("pingTimeoutMs", 2000));
    TestServer.start(vertx, cfg, 1)
      .compose(port -> Future.all(
        SioClient.connect(vertx, port, SioClient.Mode.WEBSOCKET, 0).map(SioChatClient::new),
        SioClient.connect(vertx, port, SioClient.Mode.WEBSOCKET, 0).map(SioChatClient::new),
        SioClient.connect(vertx, port, SioClient.Mode.WEBSOCKET, 0).map(SioChatClient::new)))
      .compose(all -> {
        SioChatClient a = all.resultAt(0);
        SioChatClient b = all.resultAt(1);
        SioChatClient c = all.resultAt(2);
        ctx.verify(() -> {
          assertTrue(WriteQueues.swapped() - before >= 3, "every Socket.IO WebSocket swapped");
          assertTrue(WriteQueues.released() - released >= 3, "every one let go of its upgrade request");
        });
        return a.join("q", "a").compose(v -> b.join("q", "b")).compose(v -> c.join("q", "c")).compose(v -> {
          // a few ping intervals pass, then a burst: one turn of the loop writes several shared frames
          Promise<Void> sent = Promise.promise();
          vertx.setTimer(400, t -> {
            for (int i = 0; i < 20; i++) {
              b.publish("q", "m" + i);
            }
            sent.complete();
          });
          return sent.future();
        }).compose(v -> Future.all(inOrder(a, 20), inOrder(c, 20)));
      })
      .onComplete(ctx.succeeding(done -> ctx.verify(() -> {
        assertEquals(java.util.Set.of(), Internals.fallbacks(), "no internals fell back to the public API");
        ctx.completeNow();
      })));
  }

  /** The client's next {@code n} messages in room q are m0, m1, ... in this order (each taken as it arrived). */
  private static Future<Void> inOrder(SioChatClient client, int n) {
    Future<Void> f = Future.succeededFuture();
    for (int i = 0; i < n; i++) {
      String text = "m" + i;
      f = f.compose(v -> client.event("message", m -> true, text).map(m -> {
        if (!text.equals(m.getString("text"))) {
          throw new AssertionError("expected " + text + ", got " + m.getString("text"));
        }
        return null;
      }));
    }
    return f;
  }
}
