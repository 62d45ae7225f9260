package dev.parley.transport.socketio;

import dev.parley.transport.websocket.FrameWriter;
import dev.parley.transport.websocket.WriteQueues;
import dev.parley.transport.websocket.WsChannels;

import dev.parley.ParleyNode;
import dev.parley.relay.Relay;
import dev.parley.transport.OutboundMemory;
import io.vertx.core.Context;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;

import java.security.SecureRandom;
import java.util.Base64;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * An Engine.IO v4 endpoint ({@code EIO=4}): the handshake, routing of polling requests and WebSocket
 * upgrades to their {@link EngineSession}, and the protocol's HTTP errors ({@code {"code":N,"message":...}}:
 * 0 Transport unknown, 1 Session ID unknown, 2 Bad handshake method, 3 Bad request, 5 Unsupported protocol
 * version). Sessions are registered node-wide, so a polling request may reach any verticle instance of
 * the node. A session id starts with its node's id ({@code <node>.<random>}): a request for a session of
 * another node of the cluster (a load balancer without affinity) is served there through the {@link Relay}.
 */
public final class EngineServer implements Handler<RoutingContext> {

  private final FrameWriter writer = new FrameWriter();

  /** Session ids of every Engine.IO endpoint of a node, by endpoint path. */
  static final class Registry {
    final Map<String, EngineSession> sessions = new ConcurrentHashMap<>();
  }

  private static final SecureRandom RANDOM = new SecureRandom();

  private final Vertx vertx;
  private final ParleyNode node;
  private final String path;
  private final Map<String, EngineSession> sessions;
  private final Supplier<EngineListener> listeners;
  private final long pingIntervalMs;
  private final long pingTimeoutMs;
  private final int maxPayload;
  private final int maxQueueBytes;
  private final OutboundMemory memory;
  private final Relay relay;

  public EngineServer(Vertx vertx, ParleyNode node, String path, long pingIntervalMs, long pingTimeoutMs, int maxPayload,
                      int maxQueueBytes, Supplier<EngineListener> listeners) {
    this.vertx = vertx;
    this.node = node;
    this.path = path;
    this.sessions = node.shared(Registry.class, () -> {
      Registry r = new Registry();
      if (node.metrics() != null) {
        for (boolean ws : new boolean[]{false, true}) {
          node.metrics().gauge("parley_engineio_sessions", "Engine.IO sessions (Socket.IO connections), by transport",
            () -> r.sessions.values().stream().filter(x -> x.isWebSocket() == ws).count(), "transport", ws ? "websocket" : "polling");
        }
      }
      return r;
    }).sessions;
    this.listeners = listeners;
    this.pingIntervalMs = pingIntervalMs;
    this.pingTimeoutMs = pingTimeoutMs;
    this.maxPayload = maxPayload;
    this.maxQueueBytes = maxQueueBytes;
    this.memory = node.shared(OutboundMemory.class, () -> OutboundMemory.create(node.config().limits()));
    this.relay = Relay.of(vertx, node);
  }

  Relay relay() {
    return relay;
  }

  /**
   * Serves a request for a session this node does not hold on the session's node, when that is another
   * node of the cluster; false when it is not (the caller answers "Session ID unknown").
   */
  private boolean relayed(RoutingContext ctx, String sid, boolean webSocket) {
    if (!relay.enabled() || relay.relayed(ctx.request())) {
      return false;
    }
    int dot = sid.lastIndexOf('.');
    String owner = dot > 0 ? sid.substring(0, dot) : null;
    if (owner == null || owner.equals(relay.self())) {
      return false;
    }
    Handler<RoutingContext> unknown = c -> error(c, 400, 1, "Session ID unknown");
    if (webSocket) {
      relay.forwardWebSocket(ctx, owner, unknown);
    } else {
      relay.forward(ctx, owner, unknown);
    }
    return true;
  }

  long pingIntervalMs() {
    return pingIntervalMs;
  }

  long pingTimeoutMs() {
    return pingTimeoutMs;
  }

  int maxPayload() {
    return maxPayload;
  }

  int maxQueueBytes() {
    return maxQueueBytes;
  }

  OutboundMemory memory() {
    return memory;
  }

  @Override
  public void handle(RoutingContext ctx) {
    HttpServerRequest req = ctx.request();
    // read straight from the query: req.getParam would build a parameter map that a WebSocket's request
    // keeps for the connection's life (about 400 bytes per client)
    String query = req.query();
    String eio = param(query, "EIO");
    String transport = param(query, "transport");
    String sid = param(query, "sid");
    boolean upgrade = "websocket".equalsIgnoreCase(req.getHeader(HttpHeaders.UPGRADE));
    if (!"4".equals(eio)) {
      error(ctx, 400, 5, "Unsupported protocol version");
      return;
    }
    if (!"polling".equals(transport) && !"websocket".equals(transport)) {
      error(ctx, 400, 0, "Transport unknown");
      return;
    }
    if (upgrade) {
      if (!"websocket".equals(transport)) {
        error(ctx, 400, 3, "Bad request");
      } else if (sid == null) {
        openWebSocket(ctx);
      } else {
        EngineSession session = sessions.get(sid);
        if (session == null) {
          if (!relayed(ctx, sid, true)) {
            error(ctx, 400, 1, "Session ID unknown");
          }
          return;
        }
        int order = session.upgradeRequested();
        req.toWebSocket().onComplete(ar -> {
          if (ar.failed()) {
            session.upgradeFailed(order);
            return;
          }
          session.attachUpgrade(ar.result(), order);
        });
      }
      return;
    }
    if ("websocket".equals(transport)) {
      error(ctx, 400, 3, "Bad request");
      return;
    }
    cors(ctx);
    if (req.method() == HttpMethod.OPTIONS) {
      ctx.response().setStatusCode(204).end();
      return;
    }
    if (sid == null) {
      if (req.method() != HttpMethod.GET) {
        error(ctx, 400, 2, "Bad handshake method");
        return;
      }
      openPolling(ctx);
      return;
    }
    EngineSession session = sessions.get(sid);
    if (session == null) {
      if (!relayed(ctx, sid, false)) {
        error(ctx, 400, 1, "Session ID unknown");
      }
    } else if (req.method() == HttpMethod.GET) {
      session.onInput(() -> session.onGet(ctx));
    } else if (req.method() == HttpMethod.POST) {
      String body = ctx.body().asString();
      session.onInput(() -> session.onPost(ctx, body == null ? "" : body));
    } else {
      error(ctx, 400, 3, "Bad request");
    }
  }

  private void openPolling(RoutingContext ctx) {
    ParleyNode.Ticket ticket = admit(ctx);
    if (ticket == null) {
      return;
    }
    EngineSession session = create(ticket);
    session.authorization(ctx.request().getHeader("Authorization"));
    session.address(ctx.request().remoteAddress() == null ? null : ctx.request().remoteAddress().hostAddress());
    answer(ctx, 200, "text/plain; charset=UTF-8", "0" + handshake(session.id(), true));
    session.started();
    session.expectRequestWithin(pingTimeoutMs);
  }

  private void openWebSocket(RoutingContext ctx) {
    ParleyNode.Ticket ticket = admit(ctx);
    if (ticket == null) {
      return;
    }
    ctx.request().toWebSocket().onComplete(ar -> {
      if (ar.failed()) {
        ticket.release();
        return;
      }
      EngineSession session = create(ticket);
      session.authorization(ctx.request().getHeader("Authorization"));
      session.address(ctx.request().remoteAddress() == null ? null : ctx.request().remoteAddress().hostAddress());
      // this client is written to only on this loop: Vert.x's direct queues; the upgrade request is let go of
      WriteQueues.afterUpgrade(ctx.request().connection(), WsChannels.unwrap(ar.result()));
      // handlers first: the client answers the open packet at once
      session.attachWebSocket(ar.result());
      ar.result().writeTextMessage("0" + handshake(session.id(), false));
      session.started();
    });
  }

  /** Admits a new session (the node's bounds), or answers the refusal and returns null. */
  private ParleyNode.Ticket admit(RoutingContext ctx) {
    ParleyNode.Ticket ticket = node.admit(ctx.request().remoteAddress().hostAddress());
    if (ticket.refusal() == ParleyNode.Refusal.SERVER_FULL) {
      error(ctx, 503, 3, "Server full");
      return null;
    }
    if (ticket.refusal() == ParleyNode.Refusal.ADDRESS_FULL) {
      error(ctx, 429, 3, "Too many connections from this address");
      return null;
    }
    return ticket;
  }

  private EngineSession create(ParleyNode.Ticket ticket) {
    byte[] bytes = new byte[15];
    RANDOM.nextBytes(bytes);
    String sid = node.id() + "." + Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    Context context = vertx.getOrCreateContext();
    EngineSession session = new EngineSession(vertx, this, sid, context, listeners.get(), ticket);
    sessions.put(sid, session);
    return session;
  }

  private String handshake(String sid, boolean polling) {
    return new JsonObject()
      .put("sid", sid)
      .put("upgrades", polling ? new JsonArray().add("websocket") : new JsonArray())
      .put("pingInterval", pingIntervalMs)
      .put("pingTimeout", pingTimeoutMs)
      .put("maxPayload", maxPayload)
      .encode();
  }

  void forget(EngineSession session) {
    sessions.remove(session.id(), session);
    session.ticket().release();
  }

  /** Browsers poll cross-origin only from origins the origin guard let through: echo them. */
  private static void cors(RoutingContext ctx) {
    String origin = ctx.request().getHeader(HttpHeaders.ORIGIN);
    if (origin != null) {
      ctx.response().putHeader("Access-Control-Allow-Origin", origin)
        .putHeader("Access-Control-Allow-Credentials", "true")
        .putHeader("Vary", "Origin");
      if (ctx.request().method() == HttpMethod.OPTIONS) {
        ctx.response().putHeader("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
        String headers = ctx.request().getHeader("Access-Control-Request-Headers");
        if (headers != null) {
          ctx.response().putHeader("Access-Control-Allow-Headers", headers);
        }
      }
    }
  }

  void answer(RoutingContext ctx, int status, String contentType, String body) {
    if (!ctx.response().ended() && !ctx.response().closed()) {
      ctx.response().setStatusCode(status)
        .putHeader(HttpHeaders.CONTENT_TYPE, contentType)
        .putHeader(HttpHeaders.CACHE_CONTROL, "no-store")
        .end(body);
    }
  }

  void error(RoutingContext ctx, int status, int code, String message) {
    answer(ctx, status, "application/json", new JsonObject().put("code", code).put("message", message).encode());
  }

  /** The first value of {@code name} in a query string (percent-decoded), or null. */
  static String param(String query, String name) {
    if (query == null) {
      return null;
    }
    int at = 0;
    while (at <= query.length()) {
      int end = query.indexOf('&', at);
      if (end < 0) {
        end = query.length();
      }
      if (end - at > name.length() && query.startsWith(name, at) && query.charAt(at + name.length()) == '=') {
        String value = query.substring(at + name.length() + 1, end);
        return value.indexOf('%') < 0 && value.indexOf('+') < 0 ? value
          : io.netty.handler.codec.http.QueryStringDecoder.decodeComponent(value);
      }
      if (end - at == name.length() && query.startsWith(name, at)) {
        return "";
      }
      at = end + 1;
    }
    return null;
  }

  /** The fast write path of this server's WebSocket sessions (all on this server's event loop). */
  FrameWriter writer() {
    return writer;
  }

  public String path() {
    return path;
  }
}
