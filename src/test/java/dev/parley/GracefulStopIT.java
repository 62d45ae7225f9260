package dev.parley;

import dev.parley.support.JarProcess;
import dev.parley.support.SockJsWsClient;
import dev.parley.support.WsClient;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** SIGTERM on the packaged jar: every client is told 1001 the way its transport can say it. */
@ExtendWith(VertxExtension.class)
@Timeout(value = 60, timeUnit = TimeUnit.SECONDS)
class GracefulStopIT {

  private JarProcess node;

  @BeforeAll
  static void jar() {
    assertTrue(JarProcess.jarBuilt(), "integration tests run after `mvn package`");
  }

  @AfterEach
  void stop() {
    if (node != null) {
      node.close();
    }
  }

  @Test
  void sigtermTellsWebSocketAndSockJsClients1001(Vertx vertx, VertxTestContext ctx) throws IOException {
    node = JarProcess.start("sigterm", List.of("-conf", "conf/config.json"), Map.of());
    node.ready(vertx, 30_000)
      .compose(n -> Future.all(WsClient.connect(vertx, n.port()), SockJsWsClient.connect(vertx, n.port())))
      .compose(all -> {
        WsClient ws = all.resultAt(0);
        SockJsWsClient sockjs = all.resultAt(1);
        return ws.join("bye", "ws").compose(p -> sockjs.join("bye", "sockjs")).compose(p -> {
          node.terminate();
          return Future.all(ws.closed(),
            sockjs.expect(f -> "close".equals(f.getString("type")), "the SockJS close notice", 15_000)
              .compose(notice -> sockjs.closed().map(notice)));
        });
      })
      .compose(all -> node.exited(vertx).map(status -> {
        ctx.verify(() -> assertEquals(0, status, "exit status after a drain"));
        return all;
      }))
      .onComplete(ctx.succeeding(all -> ctx.verify(() -> {
        assertEquals(1001, (Integer) all.resultAt(0), "/ws close code");
        assertEquals(1001, ((io.vertx.core.json.JsonObject) all.resultAt(1)).getInteger("code"), "SockJS close notice");
        String log = node.logText();
        assertTrue(log.contains("connection opened: session=") && log.contains("transport=sockjs"), "a line per connection opened");
        assertTrue(log.contains("transport=ws address=127.0.0.1 user=null duration="), "a line per connection closed");
        assertTrue(log.contains("code=1001"), "with the close code");
        assertTrue(log.contains("stop requested: draining 2 connections"), "the drain is logged");
        ctx.completeNow();
      })));
  }

  private dev.parley.support.TestRedis redis;
  private JarProcess other;

  @AfterEach
  void stopOthers() throws IOException {
    if (other != null) {
      other.close();
    }
    if (redis != null) {
      redis.close();
    }
  }

  /**
   * SIGTERM on a node holding 1000 connections (100 rooms of 10): it turns not ready at once, closes every
   * connection with 1001 spread over the drain window (not all at once), a member of every room on another
   * node hears each of the 1000 leave and every message the draining node accepted meanwhile (its broker link
   * stays up until the drain is over), and the process exits with 0 within the window.
   */
  @Test
  void sigtermDrainsAThousandConnectionsOverTheWindow(Vertx vertx, VertxTestContext ctx) throws IOException {
    int rooms = 100;
    int perRoom = 10;
    long window = 3_000;
    redis = dev.parley.support.TestRedis.start();
    String conf = new io.vertx.core.json.JsonObject()
      .put("broker", new io.vertx.core.json.JsonObject().put("type", "redis").put("redisUri", redis.uri()))
      .put("http", new io.vertx.core.json.JsonObject().put("maxConnectionsPerAddress", 0))
      .put("limits", new io.vertx.core.json.JsonObject().put("maxRoomsPerConnection", rooms).put("ratePerSecond", 10_000)
        .put("rateBurst", 10_000))
      .put("drain", new io.vertx.core.json.JsonObject().put("windowMs", window)).encode();
    node = JarProcess.start("drained", List.of("-conf", conf), Map.of());
    other = JarProcess.start("watching", List.of("-conf", conf), Map.of());
    List<WsClient> clients = new java.util.ArrayList<>();
    java.util.Set<String> leftSessions = java.util.concurrent.ConcurrentHashMap.newKeySet();
    java.util.Map<WsClient, Long> closedAt = new java.util.concurrent.ConcurrentHashMap<>();
    long[] terminatedAt = new long[1];
    List<String> accepted = new java.util.concurrent.CopyOnWriteArrayList<>();
    Future.all(node.ready(vertx, 30_000), other.ready(vertx, 30_000))
      .compose(v -> WsClient.connect(vertx, other.port()))
      .compose(watcher -> {
        Future<Void> joined = Future.succeededFuture();
        for (int r = 0; r < rooms; r++) {
          String room = "drain-" + r;
          joined = joined.compose(x -> watcher.join(room, "watcher").mapEmpty());
        }
        return joined.compose(x -> {
          // 1000 clients on the drained node, 50 at a time
          Future<Void> chain = Future.succeededFuture();
          for (int batch = 0; batch < rooms * perRoom / 50; batch++) {
            int first = batch * 50;
            chain = chain.compose(y -> {
              List<Future<WsClient>> connecting = new java.util.ArrayList<>();
              for (int i = first; i < first + 50; i++) {
                String room = "drain-" + (i % rooms);
                String name = "c" + i;
                connecting.add(WsClient.connect(vertx, node.port()).compose(c -> c.join(room, name).map(c)));
              }
              return Future.all(connecting).map(all -> {
                for (int i = 0; i < all.size(); i++) {
                  WsClient c = all.resultAt(i);
                  clients.add(c);
                  c.closed().onSuccess(code -> closedAt.put(c, System.nanoTime()));
                }
                return null;
              });
            });
          }
          return chain;
        }).compose(y -> {
          // the watcher counts the leaves from now on (the joins it heard are already in its inbox)
          Future<Void> lefts = collectLefts(watcher, rooms * perRoom, leftSessions);
          terminatedAt[0] = System.nanoTime();
          node.terminate();
          // one member of the draining node goes on publishing until it is closed
          Future<Void> published = publishUntilClosed(vertx, clients.get(0), "drain-0", 0, accepted)
            .compose(v -> Future.all(accepted.stream().map(text -> watcher.expect(
              f -> "message".equals(f.getString("type")) && text.equals(f.getString("text")), text, 10_000)).toList()))
            .mapEmpty();
          return Future.all(Future.all(clients.stream().map(WsClient::closed).toList()), lefts, node.exited(vertx), published);
        });
      })
      .onComplete(ctx.succeeding(all -> ctx.verify(() -> {
        @SuppressWarnings("unchecked")
        List<Integer> codes = ((io.vertx.core.CompositeFuture) all.resultAt(0)).list();
        assertTrue(codes.stream().allMatch(code -> code == 1001), "every client told 1001: " + new java.util.TreeSet<>(codes));
        assertEquals(rooms * perRoom, leftSessions.size(), "every member announced left");
        assertEquals(0, (Integer) all.resultAt(2), "exit status");
        long first = closedAt.values().stream().min(Long::compare).orElseThrow();
        long last = closedAt.values().stream().max(Long::compare).orElseThrow();
        long spreadMs = (last - first) / 1_000_000;
        long tookMs = (last - terminatedAt[0]) / 1_000_000;
        assertTrue(spreadMs >= window / 2, "closes spread over the window, not at once: " + spreadMs + " ms");
        assertTrue(tookMs <= window + 3_000, "drained within the window: " + tookMs + " ms");
        assertTrue(accepted.size() >= 5, "messages accepted during the drain, all heard on the other node: " + accepted.size());
        ctx.completeNow();
      })));
  }

  /** Publishes every 50 ms until the server closes the client; {@code accepted} gets the acknowledged texts. */
  private static Future<Void> publishUntilClosed(Vertx vertx, WsClient c, String room, int n, List<String> accepted) {
    if (c.closed().isComplete()) {
      return Future.succeededFuture();
    }
    String text = "during the drain " + n;
    io.vertx.core.Promise<Void> next = io.vertx.core.Promise.promise();
    c.publish(room, text).onComplete(ar -> {
      if (ar.succeeded() && "ack".equals(ar.result().getString("type"))) {
        accepted.add(text);
      }
      vertx.setTimer(50, t -> publishUntilClosed(vertx, c, room, n + 1, accepted).onComplete(next));
    });
    return Future.any(next.future(), c.closed()).mapEmpty();
  }

  /** Completes once {@code count} distinct sessions were announced left to {@code watcher}. */
  private static Future<Void> collectLefts(WsClient watcher, int count, java.util.Set<String> sessions) {
    return watcher.expect(f -> "left".equals(f.getString("type")), "a left", 20_000).compose(l -> {
      sessions.add(l.getString("session"));
      return sessions.size() >= count ? Future.succeededFuture() : collectLefts(watcher, count, sessions);
    });
  }
}
