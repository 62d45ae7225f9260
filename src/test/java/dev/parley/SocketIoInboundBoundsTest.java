package dev.parley;

import dev.parley.support.SioClient;
import dev.parley.support.TestServer;
import dev.parley.support.WsClient;
import dev.parley.transport.InboundMemory;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Socket.IO binary packets whose attachments never all arrive: memory held for them is bounded per
 * connection ({@code socketio.maxPayload}) and node-wide ({@code limits.inboundMemoryBytes}), the server
 * keeps answering {@code /health} and everyone else keeps chatting.
 */
@ExtendWith(VertxExtension.class)
@Timeout(value = 60, timeUnit = TimeUnit.SECONDS)
class SocketIoInboundBoundsTest {

  private static final int MAX_PAYLOAD = 100_000;
  private static final long NODE_BUDGET = 1_000_000;

  @AfterEach
  void stop(Vertx vertx, VertxTestContext ctx) {
    TestServer.stop(vertx).onComplete(ar -> ctx.completeNow());
  }

  @Test
  void unfinishedAttachmentsAreBoundedPerConnectionAndPerNode(Vertx vertx, VertxTestContext ctx) {
    int attackers = 30;
    JsonObject cfg = new JsonObject()
      .put("limits", new JsonObject().put("inboundMemoryBytes", NODE_BUDGET).put("maxUnfinishedMs", 30_000));
    AtomicLong peak = new AtomicLong();
    TestServer.start(vertx, cfg, 1).compose(port -> {
      InboundMemory inbound = ParleyNode.of(vertx).shared(InboundMemory.class,
        () -> InboundMemory.create(ParleyNode.of(vertx).config().limits()));
      List<SioClient> clients = new ArrayList<>();
      Future<Void> connecting = Future.succeededFuture();
      for (int i = 0; i < attackers; i++) {
        int n = i;
        connecting = connecting.compose(v -> SioClient.connect(vertx, port, SioClient.Mode.WEBSOCKET, 0)
          .recover(e -> Future.failedFuture(new AssertionError("connect " + n + ": " + e, e)))
          .map(c -> {
            clients.add(c);
            return null;
          }));
      }
      return connecting.compose(connected -> {
        // each announces 63 attachments of 30 KB (1.9 MB) and sends them as fast as it can, never finishing
        List<Future<Void>> closed = new ArrayList<>();
        for (int i = 0; i < attackers; i++) {
          SioClient c = clients.get(i);
          StringBuilder placeholders = new StringBuilder();
          for (int n = 0; n < 63; n++) {
            placeholders.append(",{\"_placeholder\":true,\"num\":").append(n).append('}');
          }
          c.send("4563-[\"upload\"" + placeholders + "]");
          for (int n = 0; n < 62; n++) {
            c.sendBinary(Buffer.buffer(new byte[30_000]));
          }
          closed.add(c.closed().mapEmpty());
        }
        // every attacker is cut off: none can hold more than maxPayload, and together not more than the budget
        return Future.all(closed).recover(e -> Future.failedFuture(new AssertionError("attack phase", e)));
      }).compose(v -> health(vertx, port).recover(e -> Future.failedFuture(new AssertionError("health", e)))).compose(status -> {
        ctx.verify(() -> assertEquals(200, status, "/health answers"));
        return Future.all(WsClient.connect(vertx, port), WsClient.connect(vertx, port));
      }).compose(pair -> {
        WsClient a = pair.resultAt(0);
        WsClient b = pair.resultAt(1);
        return a.join("after", "anna").compose(p -> b.join("after", "bob"))
          .compose(p -> a.publish("after", "still chatting"))
          .compose(ack -> b.expect(f -> "still chatting".equals(f.getString("text")), "the message"));
      }).map(v -> {
        peak.set(inbound.peak());
        return inbound;
      });
    }).onComplete(ctx.succeeding(inbound -> ctx.verify(() -> {
      assertTrue(peak.get() <= NODE_BUDGET, "held at most the node budget: peak " + peak.get());
      assertTrue(peak.get() > NODE_BUDGET / 2, "the attack filled the budget: peak " + peak.get());
      assertEquals(0, inbound.held(), "nothing is held once the attackers are gone");
      ctx.completeNow();
    })));
  }

  private static Future<Integer> health(Vertx vertx, int port) {
    // closed at the end, which also keeps it referenced (Vert.x closes a garbage-collected client)
    io.vertx.core.http.HttpClient http = vertx.createHttpClient();
    return http.request(HttpMethod.GET, port, "127.0.0.1", "/health")
      .compose(req -> req.send()).map(resp -> resp.statusCode())
      .eventually(http::close);
  }
}
