package dev.parley.transport.bridge;

import dev.parley.core.CloseCode;
import dev.parley.core.Connection;
import dev.parley.core.Envelope;
import dev.parley.core.Hub;
import dev.parley.core.Session;
import dev.parley.transport.sockjs.SockJsOutbound;
import io.vertx.core.Context;
import io.vertx.ext.web.handler.sockjs.SockJSSocket;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.HashSet;
import java.util.Set;

/**
 * One event bus bridge socket as a hub session. Room events are written to it as bridge {@code rec}
 * frames on {@code parley.room.<room>}, only for rooms it both joined and registered; the frame is
 * encoded once per event for every bridge socket of the node.
 */
final class BridgeConnection implements Connection {

  private static final Logger LOG = LoggerFactory.getLogger(BridgeConnection.class);

  static final String ROOM_ADDRESS_PREFIX = "parley.room.";

  /** {@code {"type":"rec","address":"parley.room.<room>","body":<event>}}, built once per event. */
  private static final Envelope.Encoding<String> REC_FRAME = Envelope.Encoding.of(e ->
    "{\"type\":\"rec\",\"address\":\"" + ROOM_ADDRESS_PREFIX + e.room() + "\",\"body\":" + e.json() + "}");

  private final Hub hub;
  private final Context context;
  private final SockJSSocket socket;
  private final SockJsOutbound outbound;
  private final Set<String> registered = new HashSet<>();
  private final Session session;
  private boolean closing;

  BridgeConnection(Hub hub, Context context, SockJSSocket socket, int outboundQueueBytes) {
    this.hub = hub;
    this.context = context;
    this.socket = socket;
    this.outbound = new SockJsOutbound(socket, outboundQueueBytes);
    this.session = hub.open(this);
  }

  Session session() {
    return session;
  }

  void registered(String room) {
    registered.add(room);
  }

  void unregistered(String room) {
    registered.remove(room);
  }

  @Override
  public void deliver(Envelope event) {
    if (closing || !registered.contains(event.room())) {
      return;
    }
    if (outbound.full()) {
      LOG.info("closing slow consumer: session={} transport=bridge hub={}", session.id(), hub.id());
      close(CloseCode.SLOW_CONSUMER, "outbound queue full");
      return;
    }
    outbound.write(event.encoded(REC_FRAME));
  }

  @Override
  public void close(CloseCode code, String reason) {
    if (!closing) {
      closing = true;
      socket.close(code.code(), reason);
      context.runOnContext(v -> hub.disconnect(session));
    }
  }

  void ended() {
    closing = true;
    hub.disconnect(session);
  }

  @Override
  public String transport() {
    return "bridge";
  }
}
