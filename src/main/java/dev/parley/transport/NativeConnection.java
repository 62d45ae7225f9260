package dev.parley.transport;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.config.ParleyConfig;
import dev.parley.core.ChatException;
import dev.parley.core.CloseCode;
import dev.parley.core.Command;
import dev.parley.core.Connection;
import dev.parley.core.Envelope;
import dev.parley.core.ErrorCode;
import dev.parley.core.Hub;
import dev.parley.core.Json;
import dev.parley.core.Outcome;
import dev.parley.core.Session;
import io.vertx.core.Context;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The native JSON protocol (docs/protocol.md) over any text-frame transport: raw WebSocket at
 * {@code /ws} and SockJS at {@code /sockjs} differ only in how a frame is written and closed, which
 * subclasses supply. This class is the dialect: it parses client frames into {@link Command}s for
 * {@link Session#handle} and renders {@link Outcome}s and room events as frames. Writes follow the
 * shared {@link Outbound} policy.
 */
public abstract class NativeConnection implements Connection {

  private static final Logger LOG = LoggerFactory.getLogger(NativeConnection.class);

  protected final Hub hub;
  protected final ParleyConfig config;
  private final Context context;
  private final OutboundMemory memory;
  private Session session;
  private Outbound outbound;
  private boolean closing;

  protected NativeConnection(Hub hub, ParleyConfig config, Context context, OutboundMemory memory) {
    this.hub = hub;
    this.config = config;
    this.context = context;
    this.memory = memory;
  }

  /** Writes one text frame; the outbound policy already admitted it. */
  protected abstract void write(String frame);

  /**
   * Bytes the transport itself holds for this client and does not report through
   * {@link Outbound#track} (a /ws channel's outbound buffer); 0 by default.
   */
  protected long transportBacklog() {
    return 0;
  }

  /** True once the transport itself is closed (writes would fail). */
  protected boolean isGone() {
    return false;
  }

  /** Closes the underlying transport with a code. */
  protected abstract void closeTransport(CloseCode code, String reason);

  /**
   * Opens the session and greets the client; call once the transport is ready. {@code authorization} is
   * the upgrade request's {@code Authorization} header (null when none): a {@code Bearer} token there counts
   * as the client's first {@code auth} frame.
   */
  protected final void open(String authorization) {
    session = hub.open(this);
    outbound = new Outbound(context, config.limits().outboundQueueBytes(), memory, this::transportBacklog, this::close, this);
    ObjectNode welcome = Json.MAPPER.createObjectNode()
      .put("type", "welcome")
      .put("session", session.id());
    welcome.putObject("limits")
      .put("maxTextLength", config.limits().maxTextLength())
      .put("maxFrameBytes", config.limits().maxFrameBytes())
      .put("maxRoomsPerConnection", config.limits().maxRoomsPerConnection());
    welcome.put("auth", hub.access().mode().name().toLowerCase(java.util.Locale.ROOT));
    send(welcome.toString());
    String bearer = hub.access().acceptsTokens() ? bearer(authorization) : null;
    if (bearer != null) {
      session.handle(new Command.Auth(bearer), null);
    }
  }

  /** The token of an {@code Authorization: Bearer <token>} header value, or null. */
  public static String bearer(String authorization) {
    if (authorization == null || authorization.length() < 7 || !authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
      return null;
    }
    String token = authorization.substring(7).trim();
    return token.isEmpty() ? null : token;
  }

  public final Session session() {
    return session;
  }

  /** The connection's outbound policy (for transports that report written bytes through it). */
  protected final Outbound outbound() {
    return outbound;
  }

  /** The transport saw the connection end (any reason): the session leaves its rooms. */
  protected final void ended() {
    closing = true;
    if (outbound != null) {
      outbound.closing();
    }
    if (session != null) {
      hub.disconnect(session);
    }
  }

  @Override
  public final void deliver(Envelope event) {
    if (writable(event.json().length())) {
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
      if (session != null) {
        session.closingWith(code);
      }
      if (outbound != null) {
        outbound.closing();
      }
      closeTransport(code, reason);
      if (session != null) {
        context.runOnContext(v -> hub.disconnect(session));
      }
    }
  }

  protected final void send(String frame) {
    if (writable(frame.length())) {
      write(frame);
    }
  }

  /** Whether one more frame may be written (the outbound policy decides, and closes slow consumers). */
  private boolean writable(int size) {
    if (closing) {
      return false;
    }
    if (isGone()) {
      // the peer is already gone; its close handler will end the session
      closing = true;
      return false;
    }
    return outbound.admit(size);
  }

  /** Answers a frame the protocol cannot take (a binary frame, say) with a {@code bad_request} error. */
  protected final void refuse(String message) {
    if (!closing) {
      session.handle(new Command.Invalid(new ChatException(ErrorCode.BAD_REQUEST, message)), null);
    }
  }

  /**
   * Handles one client text frame: parses it into a command (a malformed frame becomes
   * {@link Command.Invalid}, which still counts against the rate limit) and hands it to the session.
   */
  protected final void onText(String text) {
    if (closing) {
      return;
    }
    JsonNode ref = null;
    Command command;
    try {
      JsonNode frame = Json.parseTree(text);
      if (!frame.isObject()) {
        throw new ChatException(ErrorCode.BAD_REQUEST, "a frame must be a JSON object");
      }
      JsonNode r = frame.get("ref");
      if (r != null && (r.isTextual() || r.isIntegralNumber())) {
        ref = r;
      } else if (r != null) {
        throw new ChatException(ErrorCode.BAD_REQUEST, "ref must be a string or an integer");
      }
      command = parse(frame);
    } catch (ChatException e) {
      command = new Command.Invalid(e);
    } catch (RuntimeException e) {
      LOG.error("unexpected failure on a frame: session={} transport={}", session.id(), transport(), e);
      command = new Command.Invalid(new ChatException(ErrorCode.INTERNAL, "internal error"));
    }
    session.handle(command, ref);
  }

  /** The native protocol's frames as commands. */
  static Command parse(JsonNode frame) {
    String type = CommandFields.string(frame, "type");
    return switch (type) {
      case "join" -> CommandFields.join(frame);
      case "publish" -> CommandFields.publish(frame);
      case "leave" -> CommandFields.leave(frame);
      case "history" -> CommandFields.history(frame);
      case "ping" -> new Command.Ping();
      case "auth" -> new Command.Auth(CommandFields.string(frame, "token"));
      default -> throw new ChatException(ErrorCode.BAD_REQUEST, "unknown type \"" + truncate(type) + "\"");
    };
  }

  @Override
  public final void reply(Object ref, Outcome outcome) {
    JsonNode r = (JsonNode) ref;
    if (outcome instanceof Outcome.Joined joined) {
      send(Json.encode(joined.presence()));
      if (r != null) {
        send(ack(r).toString());
      }
    } else if (outcome instanceof Outcome.Published published) {
      if (r != null) {
        ObjectNode ack = ack(r);
        ack.setAll(CommandFields.published(published.message()));
        send(ack.toString());
      }
    } else if (outcome instanceof Outcome.History page) {
      ObjectNode frame = Json.MAPPER.createObjectNode().put("type", "history");
      frame.setAll(CommandFields.historyPage(page));
      if (r != null) {
        frame.set("ref", r);
      }
      send(frame.toString());
    } else if (outcome instanceof Outcome.Left) {
      if (r != null) {
        send(ack(r).toString());
      }
    } else if (outcome instanceof Outcome.Authed authed) {
      ObjectNode frame = CommandFields.authed(authed.identity()).put("type", "authed");
      if (r != null) {
        frame.set("ref", r);
      }
      send(frame.toString());
    } else if (outcome instanceof Outcome.Pong) {
      ObjectNode pong = Json.MAPPER.createObjectNode().put("type", "pong");
      if (r != null) {
        pong.set("ref", r);
      }
      send(pong.toString());
    } else if (outcome instanceof Outcome.Failed failed) {
      ObjectNode error = Json.MAPPER.createObjectNode()
        .put("type", "error")
        .put("code", failed.error().code().wire())
        .put("message", failed.error().getMessage());
      if (r != null) {
        error.set("ref", r);
      }
      send(error.toString());
    }
  }

  private static ObjectNode ack(JsonNode ref) {
    ObjectNode ack = Json.MAPPER.createObjectNode().put("type", "ack");
    if (ref != null) {
      ack.set("ref", ref);
    }
    return ack;
  }

  private static String truncate(String s) {
    return s.length() > 32 ? s.substring(0, 32) + "..." : s;
  }

  /** The label of this connection's log lines. */
  @Override
  public String toString() {
    return "session=" + (session == null ? "-" : session.id()) + " transport=" + transport();
  }
}
