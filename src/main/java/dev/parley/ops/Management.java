package dev.parley.ops;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.ParleyNode;
import dev.parley.config.ParleyConfig.ManagementConfig;
import dev.parley.core.Identity;
import dev.parley.core.Json;
import dev.parley.core.Rules;
import dev.parley.http.WebRoutes;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServer;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import io.vertx.ext.web.handler.StaticHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.List;

/**
 * The management listener ({@code management.host}:{@code management.port}, apart from the public port):
 * {@code GET /metrics} (Prometheus), {@code /health} (the process is alive), {@code /ready} (200 when ready
 * for traffic, 503 otherwise), and the admin page {@code /admin/} with its API under {@code /admin/api/},
 * which needs {@code Authorization: Bearer <admin key>} (one of {@code management.adminKeys}) or a token
 * whose {@code management.adminClaim} claim is true.
 */
public final class Management {

  private static final Logger LOG = LoggerFactory.getLogger(Management.class);
  private static final String WHO = "parley.admin.who";

  private final ParleyNode node;
  private final Metrics metrics;
  private final Control control;
  private final ManagementConfig config;
  private final List<byte[]> keys;

  private Management(ParleyNode node, Metrics metrics, Control control) {
    this.node = node;
    this.metrics = metrics;
    this.control = control;
    this.config = node.config().management();
    this.keys = config.adminKeys().stream().map(k -> k.getBytes(StandardCharsets.UTF_8)).toList();
  }

  /** Starts the listener; completes with it (its actual port when {@code management.port} is 0). */
  public static Future<HttpServer> start(Vertx vertx, ParleyNode node, Metrics metrics, Control control) {
    Management m = new Management(node, metrics, control);
    Router router = Router.router(vertx);
    router.get("/metrics").handler(ctx -> ctx.response()
      .putHeader(HttpHeaders.CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")
      .end(metrics.scrape()));
    router.get("/health").handler(ctx -> json(ctx, 200, node.health()));
    router.get("/ready").handler(ctx -> json(ctx, node.ready() ? 200 : 503, node.readiness()));
    // Vert.x matches "/admin" with and without its trailing slash: only the bare one is sent on
    router.get("/admin").handler(ctx -> {
      if (ctx.request().path().equals("/admin")) {
        ctx.redirect("/admin/");
      } else {
        ctx.next();
      }
    });
    router.route("/admin/api/*").handler(m::authenticate);
    router.get("/admin/api/overview").handler(m::overview);
    router.post("/admin/api/*").handler(BodyHandler.create(false).setBodyLimit(16_384));
    router.post("/admin/api/disconnect").handler(ctx -> m.act(ctx, "disconnect"));
    router.post("/admin/api/close-room").handler(ctx -> m.act(ctx, "close-room"));
    router.post("/admin/api/notice").handler(ctx -> m.act(ctx, "notice"));
    router.route("/webjars/*").handler(WebRoutes::securityHeaders)
      .handler(StaticHandler.create("META-INF/resources/webjars").setCachingEnabled(true).setMaxAgeSeconds(86_400));
    router.route("/admin/*").handler(WebRoutes::securityHeaders)
      .handler(StaticHandler.create("admin").setIndexPage("index.html").setCachingEnabled(false));
    ManagementConfig config = node.config().management();
    return vertx.createHttpServer().requestHandler(router).listen(config.port(), config.host())
      .onSuccess(s -> LOG.info("management listening on http://{}:{}/ (metrics, health, ready, admin)", config.host(), s.actualPort()));
  }

  private static void json(RoutingContext ctx, int status, JsonObject body) {
    ctx.response().setStatusCode(status).putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
      .putHeader(HttpHeaders.CACHE_CONTROL, "no-store").end(body.encode());
  }

  private void authenticate(RoutingContext ctx) {
    String auth = ctx.request().getHeader(HttpHeaders.AUTHORIZATION);
    String given = auth != null && auth.regionMatches(true, 0, "Bearer ", 0, 7) ? auth.substring(7).trim() : null;
    if (given == null) {
      refuse(ctx, 401, "an admin key or token is required (Authorization: Bearer ...)");
      return;
    }
    byte[] bytes = given.getBytes(StandardCharsets.UTF_8);
    boolean key = false;
    for (byte[] k : keys) {
      key |= MessageDigest.isEqual(k, bytes);
    }
    if (key) {
      ctx.put(WHO, "admin key");
      ctx.next();
      return;
    }
    if (!node.access().acceptsTokens() || given.indexOf('.') < 0) {
      refuse(ctx, 401, keys.isEmpty() && !node.access().acceptsTokens()
        ? "no admin key is configured (management.adminKeys)" : "not an admin key");
      return;
    }
    ctx.request().pause();
    node.access().authenticator().verify(given).onComplete(ar -> {
      ctx.request().resume();
      if (ar.failed()) {
        refuse(ctx, 401, ar.cause().getMessage());
        return;
      }
      Identity id = ar.result();
      if (!Boolean.TRUE.equals(id.claims().get(config.adminClaim()))) {
        refuse(ctx, 403, "the token has no " + config.adminClaim() + " claim");
        return;
      }
      ctx.put(WHO, "user " + id.user());
      ctx.next();
    });
  }

  private static void refuse(RoutingContext ctx, int status, String message) {
    if (status == 401) {
      ctx.response().putHeader("WWW-Authenticate", "Bearer");
    }
    json(ctx, status, new JsonObject().put("error", status == 401 ? "unauthorized" : "access_denied").put("message", message));
  }

  private void overview(RoutingContext ctx) {
    ObjectNode body = Json.MAPPER.createObjectNode().put("node", node.id()).put("ts", System.currentTimeMillis());
    var nodes = body.putArray("nodes");
    control.nodes().forEach(n -> nodes.add(n.deepCopy().without("sentAt")));
    double rt = metrics.brokerRoundTripMs();
    if (!Double.isNaN(rt)) {
      body.put("brokerRoundTripMs", rt);
    }
    ctx.response().putHeader(HttpHeaders.CONTENT_TYPE, "application/json").putHeader(HttpHeaders.CACHE_CONTROL, "no-store")
      .end(body.toString());
  }

  /** An operator's action: checked here, then carried out by every node (see {@link Control#broadcast}). */
  private void act(RoutingContext ctx, String action) {
    JsonNode body;
    try {
      body = Json.parseTree(ctx.body().asString() == null ? "{}" : ctx.body().asString());
    } catch (RuntimeException e) {
      json(ctx, 400, new JsonObject().put("error", "bad_request").put("message", "body must be JSON"));
      return;
    }
    ObjectNode a = Json.MAPPER.createObjectNode().put("action", action).put("by", (String) ctx.get(WHO));
    String problem = switch (action) {
      case "disconnect" -> Rules.isSessionId(body.path("session").asText()) ? null : "session must be a session id";
      case "close-room" -> Rules.validRoom(body.path("room").asText()) ? null : "room must be a valid room name";
      default -> body.path("text").isTextual() && !body.get("text").asText().isBlank() && body.get("text").asText().length() <= 1000
        && (!body.hasNonNull("room") || Rules.validRoom(body.get("room").asText())) ? null
        : "text must be 1 to 1000 characters, room (optional) a valid room name";
    };
    if (problem != null) {
      json(ctx, 400, new JsonObject().put("error", "bad_request").put("message", problem));
      return;
    }
    for (String field : List.of("session", "room", "text")) {
      if (body.hasNonNull(field)) {
        a.put(field, body.get(field).asText());
      }
    }
    control.broadcast(a);
    json(ctx, 202, new JsonObject().put("accepted", action));
  }
}
