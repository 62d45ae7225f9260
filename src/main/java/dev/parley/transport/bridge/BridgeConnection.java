package dev.parley.transport.bridge;

import dev.parley.core.CloseCode;
import dev.parley.core.Connection;
import dev.parley.core.Envelope;
import dev.parley.core.Hub;
import dev.parley.core.Session;
import dev.parley.core.Json;
import dev.parley.core.Outcome;
import dev.parley.transport.Outbound;
import dev.parley.transport.OutboundMemory;
import dev.parley.transport.sockjs.SockJsTransport;
import io.vertx.core.eventbus.Message;
import io.vertx.core.json.JsonObject;
import io.vertx.core.Context;
import io.vertx.ext.web.handler.sockjs.SockJSSocket;

import java.util.HashSet;
import java.util.Set;

/**
 * One event bus bridge socket as a hub session. Room events are written to it as bridge {@code rec}
 * frames on {@code parley.room.<room>}, only for rooms it both joined and registered; the frame is
 * encoded once per event for every bridge socket of the node.
 */
final class BridgeConnection implements Connection {

  static final String ROOM_ADDRESS_PREFIX = "parley.room.";

  /** {@code {"type":"rec","address":"parley.room.<room>","body":<event>}}, built once per event. */
  private static final Envelope.Encoding<String> REC_FRAME = Envelope.Encoding.of(e ->
    "{\"type\":\"rec\",\"address\":\"" + ROOM_ADDRESS_PREFIX + e.room() + "\",\"body\":" + e.json() + "}");

  private final Hub hub;
  private final Context context;
  private final SockJSSocket socket;
  private final Outbound outbound;
  private final Set<String> registered = new HashSet<>();
  private final Session session;
  private boolean closing;
  /** This socket's place in {@code http.maxConnections}. */
  dev.parley.ParleyNode.Ticket ticket;

  BridgeConnection(Hub hub, Context context, SockJSSocket socket, int outboundQueueBytes, OutboundMemory memory) {
    this.hub = hub;
    this.context = context;
    this.socket = socket;
    socket.setWriteQueueMaxSize(outboundQueueBytes);
    this.session = hub.open(this);
    this.outbound = new Outbound(context, outboundQueueBytes, memory, () -> SockJsTransport.backlog(socket, outboundQueueBytes),
      this::close, "session=" + session.id() + " transport=bridge");
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
    String frame = event.encoded(REC_FRAME);
    if (outbound.admit(frame.length())) {
      outbound.track(frame.length(), socket.write(frame));
    }
  }

  /**
   * Answers through the bridge's reply mechanism: {@code ref} is the event bus message the bridge made of
   * the client's {@code send}. Join answers the presence object, publish {@code {"id":...}}, leave
   * {@code {}}; a refusal is a failed reply whose code is {@link dev.parley.core.ErrorCode#number()} and
   * whose message is the error code.
   */
  @Override
  public void reply(Object ref, Outcome outcome) {
    if (!(ref instanceof Message<?> msg)) {
      return;
    }
    if (outcome instanceof Outcome.Joined joined) {
      msg.reply(new JsonObject(Json.encode(joined.presence())));
    } else if (outcome instanceof Outcome.Published published) {
      msg.reply(new JsonObject().put("id", published.message().id()));
    } else if (outcome instanceof Outcome.Failed failed) {
      msg.fail(failed.error().code().number(), failed.error().code().wire());
    } else {
      msg.reply(new JsonObject());
    }
  }

  @Override
  public void close(CloseCode code, String reason) {
    if (!closing) {
      closing = true;
      outbound.closing();
      socket.close(code.code(), reason);
      context.runOnContext(v -> hub.disconnect(session));
    }
  }

  void ended() {
    closing = true;
    outbound.closing();
    hub.disconnect(session);
  }

  @Override
  public String transport() {
    return "bridge";
  }
}
