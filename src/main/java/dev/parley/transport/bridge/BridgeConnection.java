package dev.parley.transport.bridge;

import dev.parley.core.CloseCode;
import dev.parley.core.Connection;
import dev.parley.core.Envelope;
import dev.parley.core.Hub;
import dev.parley.core.Session;
import dev.parley.core.Json;
import dev.parley.core.Outcome;
import dev.parley.transport.CommandFields;
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
  /**
   * Events of rooms the session joined but has not registered yet (its own {@code joined} and what it
   * asked to replay come before the join's reply, so before the client can register): written when it
   * registers, bounded by {@code limits.outboundQueueBytes} like any queue of this socket.
   */
  private final java.util.Map<String, java.util.List<String>> early = new java.util.HashMap<>();
  private int earlyBytes;
  /** Joined rooms whose early events passed the bound before a register: not kept any more. */
  private final Set<String> notListening = new HashSet<>();
  private final int outboundQueueBytes;
  private final Session session;
  private boolean closing;
  /** This socket's place in {@code http.maxConnections}. */
  dev.parley.ParleyNode.Ticket ticket;

  BridgeConnection(Hub hub, Context context, SockJSSocket socket, int outboundQueueBytes, OutboundMemory memory) {
    this.hub = hub;
    this.context = context;
    this.socket = socket;
    socket.setWriteQueueMaxSize(outboundQueueBytes);
    this.outboundQueueBytes = outboundQueueBytes;
    this.session = hub.open(this);
    this.outbound = new Outbound(context, outboundQueueBytes, memory, () -> SockJsTransport.backlog(socket, outboundQueueBytes),
      this::close, this);
  }

  @Override
  public String toString() {
    return "session=" + session.id() + " transport=bridge";
  }

  Session session() {
    return session;
  }

  void registered(String room) {
    registered.add(room);
    notListening.remove(room);
    java.util.List<String> waiting = early.remove(room);
    if (waiting != null) {
      for (String frame : waiting) {
        earlyBytes -= frame.length();
        if (outbound.admit(frame.length())) {
          outbound.track(frame.length(), socket.write(frame));
        }
      }
    }
  }

  void unregistered(String room) {
    registered.remove(room);
    dropEarly(room);
  }

  private void dropEarly(String room) {
    java.util.List<String> waiting = early.remove(room);
    if (waiting != null) {
      waiting.forEach(f -> earlyBytes -= f.length());
    }
  }

  @Override
  public void deliver(Envelope event) {
    if (closing) {
      return;
    }
    if (!registered.contains(event.room())) {
      if (event.room() != null && session.rooms().containsKey(event.room())) {
        if (notListening.contains(event.room())) {
          return;
        }
        String frame = event.encoded(REC_FRAME);
        if (earlyBytes + frame.length() > outboundQueueBytes) {
          // a member that does not register is not listening (it may only publish): stop keeping its events
          dropEarly(event.room());
          notListening.add(event.room());
          return;
        }
        earlyBytes += frame.length();
        early.computeIfAbsent(event.room(), r -> new java.util.ArrayList<>()).add(frame);
      }
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
    } else if (outcome instanceof Outcome.Left left) {
      dropEarly(left.room());
      notListening.remove(left.room());
      msg.reply(new JsonObject());
    } else if (outcome instanceof Outcome.Published published) {
      msg.reply(new JsonObject(CommandFields.published(published.message()).toString()));
    } else if (outcome instanceof Outcome.History page) {
      msg.reply(new JsonObject(CommandFields.historyPage(page).toString()));
    } else if (outcome instanceof Outcome.Authed authed) {
      msg.reply(new JsonObject(CommandFields.authed(authed.identity()).toString()));
    } else if (outcome instanceof Outcome.Failed failed) {
      msg.fail(failed.error().code().number(), failed.error().code().wire());
    } else {
      msg.reply(new JsonObject());
    }
  }

  /**
   * SockJS closes with {@code c[3000,"Go away!"]} whatever the code, so a refused or expired token is told
   * first in the bridge's own error frame: {@code {"type":"err","body":"unauthorized","code":4004,"message":...}}.
   * The close waits a turn of the loop, so the failed reply of the command that caused it (which the event
   * bus hands to the bridge on a later turn) still reaches the client.
   */
  @Override
  public void close(CloseCode code, String reason) {
    if (!closing) {
      closing = true;
      session.closingWith(code);
      outbound.closing();
      if (code == CloseCode.UNAUTHORIZED || code == CloseCode.TOKEN_EXPIRED || code == CloseCode.TOO_MANY_CONNECTIONS) {
        socket.write(new JsonObject().put("type", "err").put("body", code.name().toLowerCase(java.util.Locale.ROOT))
          .put("code", code.code()).put("message", reason).encode());
        context.runOnContext(v -> socket.close(code.code(), reason));
      } else {
        socket.close(code.code(), reason);
      }
      context.runOnContext(v -> hub.disconnect(session));
    }
  }

  void ended() {
    closing = true;
    outbound.closing();
    hub.disconnect(session);
  }

  @Override
  public String address() {
    return socket.remoteAddress() == null ? null : socket.remoteAddress().hostAddress();
  }

  @Override
  public String transport() {
    return "bridge";
  }
}
