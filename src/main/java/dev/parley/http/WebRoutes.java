package dev.parley.http;

import dev.parley.ParleyNode;
import dev.parley.core.Hub;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.StaticHandler;

/**
 * The plain HTTP side of a node: {@code GET /health} and {@code /ready} (also on the management listener), the chat page from {@code webroot/}, and the
 * browser libraries from WebJars under {@code /webjars/}. Pages get a strict Content-Security-Policy.
 */
public final class WebRoutes {

  /** Scripts, styles and connections only from this server; no inline script, no framing by others. */
  public static final String CONTENT_SECURITY_POLICY = String.join("; ",
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "frame-src 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    // SockJS's jsonp-polling transport sends by submitting a form to this server (into a hidden frame)
    "form-action 'self'",
    "object-src 'none'");

  private WebRoutes() {
  }

  public static void mount(Router router, ParleyNode node, Hub hub) {
    router.get("/health").handler(ctx -> ctx.response()
      .putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
      .putHeader(HttpHeaders.CACHE_CONTROL, "no-store")
      .end(node.health().put("hub", hub.id()).encode()));
    router.get("/ready").handler(ctx -> ctx.response()
      .setStatusCode(node.ready() ? 200 : 503)
      .putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
      .putHeader(HttpHeaders.CACHE_CONTROL, "no-store")
      .end(node.readiness().encode()));

    router.route("/webjars/*").handler(WebRoutes::securityHeaders)
      .handler(StaticHandler.create("META-INF/resources/webjars").setCachingEnabled(true).setMaxAgeSeconds(86_400));
    // The page's files are not versioned by name: browsers must revalidate them after every deploy.
    router.route("/*").handler(WebRoutes::securityHeaders)
      .handler(ctx -> {
        ctx.response().putHeader(HttpHeaders.CACHE_CONTROL, "no-cache");
        ctx.next();
      })
      .handler(StaticHandler.create("webroot").setIndexPage("index.html").setCachingEnabled(false));
  }

  /** The headers every page gets (the admin page too). */
  public static void securityHeaders(RoutingContext ctx) {
    ctx.response().headers()
      .set("Content-Security-Policy", CONTENT_SECURITY_POLICY)
      .set("X-Content-Type-Options", "nosniff")
      .set("X-Frame-Options", "DENY")
      .set("Referrer-Policy", "no-referrer")
      .set("Cross-Origin-Opener-Policy", "same-origin")
      .set("Permissions-Policy", "camera=(), microphone=(), geolocation=()");
    ctx.next();
  }
}
