package dev.parley;

import dev.parley.support.TestServer;
import dev.parley.support.WsClient;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetSocket;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code http.idleTimeoutMs}: slowloris and silent connections are closed, keep-alive connections that go
 * quiet too; long-polls, streams and WebSockets that wait longer than that are not touched.
 */
@ExtendWith(VertxExtension.class)
@Timeout(value = 30, timeUnit = TimeUnit.SECONDS)
class HttpTimeoutsTest {

  private static final long IDLE_MS = 400;

  @AfterEach
  void stop(Vertx vertx, VertxTestContext ctx) {
    TestServer.stop(vertx).onComplete(ar -> ctx.completeNow());
  }

  private static Future<Integer> start(Vertx vertx) {
    return TestServer.start(vertx, new JsonObject()
      .put("http", new JsonObject().put("idleTimeoutMs", IDLE_MS))
      .put("socketio", new JsonObject().put("pingIntervalMs", 3 * IDLE_MS).put("pingTimeoutMs", 10_000)), 1);
  }

  /** A raw TCP connection; completes with how long after {@code started} the server closed it. */
  private static Future<Long> closedAfter(NetSocket socket, long started) {
    Promise<Long> closed = Promise.promise();
    socket.handler(data -> {
    });
    socket.closeHandler(v -> closed.tryComplete((System.nanoTime() - started) / 1_000_000));
    return closed.future();
  }

  @Test
  void aSilentConnectionIsClosed(Vertx vertx, VertxTestContext ctx) {
    start(vertx).compose(port -> vertx.createNetClient().connect(port, "127.0.0.1"))
      .compose(socket -> closedAfter(socket, System.nanoTime()))
      .onComplete(ctx.succeeding(ms -> ctx.verify(() -> {
        assertTrue(ms >= IDLE_MS / 2 && ms < IDLE_MS + 2_000, "closed after " + ms + " ms");
        ctx.completeNow();
      })));
  }

  @Test
  void slowlorisHeadersAreCutOff(Vertx vertx, VertxTestContext ctx) {
    start(vertx).compose(port -> vertx.createNetClient().connect(port, "127.0.0.1").compose(socket -> {
        long started = System.nanoTime();
        Future<Long> closed = closedAfter(socket, started);
        socket.write("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        // one more header line every 100 ms, never the blank line that ends the head
        long trickle = vertx.setPeriodic(100, t -> socket.write("X-Slow: yes\r\n"));
        return closed.eventually(() -> {
          vertx.cancelTimer(trickle);
          return Future.succeededFuture();
        });
      }))
      .onComplete(ctx.succeeding(ms -> ctx.verify(() -> {
        assertTrue(ms < IDLE_MS + 2_000, "closed after " + ms + " ms");
        ctx.completeNow();
      })));
  }

  @Test
  void aKeepAliveConnectionThatGoesQuietIsClosedAfterItsAnswer(Vertx vertx, VertxTestContext ctx) {
    start(vertx).compose(port -> vertx.createNetClient().connect(port, "127.0.0.1").compose(socket -> {
        Buffer got = Buffer.buffer();
        Promise<Void> answered = Promise.promise();
        Promise<Long> closed = Promise.promise();
        long[] answeredAt = {0};
        socket.handler(data -> {
          got.appendBuffer(data);
          if (got.toString().contains("\"UP\"") && answeredAt[0] == 0) {
            answeredAt[0] = System.nanoTime();
            answered.tryComplete();
          }
        });
        socket.closeHandler(v -> closed.tryComplete((System.nanoTime() - answeredAt[0]) / 1_000_000));
        socket.write("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        return answered.future().compose(v -> closed.future());
      }))
      .onComplete(ctx.succeeding(ms -> ctx.verify(() -> {
        assertTrue(ms >= IDLE_MS / 2 && ms < IDLE_MS + 2_000, "closed " + ms + " ms after the answer");
        ctx.completeNow();
      })));
  }

  @Test
  void aLongPollThatWaitsLongerIsAnsweredNotCut(Vertx vertx, VertxTestContext ctx) {
    // Engine.IO holds a polling GET until its next ping, three idle timeouts later
    start(vertx).compose(port -> {
      HttpClient http = vertx.createHttpClient();
      return http.request(HttpMethod.GET, port, "127.0.0.1", "/socket.io/?EIO=4&transport=polling")
        .compose(req -> req.send()).compose(resp -> resp.body())
        .compose(open -> {
          String sid = new JsonObject(open.toString().substring(1)).getString("sid");
          long started = System.nanoTime();
          return http.request(HttpMethod.GET, port, "127.0.0.1", "/socket.io/?EIO=4&transport=polling&sid=" + sid)
            .compose(req -> req.send()).compose(resp -> resp.body().map(body -> {
              long ms = (System.nanoTime() - started) / 1_000_000;
              ctx.verify(() -> {
                assertEquals(200, resp.statusCode());
                assertEquals("2", body.toString(), "the ping the poll waited for");
                assertTrue(ms > IDLE_MS, "the poll was held " + ms + " ms, longer than the idle timeout");
              });
              return null;
            }));
        })
        .eventually(http::close);
    }).onComplete(ctx.succeedingThenComplete());
  }

  @Test
  void aQuietWebSocketIsLeftToItsHeartbeat(Vertx vertx, VertxTestContext ctx) {
    start(vertx).compose(port -> Future.all(WsClient.connect(vertx, port), WsClient.connect(vertx, port)))
      .compose(all -> {
        WsClient a = all.resultAt(0);
        WsClient b = all.resultAt(1);
        return a.join("quiet", "a").compose(p -> b.join("quiet", "b")).compose(p -> {
          // both stay silent for three idle timeouts (the test heartbeat is 10 s away), then talk
          Promise<Void> later = Promise.promise();
          vertx.setTimer(3 * IDLE_MS, t -> later.complete());
          return later.future();
        }).compose(v -> a.publish("quiet", "still here")).compose(ack -> b.expect("message", "quiet"));
      })
      .onComplete(ctx.succeedingThenComplete());
  }

  @Test
  void cleartextHttp2IsOffUnlessConfigured(Vertx vertx, VertxTestContext ctx) {
    start(vertx).compose(port -> vertx.createNetClient().connect(port, "127.0.0.1").compose(socket -> {
        Buffer got = Buffer.buffer();
        Promise<Buffer> answer = Promise.promise();
        socket.handler(data -> {
          got.appendBuffer(data);
          answer.tryComplete(got);
        });
        socket.closeHandler(v -> answer.tryComplete(got));
        // the HTTP/2 connection preface, as a client with prior knowledge sends it
        socket.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
        return answer.future();
      }))
      .onComplete(ctx.succeeding(bytes -> ctx.verify(() -> {
        // an HTTP/2 server would answer with a SETTINGS frame (type 4 in the frame's fourth byte)
        assertTrue(bytes.length() < 4 || bytes.getByte(3) != 4 || bytes.toString().startsWith("HTTP/1"),
          "answered as HTTP/2: " + bytes);
        ctx.completeNow();
      })));
  }
}
