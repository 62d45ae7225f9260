package dev.parley.transport.bridge;

import dev.parley.ParleyNode;
import dev.parley.config.ParleyConfig;
import dev.parley.core.ChatException;
import dev.parley.core.CloseCode;
import dev.parley.core.Command;
import dev.parley.transport.CommandFields;
import dev.parley.transport.OutboundMemory;
import dev.parley.core.ErrorCode;
import dev.parley.core.Hub;
import dev.parley.core.Rules;
import dev.parley.transport.sockjs.SockJsTransport;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.bridge.PermittedOptions;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.handler.sockjs.BridgeEvent;
import io.vertx.ext.web.handler.sockjs.SockJSBridgeOptions;
import io.vertx.ext.web.handler.sockjs.SockJSHandler;
import io.vertx.ext.web.handler.sockjs.SockJSSocket;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * The Vert.x SockJS event bus bridge at {@code /eventbus}, deny-by-default.
 *
 * <p>Inbound, a client may only {@code send} to {@code parley.join} {room, name}, {@code parley.publish}
 * {room, text}, {@code parley.leave} {room}, {@code parley.history} {room, before?, limit?} and
 * {@code parley.auth} {token}; a send may also carry its token in an {@code authorization} header. The bridge hook rewrites those to this hub's private
 * addresses and stamps the socket's session id in a header it controls (client headers are dropped),
 * so commands run on the socket's own hub and a client can never act as another session or publish
 * under another name. Replies: the presence object for join, {@code {"id":...}} for publish,
 * {@code {}} for leave; failures are failed replies whose {@code failureCode} is the
 * {@link ErrorCode#number()} and whose message is the error code.
 *
 * <p>Outbound, a client may register {@code parley.room.<room>} only while it is a member of that
 * room. Every other send, publish or register is refused with the bridge's {@code access_denied}.
 */
public final class BridgeTransport {

  private static final Logger LOG = LoggerFactory.getLogger(BridgeTransport.class);
  private static final String SESSION_HEADER = "parley-session";
  private static final String DENIED = "parley.denied";
  private static final String TOKEN_HEADER = "parley-token";
  private static final List<String> COMMANDS = List.of("join", "publish", "leave", "history", "auth");

  private final Vertx vertx;
  private final ParleyNode node;
  private final Hub hub;
  private final String hubAddress;
  private final Map<SockJSSocket, BridgeConnection> sockets = new IdentityHashMap<>();
  private final Map<String, BridgeConnection> bySession = new HashMap<>();

  private BridgeTransport(Vertx vertx, ParleyNode node, Hub hub) {
    this.vertx = vertx;
    this.node = node;
    this.hub = hub;
    this.hubAddress = "parley.bridge." + hub.id() + ".";
  }

  /**
   * Registers this hub's command consumers and returns the router to mount under {@code /eventbus*};
   * the future completes once the consumers are registered.
   */
  public static Future<Router> create(Vertx vertx, ParleyNode node, Hub hub) {
    return new BridgeTransport(vertx, node, hub).start();
  }

  private Future<Router> start() {
    ParleyConfig config = node.config();
    List<MessageConsumer<Object>> consumers = COMMANDS.stream().map(this::consumer).toList();

    SockJSBridgeOptions options = new SockJSBridgeOptions()
      .setPingTimeout(config.bridge().pingTimeoutMs())
      .setReplyTimeout(config.bridge().replyTimeoutMs())
      .setMaxHandlersPerSocket(config.limits().maxRoomsPerConnection() + config.limits().maxPendingCommands())
      .setMaxAddressLength(BridgeConnection.ROOM_ADDRESS_PREFIX.length() + Rules.MAX_ROOM_LENGTH)
      .addOutboundPermitted(new PermittedOptions().setAddressRegex("parley\\.room\\.[A-Za-z0-9_.\\-]{1,64}"));
    for (String command : COMMANDS) {
      options.addInboundPermitted(new PermittedOptions().setAddress(hubAddress + command));
    }
    Router router = SockJSHandler.create(vertx, SockJsTransport.options(config)).bridge(options, this::onBridgeEvent);
    return Future.all(consumers.stream().map(MessageConsumer::completion).toList()).map(router);
  }

  /**
   * The bridge's dialect: a {@code send} to {@code parley.<command>}, rewritten by {@link #onBridgeEvent}
   * to this hub's address with the socket's session in a header, becomes a {@link Command} for the
   * session; the event bus message is the reply handle.
   */
  private MessageConsumer<Object> consumer(String command) {
    return vertx.eventBus().consumer(hubAddress + command, (Message<Object> msg) -> {
      BridgeConnection c = bySession.get(msg.headers().get(SESSION_HEADER));
      if (c == null) {
        msg.fail(ErrorCode.BAD_REQUEST.number(), ErrorCode.BAD_REQUEST.wire());
        return;
      }
      String token = msg.headers().get(TOKEN_HEADER);
      if (token != null) {
        // a token in the send's "authorization" header counts as an auth command just before it
        c.session().handle(new Command.Auth(token), null);
      }
      c.session().handle(parse(command, msg.body()), msg);
    });
  }

  /** A bridge {@code send} to {@code parley.<command>} with this body, as a command (malformed: {@link Command.Invalid}). */
  static Command parse(String command, Object body) {
    try {
      if (!(body instanceof JsonObject b)) {
        throw new ChatException(ErrorCode.BAD_REQUEST, "body must be a JSON object");
      }
      return switch (command) {
        case "join" -> CommandFields.join(tree(b));
        case "publish" -> CommandFields.publish(tree(b));
        case "leave" -> CommandFields.leave(tree(b));
        case "history" -> CommandFields.history(tree(b));
        case "auth" -> CommandFields.auth(tree(b));
        default -> throw new ChatException(ErrorCode.BAD_REQUEST, "unknown command");
      };
    } catch (ChatException e) {
      return new Command.Invalid(e);
    }
  }

  private static com.fasterxml.jackson.databind.JsonNode tree(JsonObject body) {
    return dev.parley.core.Json.parseTree(body.encode()); // nested values of a JsonObject may be JsonObjects
  }



  private void onBridgeEvent(BridgeEvent event) {
    SockJSSocket socket = event.socket();
    if (tooBig(event)) {
      BridgeConnection c = sockets.get(socket);
      LOG.debug("closing bridge socket {}: frame larger than limits.maxFrameBytes", c == null ? "-" : c.session().id());
      socket.write(TOO_BIG_FRAME);
      socket.close(CloseCode.TOO_BIG.code(), "frame larger than limits.maxFrameBytes");
      event.complete(false);
      return;
    }
    switch (event.type()) {
      case SOCKET_CREATED -> {
        ParleyNode.Ticket ticket = node.admit(socket.remoteAddress() == null ? null : socket.remoteAddress().hostAddress());
        if (ticket.refusal() != null) {
          event.complete(false);
          return;
        }
        Context context = vertx.getOrCreateContext();
        BridgeConnection c = new BridgeConnection(hub, context, socket, node.config().limits().outboundQueueBytes(),
          node.shared(OutboundMemory.class, () -> OutboundMemory.create(node.config().limits())));
        c.ticket = ticket;
        sockets.put(socket, c);
        bySession.put(c.session().id(), c);
        event.complete(true);
        String bearer = !hub.access().acceptsTokens() || socket.headers() == null ? null
          : dev.parley.transport.NativeConnection.bearer(socket.headers().get("Authorization"));
        if (bearer != null) {
          c.session().handle(new Command.Auth(bearer), null);
        }
      }
      case SOCKET_CLOSED -> {
        BridgeConnection c = sockets.remove(socket);
        if (c != null) {
          bySession.remove(c.session().id());
          c.ended();
          c.ticket.release();
        }
        event.complete(true);
      }
      case SEND -> {
        JsonObject raw = event.getRawMessage();
        BridgeConnection c = sockets.get(socket);
        String address = raw.getString("address");
        String command = address != null && address.startsWith("parley.") ? address.substring("parley.".length()) : null;
        if (c != null && command != null && COMMANDS.contains(command)) {
          raw.put("address", hubAddress + command);
          JsonObject given = raw.getValue("headers") instanceof JsonObject h ? h : null;
          Object authorization = given == null ? null : given.getValue("authorization");
          JsonObject headers = new JsonObject().put(SESSION_HEADER, c.session().id());
          if (authorization instanceof String a && !a.isBlank()) {
            String bearer = dev.parley.transport.NativeConnection.bearer(a);
            headers.put(TOKEN_HEADER, bearer != null ? bearer : a.trim());
          }
          raw.put("headers", headers);
        } else {
          raw.put("address", DENIED);
        }
        event.complete(true);
      }
      case PUBLISH -> {
        event.getRawMessage().put("address", DENIED);
        event.complete(true);
      }
      case REGISTER -> {
        JsonObject raw = event.getRawMessage();
        BridgeConnection c = sockets.get(socket);
        String room = roomOf(raw.getString("address"));
        if (c != null && room != null && c.session().rooms().containsKey(room)) {
          c.registered(room);
        } else {
          raw.put("address", DENIED);
        }
        event.complete(true);
      }
      case UNREGISTER -> {
        BridgeConnection c = sockets.get(socket);
        String room = event.getRawMessage() == null ? null : roomOf(event.getRawMessage().getString("address"));
        if (c != null && room != null) {
          c.unregistered(room);
        }
        event.complete(true);
      }
      default -> event.complete(true);
    }
  }

  /** The bridge's own error frame for a frame over {@code limits.maxFrameBytes}, sent just before the close. */
  static final String TOO_BIG_FRAME = "{\"type\":\"err\",\"body\":\"too_big\"}";

  /** Whether a client frame is over {@code limits.maxFrameBytes} (measured as the JSON the bridge parsed). */
  private boolean tooBig(BridgeEvent event) {
    JsonObject raw = event.getRawMessage();
    return raw != null && switch (event.type()) {
      case SEND, PUBLISH, REGISTER, UNREGISTER -> raw.encode().length() > node.config().limits().maxFrameBytes();
      default -> false;
    };
  }

  private static String roomOf(String address) {
    if (address == null || !address.startsWith(BridgeConnection.ROOM_ADDRESS_PREFIX)) {
      return null;
    }
    String room = address.substring(BridgeConnection.ROOM_ADDRESS_PREFIX.length());
    return Rules.validRoom(room) ? room : null;
  }
}
