package dev.parley.transport.socketio;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import dev.parley.core.ChatException;
import dev.parley.core.Hub;
import dev.parley.core.Json;
import dev.parley.transport.InboundMemory;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * The Socket.IO v5 layer of one Engine.IO session: namespace CONNECT / DISCONNECT, events and acks,
 * binary attachments, the connect timeout. A malformed packet closes the connection, as the protocol
 * says. Each connected namespace is a {@link SioSocket}.
 */
final class SioConnection implements EngineListener {

  private static final Logger LOG = LoggerFactory.getLogger(SioConnection.class);

  private final Vertx vertx;
  private final Hub hub;
  private final Function<String, SioHandler> handlers;
  private final long connectTimeoutMs;
  private final int maxPacketBytes;
  private final long maxUnfinishedMs;
  private final InboundMemory inbound;
  private long pendingBytes;
  private long unfinishedTimer = -1;
  private final Map<String, SioSocket> sockets = new LinkedHashMap<>(2); // usually one namespace
  private EngineSession engine;
  private SioPacket pending;
  private final List<Buffer> pendingBuffers = new ArrayList<>();
  private long connectTimer = -1;
  private boolean everConnected;

  /** @param handlers the handler of each namespace, or null for an unknown namespace */
  /**
   * @param maxPacketBytes  bound on one packet with all its attachments ({@code socketio.maxPayload})
   * @param maxUnfinishedMs how long a packet may wait for its attachments ({@code limits.maxUnfinishedMs})
   * @param inbound         the node-wide bound on bytes held for unfinished packets
   */
  SioConnection(Vertx vertx, Hub hub, Function<String, SioHandler> handlers, long connectTimeoutMs,
                int maxPacketBytes, long maxUnfinishedMs, InboundMemory inbound) {
    this.vertx = vertx;
    this.hub = hub;
    this.handlers = handlers;
    this.connectTimeoutMs = connectTimeoutMs;
    this.maxPacketBytes = maxPacketBytes;
    this.maxUnfinishedMs = maxUnfinishedMs;
    this.inbound = inbound;
  }

  EngineSession engine() {
    return engine;
  }

  @Override
  public void onOpen(EngineSession session) {
    engine = session;
    connectTimer = vertx.setTimer(connectTimeoutMs, t -> session.onLoop(() -> {
      connectTimer = -1;
      if (sockets.isEmpty() && !session.isClosed()) {
        session.close("connect timeout");
      }
    }));
  }

  @Override
  public void onMessage(EngineSession session, String text) {
    if (pending != null) {
      session.close("parse error: text while waiting for binary attachments");
      return;
    }
    SioPacket packet;
    try {
      packet = SioPacket.decode(text);
    } catch (SioPacket.Malformed e) {
      LOG.debug("closing Socket.IO connection {}: {}", session.id(), e.getMessage());
      session.close("parse error");
      return;
    }
    if (packet.attachmentCount() > 0) {
      pending = packet;
      pendingBuffers.clear();
      if (!hold(session, text.length())) {
        return;
      }
      unfinishedTimer = vertx.setTimer(maxUnfinishedMs, t -> session.onLoop(() -> {
        unfinishedTimer = -1;
        if (pending != null && !session.isClosed()) {
          LOG.debug("closing Socket.IO connection {}: binary packet unfinished after {} ms", session.id(), maxUnfinishedMs);
          session.close("parse error: binary attachments did not arrive in time");
        }
      }));
      return;
    }
    dispatch(packet);
  }

  /** Bytes an attachment costs beyond its content (the buffer object and its list slot). */
  private static final int ATTACHMENT_OVERHEAD = 64;

  /**
   * Counts bytes held for the unfinished packet against its own bound ({@code socketio.maxPayload}) and
   * the node's; closes the connection and returns false when either would be passed.
   */
  private boolean hold(EngineSession session, long bytes) {
    if (pendingBytes + bytes > maxPacketBytes || !inbound.tryHold(bytes)) {
      LOG.debug("closing Socket.IO connection {}: binary packet over the size bounds", session.id());
      releasePending();
      session.close("payload too large");
      return false;
    }
    pendingBytes += bytes;
    return true;
  }

  private void releasePending() {
    pending = null;
    pendingBuffers.clear();
    inbound.release(pendingBytes);
    pendingBytes = 0;
    if (unfinishedTimer >= 0) {
      vertx.cancelTimer(unfinishedTimer);
      unfinishedTimer = -1;
    }
  }

  @Override
  public void onBinary(EngineSession session, Buffer data) {
    if (pending == null) {
      session.close("parse error: unexpected binary message");
      return;
    }
    if (!hold(session, data.length() + ATTACHMENT_OVERHEAD)) {
      return;
    }
    pendingBuffers.add(data);
    if (pendingBuffers.size() == pending.attachmentCount()) {
      SioPacket complete = pending.withAttachments(new ArrayList<>(pendingBuffers));
      releasePending();
      dispatch(complete);
    }
  }

  private void dispatch(SioPacket p) {
    switch (p.type()) {
      case SioPacket.CONNECT -> connect(p);
      case SioPacket.DISCONNECT -> {
        // the socket leaves; the Engine.IO connection stays open (and keeps its heartbeat) until the client
        // closes it or connects a namespace again, as the reference server does
        SioSocket s = sockets.remove(p.nsp());
        if (s != null) {
          s.markClosing();
          ended(s, "client namespace disconnect");
        }
      }
      case SioPacket.EVENT, SioPacket.BINARY_EVENT -> {
        SioSocket s = sockets.get(p.nsp());
        if (s == null) {
          return; // not connected to that namespace: ignored, as Socket.IO servers do
        }
        ArrayNode data = (ArrayNode) p.data();
        String event = data.get(0).asText();
        ArrayNode args = Json.MAPPER.createArrayNode();
        for (int i = 1; i < data.size(); i++) {
          args.add(data.get(i));
        }
        SioAck ack = p.ackId() == null ? null : new SioAck(s, p.ackId());
        try {
          handlers.apply(p.nsp()).onEvent(s, event, args, p.attachments(), ack);
        } catch (ChatException e) {
          refuse(s, ack, e);
        } catch (RuntimeException e) {
          LOG.error("Socket.IO handler failed: socket={} event={}", s.id(), event, e);
          refuse(s, ack, new ChatException(dev.parley.core.ErrorCode.INTERNAL, "internal error"));
        }
      }
      default -> {
        // ACK / BINARY_ACK: the server asks for none, so there is nothing to match
      }
    }
  }

  /** A refused event: the error goes back in the ack when there is one, else as an {@code error} event. */
  static void refuse(SioSocket s, SioAck ack, ChatException e) {
    JsonNode error = Json.MAPPER.createObjectNode().set("error",
      Json.MAPPER.createObjectNode().put("code", e.code().wire()).put("message", e.getMessage()));
    if (ack != null) {
      ack.send(Json.MAPPER.createArrayNode().add(error));
    } else {
      s.emit("error", Json.MAPPER.createArrayNode().add(error.get("error")));
    }
  }

  private void connect(SioPacket p) {
    SioHandler handler = handlers.apply(p.nsp());
    if (handler == null) {
      engine.sendMessage(SioPacket.encode(SioPacket.CONNECT_ERROR, p.nsp(), null,
        "{\"message\":\"Invalid namespace\"}", 0));
      return;
    }
    if (sockets.containsKey(p.nsp())) {
      return; // already connected: a duplicate CONNECT changes nothing
    }
    SioSocket socket = new SioSocket(this, p.nsp(), hub, handler);
    socket.open();
    sockets.put(p.nsp(), socket);
    everConnected = true;
    if (connectTimer >= 0) {
      vertx.cancelTimer(connectTimer);
      connectTimer = -1;
    }
    JsonNode auth = p.data() == null ? Json.MAPPER.createObjectNode() : p.data();
    handler.onConnect(socket, auth).onComplete(ar -> {
      if (ar.failed() && ar.cause() instanceof ChatException refused && !socket.isClosing()) {
        // refused (no valid token): CONNECT_ERROR, as a Socket.IO middleware refusal; the Engine.IO
        // connection stays, so the client may connect again with another token
        engine.sendMessage(SioPacket.encode(SioPacket.CONNECT_ERROR, p.nsp(), null, connectError(refused), 0));
        socket.markClosing();
        sockets.remove(p.nsp(), socket);
        hub.disconnect(socket.session());
        return;
      }
      String pid = ar.succeeded() ? ar.result() : null;
      if (!socket.isClosing()) {
        engine.sendMessage(SioPacket.encode(SioPacket.CONNECT, p.nsp(), null, "{\"sid\":\"" + socket.id() + "\""
          + (pid == null ? "" : ",\"pid\":\"" + pid + "\"") + "}", 0));
        handler.onConnected(socket, auth);
      }
    });
  }

  /** {@code {"message": "<code>", "data": {"code", "message"}}}: what socket.io-client shows as a {@code connect_error}. */
  static String connectError(ChatException e) {
    var error = Json.MAPPER.createObjectNode().put("message", e.code().wire());
    error.putObject("data").put("code", e.code().wire()).put("message", e.getMessage());
    return error.toString();
  }

  /** A socket closed by the server (hub): forget it and end the connection if it was the last one. */
  void serverDisconnect(SioSocket socket, String reason) {
    engine.onLoop(() -> {
      if (sockets.remove(socket.nsp()) == socket) {
        ended(socket, "server namespace disconnect");
      }
      if (sockets.isEmpty() && everConnected) {
        engine.closeGracefully(reason);
      }
    });
  }

  private void ended(SioSocket socket, String reason) {
    // the handler first: it may keep what the socket was in (connection state recovery)
    SioHandler handler = handlers.apply(socket.nsp());
    if (handler != null) {
      handler.onDisconnect(socket, reason);
    }
    hub.disconnect(socket.session());
  }

  @Override
  public void onClose(EngineSession session, String reason) {
    releasePending();
    if (connectTimer >= 0) {
      vertx.cancelTimer(connectTimer);
    }
    for (SioSocket s : new ArrayList<>(sockets.values())) {
      s.markClosing();
      ended(s, reason);
    }
    sockets.clear();
  }
}
