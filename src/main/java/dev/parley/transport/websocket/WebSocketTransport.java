package dev.parley.transport.websocket;

import dev.parley.ParleyNode;
import dev.parley.core.CloseCode;
import dev.parley.core.Hub;
import dev.parley.transport.OutboundMemory;
import io.vertx.core.Context;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.ext.web.RoutingContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * The raw WebSocket endpoint {@code /ws}: upgrades requests, admits them against
 * {@code http.maxConnections}, and runs the heartbeat of all its connections from one timer per event
 * loop (not one per connection): a ping after {@code heartbeat.intervalMs} of silence, a close with
 * {@link CloseCode#HEARTBEAT_TIMEOUT} when nothing at all arrived {@code heartbeat.timeoutMs} after it.
 */
public final class WebSocketTransport implements Handler<RoutingContext> {

  private static final Logger LOG = LoggerFactory.getLogger(WebSocketTransport.class);
  private static final Buffer PING = Buffer.buffer("parley");

  private final Vertx vertx;
  private final ParleyNode node;
  private final Hub hub;
  private final Set<WebSocketConnection> connections = new LinkedHashSet<>();
  private final FrameWriter writer = new FrameWriter();
  private final OutboundMemory memory;
  private final long intervalNanos;
  private final long timeoutNanos;
  private final long timer;

  public WebSocketTransport(Vertx vertx, ParleyNode node, Hub hub) {
    this.vertx = vertx;
    this.node = node;
    this.hub = hub;
    this.memory = node.shared(OutboundMemory.class, () -> OutboundMemory.create(node.config().limits()));
    this.intervalNanos = node.config().heartbeat().intervalMs() * 1_000_000;
    this.timeoutNanos = node.config().heartbeat().timeoutMs() * 1_000_000;
    long tick = Math.max(5, Math.min(node.config().heartbeat().intervalMs(), node.config().heartbeat().timeoutMs()) / 4);
    this.timer = vertx.setPeriodic(tick, id -> heartbeat());
  }

  @Override
  public void handle(RoutingContext ctx) {
    ParleyNode.Ticket ticket = node.admit(ctx.request().remoteAddress().hostAddress());
    if (ticket.refusal() != null) {
      boolean full = ticket.refusal() == ParleyNode.Refusal.SERVER_FULL;
      ctx.response().setStatusCode(full ? 503 : 429).putHeader("Retry-After", "5")
        .end(full ? "server full" : "too many connections from this address");
      return;
    }
    Context context = vertx.getOrCreateContext();
    ctx.request().toWebSocket().onComplete(ar -> {
      if (ar.failed()) {
        ticket.release();
        LOG.debug("WebSocket handshake failed", ar.cause());
        if (!ctx.response().ended()) {
          ctx.response().setStatusCode(400).end();
        }
        return;
      }
      String authorization = ctx.request().getHeader("Authorization"); // read before the socket lets go of it
      WriteQueues.afterUpgrade(ctx.request().connection(), WsChannels.unwrap(ar.result()));
      WebSocketConnection c = new WebSocketConnection(hub, node.config(), context, memory, ar.result(),
        authorization, System.nanoTime(), writer, ended -> {
          connections.remove(ended);
          ticket.release();
        });
      connections.add(c);
    });
  }

  private void heartbeat() {
    long now = System.nanoTime();
    for (WebSocketConnection c : new ArrayList<>(connections)) {
      if (c.pingSentAt != 0) {
        if (now - c.pingSentAt >= timeoutNanos) {
          c.close(CloseCode.HEARTBEAT_TIMEOUT, "heartbeat timeout");
        }
      } else if (now - c.lastSeen >= intervalNanos) {
        c.pingSentAt = now;
        c.ws.writePing(PING);
      }
    }
  }

  /** Stops the heartbeat timer and closes every connection (server shutdown). */
  public void stop() {
    vertx.cancelTimer(timer);
  }
}
