package dev.parley.transport.socketio;

import com.fasterxml.jackson.databind.node.ArrayNode;
import dev.parley.core.CloseCode;
import dev.parley.core.Connection;
import dev.parley.core.Envelope;
import dev.parley.core.Hub;
import dev.parley.core.Json;
import dev.parley.core.Outcome;
import dev.parley.core.Session;
import io.vertx.core.buffer.Buffer;

import java.util.List;
import java.util.function.BiFunction;

/**
 * One Socket.IO socket: a namespace of one Engine.IO connection, and a hub session. Its id (the
 * {@code sid} of the CONNECT reply) is the hub session id, so emitters reach it with {@code to(id)}.
 * Room events are turned into Socket.IO packets by its {@link #renderer}, which the namespace's
 * handler picks (the chat's dialects); the packets are built once per event per node.
 */
public final class SioSocket implements Connection {

  private final SioConnection connection;
  private final String nsp;
  private final Hub hub;
  private final SioHandler handler;
  private Session session;
  private BiFunction<Envelope, SioSocket, List<String>> renderer = (e, s) -> List.of();
  private Object state;
  private boolean closing;
  /** Set when connection state recovery is on: the private id, and where each room's messages got to. */
  private String pid;
  private final java.util.Map<String, dev.parley.core.StreamPosition> positions = new java.util.HashMap<>(4); // a few rooms: small table

  SioSocket(SioConnection connection, String nsp, Hub hub, SioHandler handler) {
    this.connection = connection;
    this.nsp = nsp;
    this.hub = hub;
    this.handler = handler;
  }

  void open() {
    session = hub.open(this);
  }

  public String id() {
    return session.id();
  }

  public String nsp() {
    return nsp;
  }

  public Session session() {
    return session;
  }

  public Hub hub() {
    return hub;
  }

  /** The Engine.IO connection's handshake {@code Authorization} header (null when none). */
  public String authorization() {
    return connection.engine().authorization();
  }

  /** Handler-owned state (the chat keeps the socket's dialect here). */
  @SuppressWarnings("unchecked")
  public <T> T state() {
    return (T) state;
  }

  public void state(Object state) {
    this.state = state;
  }

  /** How room events become packets for this socket (Socket.IO packet text, without the Engine.IO 4). */
  public void renderer(BiFunction<Envelope, SioSocket, List<String>> renderer) {
    this.renderer = renderer;
  }

  /** Emits an event with arguments (no binary). */
  public void emit(String event, ArrayNode args) {
    ArrayNode data = Json.MAPPER.createArrayNode().add(event).addAll(args);
    sendPacket(SioPacket.EVENT, null, data.toString(), List.of());
  }

  /** Emits an event whose arguments reference binary attachments by placeholder. */
  public void emit(String event, ArrayNode args, List<Buffer> attachments) {
    ArrayNode data = Json.MAPPER.createArrayNode().add(event).addAll(args);
    sendPacket(attachments.isEmpty() ? SioPacket.EVENT : SioPacket.BINARY_EVENT, null, data.toString(), attachments);
  }

  void sendPacket(int type, Long ackId, String json, List<Buffer> attachments) {
    if (closing) {
      return;
    }
    connection.engine().sendMessage(SioPacket.encode(type, nsp, ackId, json, attachments.size()));
    for (Buffer b : attachments) {
      connection.engine().sendBinary(b);
    }
  }

  /** Sends an already-encoded Socket.IO packet (text without the Engine.IO {@code 4}). */
  void sendEncoded(String packet) {
    if (!closing) {
      connection.engine().sendMessage(packet);
    }
  }

  /** The private id of connection state recovery (null when it is off). */
  public String pid() {
    return pid;
  }

  void pid(String pid) {
    this.pid = pid;
  }

  /** Where each room's messages got to on this socket (kept only with a pid). */
  java.util.Map<String, dev.parley.core.StreamPosition> positions() {
    return positions;
  }

  @Override
  public void deliver(Envelope event) {
    if (closing) {
      return;
    }
    if (pid != null && event.event() instanceof dev.parley.core.ChatEvent.Message m && m.offset() != null) {
      positions.put(m.room(), new dev.parley.core.StreamPosition(m.epoch(), m.offset()));
    } else if (pid != null && event.event() instanceof dev.parley.core.ChatEvent.Joined j && j.offset() != null
      && j.session().equals(id())) {
      positions.put(j.room(), new dev.parley.core.StreamPosition(j.epoch(), j.offset())); // where its join started
    }
    for (String packet : renderer.apply(event, this)) {
      connection.engine().sendMessage(packet);
    }
  }

  /** Answers a command of this socket's session in the namespace handler's vocabulary. */
  @Override
  public void reply(Object ref, Outcome outcome) {
    if (!closing) {
      handler.onReply(this, (SioAck) ref, outcome);
    }
  }

  /**
   * Server-side close: slow consumer, shutdown, emitter {@code disconnectSockets}. The client gets a
   * DISCONNECT for the namespace (so it does not reconnect), then the connection ends if it was the
   * last namespace.
   */
  @Override
  public void close(CloseCode code, String reason) {
    if (closing) {
      return;
    }
    session.closingWith(code);
    if (code == CloseCode.SLOW_CONSUMER) {
      closing = true;
      connection.engine().close("slow consumer");
      return;
    }
    if (code == CloseCode.UNAUTHORIZED || code == CloseCode.TOKEN_EXPIRED || code == CloseCode.TOO_MANY_CONNECTIONS) {
      // Socket.IO has no close codes: the reason goes first as an error event
      emit("error", Json.MAPPER.createArrayNode().add(Json.MAPPER.createObjectNode()
        .put("code", code.name().toLowerCase(java.util.Locale.ROOT)).put("close", code.code()).put("message", reason)));
    }
    sendPacket(SioPacket.DISCONNECT, null, null, List.of());
    closing = true;
    connection.serverDisconnect(this, reason);
  }

  boolean isClosing() {
    return closing;
  }

  void markClosing() {
    closing = true;
  }

  @Override
  public String address() {
    return connection.engine().address();
  }

  @Override
  public String transport() {
    return "socket.io";
  }
}
