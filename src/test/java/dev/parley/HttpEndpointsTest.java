package dev.parley;

import dev.parley.support.TestServer;
import dev.parley.support.WsClient;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Health, the static page and its headers, browser libraries, and the origin check on every realtime endpoint. */
@ExtendWith(VertxExtension.class)
@Timeout(value = 30, timeUnit = TimeUnit.SECONDS)
class HttpEndpointsTest {

  private static Future<HttpClientResponse> get(HttpClient http, int port, String uri, String origin) {
    return http.request(HttpMethod.GET, port, "127.0.0.1", uri).compose(req -> {
      if (origin != null) {
        req.putHeader("Origin", origin);
      }
      return req.send();
    });
  }

  @Test
  void healthPageAndLibraries(Vertx vertx, VertxTestContext ctx) {
    HttpClient http = vertx.createHttpClient();
    TestServer.start(vertx).compose(port -> get(http, port, "/health", null)
        .compose(resp -> resp.body().map(body -> {
          assertEquals(200, resp.statusCode());
          JsonObject health = new JsonObject(body);
          assertEquals("UP", health.getString("status"));
          assertTrue(health.containsKey("node"));
          return null;
        }))
        .compose(v -> get(http, port, "/", null))
        .compose(resp -> resp.body().map(body -> {
          assertEquals(200, resp.statusCode());
          assertTrue(resp.getHeader("Content-Type").startsWith("text/html"));
          String csp = resp.getHeader("Content-Security-Policy");
          assertTrue(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), csp);
          assertEquals("nosniff", resp.getHeader("X-Content-Type-Options"));
          assertEquals("DENY", resp.getHeader("X-Frame-Options"));
          assertEquals("no-cache", resp.getHeader("Cache-Control"), "the page is revalidated after a deploy");
          assertTrue(body.toString().contains("Parley"));
          return null;
        }))
        .compose(v -> get(http, port, "/webjars/sockjs-client/1.6.1/dist/sockjs.min.js", null))
        .compose(resp -> resp.body().map(body -> {
          assertEquals(200, resp.statusCode(), "sockjs-client served from its WebJar");
          assertTrue(body.length() > 10_000);
          return null;
        }))
        .compose(v -> get(http, port, "/no-such-page", null))
        .map(resp -> {
          assertEquals(404, resp.statusCode());
          return null;
        }))
      .onComplete(ctx.succeedingThenComplete());
  }

  @Test
  void foreignOriginsAreRefusedOnEveryRealtimeEndpoint(Vertx vertx, VertxTestContext ctx) {
    HttpClient http = vertx.createHttpClient();
    TestServer.start(vertx).compose(port -> {
      WebSocketConnectOptions evil = new WebSocketConnectOptions().addHeader("Origin", "http://evil.example");
      return WsClient.connect(vertx, port, evil).transform(ar -> {
          assertTrue(ar.failed(), "ws from a foreign origin must fail");
          assertTrue(ar.cause().getMessage().contains("403"), ar.cause().getMessage());
          return get(http, port, "/sockjs/info", "http://evil.example");
        })
        .compose(resp -> {
          assertEquals(403, resp.statusCode(), "sockjs");
          return get(http, port, "/eventbus/info", "http://evil.example");
        })
        .compose(resp -> {
          assertEquals(403, resp.statusCode(), "bridge");
          // the page's own origin is fine
          return WsClient.connect(vertx, port, new WebSocketConnectOptions().addHeader("Origin", "http://127.0.0.1:" + port));
        })
        .compose(same -> get(http, port, "/sockjs/info", "http://127.0.0.1:" + port))
        .compose(resp -> {
          assertEquals(200, resp.statusCode());
          // "Origin: null" (a form posted by a page with no referrer, as SockJS's jsonp-polling does) passes only
          // when the browser says the request came from this server's own page
          return http.request(io.vertx.core.http.HttpMethod.GET, port, "127.0.0.1", "/sockjs/info")
            .compose(req -> req.putHeader("Origin", "null").send());
        })
        .compose(resp -> {
          assertEquals(403, resp.statusCode(), "Origin: null alone");
          return http.request(io.vertx.core.http.HttpMethod.GET, port, "127.0.0.1", "/sockjs/info")
            .compose(req -> req.putHeader("Origin", "null").putHeader("Sec-Fetch-Site", "cross-site").send());
        })
        .compose(resp -> {
          assertEquals(403, resp.statusCode(), "Origin: null from another site");
          return http.request(io.vertx.core.http.HttpMethod.GET, port, "127.0.0.1", "/sockjs/info")
            .compose(req -> req.putHeader("Origin", "null").putHeader("Sec-Fetch-Site", "same-origin").send());
        })
        .map(resp -> {
          assertEquals(200, resp.statusCode(), "Origin: null from this server's own page");
          return null;
        });
    }).onComplete(ctx.succeedingThenComplete());
  }

  @Test
  void publicOriginsStopDnsRebinding(Vertx vertx, VertxTestContext ctx) {
    // a page at attacker.example whose name now points at this server: Origin and Host agree
    WebSocketConnectOptions rebound = new WebSocketConnectOptions()
      .addHeader("Origin", "http://attacker.example:8080").addHeader("Host", "attacker.example:8080");
    TestServer.start(vertx).compose(port -> WsClient.connect(vertx, port, rebound))
      .compose(accepted -> TestServer.stop(vertx))
      .compose(v -> TestServer.start(vertx, new JsonObject().put("http",
        new JsonObject().put("publicOrigins", new JsonArray().add("http://chat.example:8080"))), 1))
      .compose(port -> WsClient.connect(vertx, port, rebound).transform(ar -> {
          ctx.verify(() -> assertTrue(ar.failed() && ar.cause().getMessage().contains("403"),
            "refused once the public origin is named: " + ar));
          return WsClient.connect(vertx, port, new WebSocketConnectOptions().addHeader("Origin", "http://chat.example:8080"));
        }))
      .onComplete(ctx.succeedingThenComplete());
  }

  @Test
  void allowedOriginsAreConfigurable(Vertx vertx, VertxTestContext ctx) {
    JsonObject cfg = new JsonObject().put("http", new JsonObject().put("allowedOrigins", new JsonArray().add("https://chat.example.com")));
    TestServer.start(vertx, cfg, 1).compose(port -> WsClient.connect(vertx, port,
        new WebSocketConnectOptions().addHeader("Origin", "https://chat.example.com"))
      .compose(ok -> WsClient.connect(vertx, port, new WebSocketConnectOptions().addHeader("Origin", "https://other.example.com"))
        .transform(ar -> {
          assertTrue(ar.failed());
          return Future.succeededFuture();
        })))
      .onComplete(ctx.succeedingThenComplete());
  }

  @Test
  void sockJsPostBodiesAreBounded(Vertx vertx, VertxTestContext ctx) {
    JsonObject cfg = new JsonObject().put("limits", new JsonObject().put("maxFrameBytes", 1024).put("maxTextLength", 512));
    HttpClient http = vertx.createHttpClient();
    TestServer.start(vertx, cfg, 1).compose(port -> http.request(HttpMethod.POST, port, "127.0.0.1", "/sockjs/000/abc/xhr")
        .compose(req -> req.send()).compose(HttpClientResponse::body)
        .compose(open -> http.request(HttpMethod.POST, port, "127.0.0.1", "/sockjs/000/abc/xhr_send"))
        // the body bound is (6 x maxFrameBytes + 1 KB) x 3 = 21 KB: JSON escaping, then URL encoding for jsonp_send
        .compose(req -> req.send(Buffer.buffer("[\"" + "q".repeat(30_000) + "\"]"))))
      .onComplete(ctx.succeeding(resp -> {
        ctx.verify(() -> assertEquals(413, resp.statusCode()));
        ctx.completeNow();
      }));
  }
}
