package dev.parley.transport;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.config.ParleyConfig;
import dev.parley.core.ChatException;
import dev.parley.core.CloseCode;
import dev.parley.core.Connection;
import dev.parley.core.Envelope;
import dev.parley.core.ErrorCode;
import dev.parley.core.Hub;
import dev.parley.core.Json;
import dev.parley.core.Session;
import io.vertx.core.Context;
import io.vertx.core.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The native JSON protocol (docs/protocol.md) over any text-frame transport: raw WebSocket at
 * {@code /ws} and SockJS at {@code /sockjs} differ only in how a frame is written and closed, which
 * subclasses supply. Parses client frames into hub commands, answers with {@code ack} / {@code error},
 * and writes room events, closing the connection instead of buffering when the client stops reading.
 */
public abstract class NativeConnection implements Connection {

  private static final Logger LOG = LoggerFactory.getLogger(NativeConnection.class);

  protected final Hub hub;
  protected final ParleyConfig config;
  private final Context context;
  private final OutboundMemory memory;
  private Session session;
  private boolean closing;

  protected NativeConnection(Hub hub, ParleyConfig config, Context context, OutboundMemory memory) {
    this.hub = hub;
    this.config = config;
    this.context = context;
    this.memory = memory;
  }

  /** Writes one text frame; the caller already checked {@link #queueFull()}. */
  protected abstract void write(String frame);

  /** True when the bytes waiting for this client reached {@code limits.outboundQueueBytes}. */
  protected abstract boolean queueFull();

  /** Bytes written and not yet handed to the kernel (for the node-wide memory bound). */
  protected long backlogBytes() {
    return 0;
  }

  /** True once the transport itself is closed (writes would fail). */
  protected boolean isGone() {
    return false;
  }

  /** Closes the underlying transport with a code. */
  protected abstract void closeTransport(CloseCode code, String reason);

  /** Opens the session and greets the client; call once the transport is ready. */
  protected final void open() {
    session = hub.open(this);
    ObjectNode welcome = Json.MAPPER.createObjectNode()
      .put("type", "welcome")
      .put("session", session.id());
    welcome.putObject("limits")
      .put("maxTextLength", config.limits().maxTextLength())
      .put("maxFrameBytes", config.limits().maxFrameBytes())
      .put("maxRoomsPerConnection", config.limits().maxRoomsPerConnection());
    send(welcome.toString());
  }

  public final Session session() {
    return session;
  }

  /** The transport saw the connection end (any reason): the session leaves its rooms. */
  protected final void ended() {
    closing = true;
    if (session != null) {
      hub.disconnect(session);
    }
  }

  @Override
  public final void deliver(Envelope event) {
    if (writable()) {
      writeEvent(event);
    }
  }

  /** Writes a room event; transports that can reuse one encoding for every recipient override this. */
  protected void writeEvent(Envelope event) {
    write(event.json());
  }

  /**
   * Closes from the server side. The session leaves its rooms on the next turn of the event loop, not
   * when the close handshake ends: a dead or stalled peer may never answer it, and the others must
   * hear {@code left} now. (Not inline, because the hub may be iterating a room's members.)
   */
  @Override
  public final void close(CloseCode code, String reason) {
    if (!closing) {
      closing = true;
      closeTransport(code, reason);
      if (session != null) {
        context.runOnContext(v -> hub.disconnect(session));
      }
    }
  }

  protected final void send(String frame) {
    if (writable()) {
      write(frame);
    }
  }

  /** Whether one more frame may be written; closes a slow consumer instead of queueing without bound. */
  private boolean writable() {
    if (closing) {
      return false;
    }
    if (isGone()) {
      // the peer is already gone; its close handler will end the session
      closing = true;
      return false;
    }
    if (queueFull()) {
      LOG.info("closing slow consumer: session={} transport={} hub={}", session.id(), transport(), hub.id());
      close(CloseCode.SLOW_CONSUMER, "outbound queue full");
      return false;
    }
    if (memory.shouldShed(backlogBytes())) {
      LOG.warn("closing slow consumer under memory pressure: session={} transport={} hub={} backlog={} bytes",
        session.id(), transport(), hub.id(), backlogBytes());
      close(CloseCode.SLOW_CONSUMER, "server memory pressure");
      return false;
    }
    return true;
  }

  /** Answers a frame the protocol cannot take (a binary frame, say) with a {@code bad_request} error. */
  protected final void refuse(String message) {
    if (!closing) {
      sendError(null, ErrorCode.BAD_REQUEST, message);
    }
  }

  /**
   * Handles one client text frame. Every frame, well-formed or not, counts against the rate limit.
   * Errors answer with an {@code error} frame (echoing {@code ref} when it could be read); the
   * connection stays open.
   */
  protected final void onText(String text) {
    if (closing) {
      return;
    }
    JsonNode ref = null;
    try {
      JsonNode frame = null;
      ChatException malformed = null;
      try {
        frame = Json.parseTree(text);
      } catch (ChatException e) {
        malformed = e;
      }
      if (frame != null && frame.isObject()) {
        JsonNode r = frame.get("ref");
        if (r != null && (r.isTextual() || r.isIntegralNumber())) {
          ref = r;
        } else if (r != null) {
          malformed = new ChatException(ErrorCode.BAD_REQUEST, "ref must be a string or an integer");
        }
      } else if (frame != null) {
        malformed = new ChatException(ErrorCode.BAD_REQUEST, "a frame must be a JSON object");
      }
      session.admit();
      if (malformed != null) {
        throw malformed;
      }
      dispatch(frame, ref);
    } catch (ChatException e) {
      sendError(ref, e.code(), e.getMessage());
    } catch (RuntimeException e) {
      LOG.error("unexpected failure on a frame: session={} transport={}", session.id(), transport(), e);
      sendError(ref, ErrorCode.INTERNAL, "internal error");
    }
  }

  private void dispatch(JsonNode frame, JsonNode ref) {
    String type = requiredString(frame, "type");
    switch (type) {
      case "join" -> {
        String room = requiredString(frame, "room");
        String name = requiredString(frame, "name");
        reply(session.submit(() -> hub.join(session, room, name)), ref, presence -> {
          send(Json.encode(presence));
          return ack(ref);
        });
      }
      case "publish" -> {
        String room = requiredString(frame, "room");
        String text = requiredString(frame, "text");
        reply(session.submit(() -> hub.publish(session, room, text)), ref,
          message -> ack(ref).put("id", message.id()));
      }
      case "leave" -> {
        String room = requiredString(frame, "room");
        reply(session.submit(() -> hub.leave(session, room)), ref, v -> ack(ref));
      }
      case "ping" -> {
        ObjectNode pong = Json.MAPPER.createObjectNode().put("type", "pong");
        if (ref != null) {
          pong.set("ref", ref);
        }
        send(pong.toString());
      }
      default -> throw new ChatException(ErrorCode.BAD_REQUEST, "unknown type \"" + truncate(type) + "\"");
    }
  }

  private <T> void reply(Future<T> result, JsonNode ref, java.util.function.Function<T, ObjectNode> onSuccess) {
    result.onComplete(ar -> {
      if (ar.succeeded()) {
        ObjectNode ack = onSuccess.apply(ar.result());
        if (ref != null) {
          send(ack.toString());
        }
      } else {
        Throwable cause = ar.cause();
        if (!(cause instanceof ChatException)) {
          LOG.error("command failed: session={} transport={}", session.id(), transport(), cause);
        }
        sendError(ref, ChatException.codeOf(cause), cause instanceof ChatException ? cause.getMessage() : "internal error");
      }
    });
  }

  private static ObjectNode ack(JsonNode ref) {
    ObjectNode ack = Json.MAPPER.createObjectNode().put("type", "ack");
    if (ref != null) {
      ack.set("ref", ref);
    }
    return ack;
  }

  private void sendError(JsonNode ref, ErrorCode code, String message) {
    ObjectNode error = Json.MAPPER.createObjectNode()
      .put("type", "error")
      .put("code", code.wire())
      .put("message", message);
    if (ref != null) {
      error.set("ref", ref);
    }
    send(error.toString());
  }

  private static String requiredString(JsonNode frame, String field) {
    JsonNode v = frame.get(field);
    if (v == null || v.isNull()) {
      throw new ChatException(ErrorCode.BAD_REQUEST, field + " is required");
    }
    if (!v.isTextual()) {
      throw new ChatException(ErrorCode.BAD_REQUEST, field + " must be a string");
    }
    return v.textValue();
  }

  private static String truncate(String s) {
    return s.length() > 32 ? s.substring(0, 32) + "..." : s;
  }
}
