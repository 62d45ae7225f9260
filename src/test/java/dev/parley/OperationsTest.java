package dev.parley;

import dev.parley.support.NativeChatClient;
import dev.parley.support.Polling;
import dev.parley.support.TestRedis;
import dev.parley.support.TestServer;
import dev.parley.support.Tokens;
import dev.parley.support.WsClient;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
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
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The management listener with a real server and real clients: Prometheus metrics that count a real chat,
 * readiness that follows the broker, and the admin API (who may use it, and that its actions act).
 */
@ExtendWith(VertxExtension.class)
@Timeout(value = 60, timeUnit = TimeUnit.SECONDS)
class OperationsTest {

  private static final String ADMIN_KEY = "admin-key-for-the-tests-0123";

  @AfterEach
  void stop(Vertx vertx, VertxTestContext ctx) {
    TestServer.stop(vertx).onComplete(ar -> ctx.completeNow());
  }

  private static int management(Vertx vertx) {
    return ParleyNode.of(vertx).managementPort();
  }

  private static Future<String> get(HttpClient http, int port, String path) {
    return http.request(HttpMethod.GET, port, "127.0.0.1", path).compose(r -> r.send()).compose(r -> r.body()).map(Buffer::toString);
  }

  /** The value of one sample of the exposition ({@code name{labels} value}), 0 when absent. */
  static double sample(String exposition, String series) {
    Matcher m = Pattern.compile("^" + Pattern.quote(series) + " (\\S+)$", Pattern.MULTILINE).matcher(exposition);
    return m.find() ? Double.parseDouble(m.group(1)) : 0;
  }

  @Test
  void metricsCountARealChat(Vertx vertx, VertxTestContext ctx) {
    HttpClient http = vertx.createHttpClient();
    TestServer.start(vertx, new JsonObject(), 1).compose(port ->
      Future.all(WsClient.connect(vertx, port), WsClient.connect(vertx, port), WsClient.connect(vertx, port)).compose(all -> {
        NativeChatClient a = new NativeChatClient(all.resultAt(0));
        NativeChatClient b = new NativeChatClient(all.resultAt(1));
        NativeChatClient c = new NativeChatClient(all.resultAt(2));
        return get(http, management(vertx), "/metrics").compose(before -> a.join("m", "a").compose(p -> b.join("m", "b"))
          .compose(p -> c.join("m", "c"))
          .compose(p -> {
            List<Future<String>> sent = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
              sent.add(a.publish("m", "text " + i));
            }
            return Future.all(sent);
          })
          .compose(v -> c.event("message", m -> "text 9".equals(m.getString("text")), "the last message"))
          .compose(v -> c.publish("not-joined", "refused").otherwise("refused"))
          .compose(v -> {
            c.close();
            return c.closed();
          })
          .compose(v -> Polling.until(vertx, () -> get(http, management(vertx), "/metrics"),
            m -> sample(m, "parley_connections{transport=\"ws\"}") == 2, "c's close counted"))
          .compose(v -> get(http, management(vertx), "/metrics"))
          .map(after -> {
            ctx.verify(() -> {
              assertEquals(3, sample(after, "parley_joins_total") - sample(before, "parley_joins_total"), "three joins");
              assertEquals(10, sample(after, "parley_publishes_total") - sample(before, "parley_publishes_total"));
              // ten messages to three members, plus the joined events (b to a; c to a and b): at least 30
              double delivered = sample(after, "parley_deliveries_total") - sample(before, "parley_deliveries_total");
              assertTrue(delivered >= 30 && delivered <= 40, "deliveries: " + delivered);
              assertEquals(1, sample(after, "parley_refusals_total{code=\"not_joined\"}"));
              assertEquals(1, sample(after, "parley_closes_total{code=\"client\",reason=\"client\",transport=\"ws\"}"));
              assertEquals(1, sample(after, "parley_leaves_total"), "c left when it closed");
              assertEquals(2, sample(after, "parley_members"));
              assertEquals(1, sample(after, "parley_ready"));
              assertTrue(after.contains("jvm_memory_used_bytes"), "JVM metrics are there");
              assertTrue(after.contains("parley_event_loop_lag_seconds{hub="), "event loop lag");
              assertTrue(after.contains("parley_engineio_sessions{transport=\"websocket\"} 0.0"), "Engine.IO sessions");
              assertTrue(after.contains("parley_history_operations_seconds_count{op=\"append\",outcome=\"ok\"}"), "history ops");
            });
            return null;
          }));
      })).onComplete(ctx.succeedingThenComplete());
  }

  /** /ready follows the broker: 503 while Redis is away, 200 again when it is back; /health stays 200. */
  @Test
  void readinessFollowsTheBroker(Vertx vertx, VertxTestContext ctx) throws Exception {
    TestRedis redis = TestRedis.start();
    HttpClient http = vertx.createHttpClient();
    JsonObject config = new JsonObject().put("broker", new JsonObject().put("type", "redis").put("redisUri", redis.uri())
      .put("nodeTimeoutMs", 600));
    TestServer.start(vertx, config, 1)
      .compose(port -> status(http, management(vertx), "/ready"))
      .compose(ready -> {
        ctx.verify(() -> assertEquals(200, ready));
        try {
          redis.stop();
        } catch (Exception e) {
          return Future.failedFuture(e);
        }
        return Polling.until(vertx, () -> status(http, management(vertx), "/ready"), s -> s == 503, "not ready without Redis");
      })
      .compose(v -> status(http, management(vertx), "/health"))
      .compose(health -> {
        ctx.verify(() -> assertEquals(200, health, "alive all the same"));
        try {
          redis.restart();
        } catch (Exception e) {
          return Future.failedFuture(e);
        }
        return Polling.until(vertx, () -> status(http, management(vertx), "/ready"), s -> s == 200, "ready again with Redis",
          15_000);
      })
      .eventually(() -> {
        try {
          redis.close();
        } catch (Exception ignored) {
          // the test's result stands
        }
        return Future.succeededFuture();
      })
      .onComplete(ctx.succeedingThenComplete());
  }

  private static Future<Integer> status(HttpClient http, int port, String path) {
    return http.request(HttpMethod.GET, port, "127.0.0.1", path).compose(r -> r.send()).map(r -> r.statusCode());
  }

  private static Future<io.vertx.core.http.HttpClientResponse> admin(HttpClient http, int port, String key, String action, JsonObject body) {
    return http.request(HttpMethod.POST, port, "127.0.0.1", "/admin/api/" + action).compose(r -> {
      if (key != null) {
        r.putHeader("Authorization", "Bearer " + key);
      }
      return r.putHeader("Content-Type", "application/json").send(body.encode());
    });
  }

  /**
   * The admin API takes an admin key or a token with the admin claim, nothing else; its actions act: a notice
   * reaches the room, closing a room makes its members leave, a session is disconnected (4003).
   */
  @Test
  void theAdminApiIsProtectedAndItsActionsAct(Vertx vertx, VertxTestContext ctx) {
    HttpClient http = vertx.createHttpClient();
    JsonObject config = new JsonObject().put("management", new JsonObject().put("adminKeys", new JsonArray().add(ADMIN_KEY)))
      .put("auth", Tokens.auth("mixed")).put("rooms", new JsonArray().add(new JsonObject().put("match", "*").put("join", "anyone")));
    TestServer.start(vertx, config, 1).compose(port ->
      Future.all(WsClient.connect(vertx, port), WsClient.connect(vertx, port)).compose(all -> {
        WsClient a = all.resultAt(0);
        WsClient b = all.resultAt(1);
        int mgmt = management(vertx);
        String adminToken = Tokens.with(vertx, "ops", new JsonObject().put("admin", true), 600);
        String userToken = Tokens.with(vertx, "someone", new JsonObject(), 600);
        return a.join("ops", "a").compose(p -> b.join("ops", "b"))
          .compose(p -> admin(http, mgmt, null, "notice", new JsonObject().put("text", "x")))
          .compose(r -> {
            ctx.verify(() -> assertEquals(401, r.statusCode(), "no key"));
            return admin(http, mgmt, "not-the-key-0123456789", "notice", new JsonObject().put("text", "x"));
          })
          .compose(r -> {
            ctx.verify(() -> assertEquals(401, r.statusCode(), "a wrong key"));
            return admin(http, mgmt, userToken, "notice", new JsonObject().put("text", "x"));
          })
          .compose(r -> {
            ctx.verify(() -> assertEquals(403, r.statusCode(), "a token without the admin claim"));
            return admin(http, mgmt, ADMIN_KEY, "notice", new JsonObject().put("text", "maintenance at 5").put("room", "ops"));
          })
          .compose(r -> {
            ctx.verify(() -> assertEquals(202, r.statusCode()));
            return b.expect(f -> "event".equals(f.getString("type")) && "notice".equals(f.getString("event")), "the notice");
          })
          .compose(notice -> {
            ctx.verify(() -> assertEquals("maintenance at 5", notice.getJsonArray("args").getJsonObject(0).getString("text")));
            return admin(http, mgmt, adminToken, "close-room", new JsonObject().put("room", "ops"));
          })
          .compose(r -> {
            ctx.verify(() -> assertEquals(202, r.statusCode(), "a token with the admin claim"));
            return a.expect(f -> "left".equals(f.getString("type")) && "b".equals(f.getString("name")), "b made to leave")
              .recover(err -> b.expect(f -> "left".equals(f.getString("type")), "a made to leave"));
          })
          .compose(left -> admin(http, mgmt, ADMIN_KEY, "disconnect", new JsonObject().put("session", b.session())))
          .compose(r -> b.closed())
          .compose(code -> {
            ctx.verify(() -> assertEquals(4003, code, "disconnected by an operator"));
            return admin(http, mgmt, ADMIN_KEY, "close-room", new JsonObject().put("room", "not a room!"));
          })
          .compose(r -> {
            ctx.verify(() -> assertEquals(400, r.statusCode()));
            return http.request(HttpMethod.GET, mgmt, "127.0.0.1", "/admin/api/overview")
              .compose(req -> req.putHeader("Authorization", "Bearer " + ADMIN_KEY).send()).compose(resp -> resp.body());
          })
          .map(body -> {
            JsonObject overview = new JsonObject(body.toString());
            ctx.verify(() -> {
              assertEquals(1, overview.getJsonArray("nodes").size(), overview.encode());
              assertEquals(ParleyNode.of(vertx).id(), overview.getJsonArray("nodes").getJsonObject(0).getString("node"));
            });
            return null;
          });
      })).onComplete(ctx.succeedingThenComplete());
  }
}
