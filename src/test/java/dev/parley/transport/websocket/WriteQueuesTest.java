package dev.parley.transport.websocket;

import dev.parley.support.TestServer;
import dev.parley.transport.Internals;
import dev.parley.support.WsClient;
import io.vertx.core.Future;
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
    JsonObject cfg = new JsonObject().put("heartbeat", new JsonObject().put("intervalMs", 100).put("timeoutMs", 2000));
    TestServer.start(vertx, cfg, 1)
      .compose(port -> Future.all(WsClient.connect(vertx, port), WsClient.connect(vertx, port)))
      .compose(all -> {
        WsClient a = all.resultAt(0);
        WsClient b = all.resultAt(1);
        ctx.verify(() -> assertTrue(WriteQueues.swapped() - before >= 2, "both connections swapped"));
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
}
