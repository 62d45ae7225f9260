package dev.parley.transport.socketio;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import dev.parley.config.ParleyConfig.SocketIoConfig;
import dev.parley.core.ChatEvent;
import dev.parley.core.ChatException;
import dev.parley.core.Command;
import dev.parley.transport.CommandFields;
import dev.parley.core.Outcome;
import dev.parley.core.Envelope;
import dev.parley.core.ErrorCode;
import dev.parley.core.Json;
import io.vertx.core.buffer.Buffer;

import io.vertx.core.Future;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The chat over Socket.IO, in three vocabularies ("dialects") so that existing clients work unchanged.
 *
 * <ul>
 *   <li><b>native</b>, chosen by a {@code join}, {@code publish {room, text}} or {@code leave} event:
 *       the native protocol's commands and events as Socket.IO events ({@code joined}, {@code presence},
 *       {@code message}, {@code left}); commands answer through the ack when the client asks
 *       (presence for join, {@code {id}} for publish, {@code {}} for leave, {@code {error: {code, message}}}).</li>
 *   <li><b>seed 000</b>, chosen by {@code connected(name)}: joins the default room; {@code publish {value}}
 *       goes to everyone there as {@code publish {value}}; joins and leaves arrive as
 *       {@code publish {value: "<name> joined"}} / {@code "<name> left"} (templates in config).</li>
 *   <li><b>seed 003</b>, chosen by {@code chat message(user, message)}: joins the default room as
 *       {@code user} and publishes; the others there get {@code chat message "<message> from <user>"}.</li>
 * </ul>
 * Until a socket speaks, it listens to the default room in both seed vocabularies (as the seed servers
 * broadcast to every socket). Outside emits arrive everywhere as the original event and arguments.
 */
final class ChatHandler implements SioHandler {

  enum Dialect { UNDECIDED, NATIVE, SEED000, SEED003 }

  private final SocketIoConfig config;
  private final Formats formats;
  private final SioRecovery recovery;

  ChatHandler(SocketIoConfig config, Formats formats, SioRecovery recovery) {
    this.config = config;
    this.formats = formats;
    this.recovery = recovery;
  }

  /** The packets of each dialect, cached on each event once per node (the key is this object). */
  static final class Formats {
    private final String joinNotice;
    private final String leaveNotice;
    private final Object nativeKey = new Object();
    private final Object seed000Key = new Object();
    private final Object seed003Key = new Object();
    private final Object externalKey = new Object();
    private final Object nativeOffsetKey = new Object();
    private final Object seed000OffsetKey = new Object();
    private final Object seed003OffsetKey = new Object();

    Formats(SocketIoConfig config) {
      this.joinNotice = config.joinNotice();
      this.leaveNotice = config.leaveNotice();
    }

    List<String> render(Envelope e, SioSocket socket) {
      ChatHandler.Dialect d = socket.state();
      ChatEvent event = e.event();
      if (event instanceof ChatEvent.External) {
        return List.of(prefixed(socket, e.encoded(externalKey, Formats::external)));
      }
      List<String> out = new ArrayList<>(2);
      // with connection state recovery, a positioned message carries its offset as a last argument
      boolean offset = socket.pid() != null && event instanceof ChatEvent.Message msg && msg.offset() != null;
      if (d == Dialect.NATIVE) {
        out.add(prefixed(socket, offset ? e.encoded(nativeOffsetKey, x -> withOffset(nativeEvent(x), x))
          : e.encoded(nativeKey, Formats::nativeEvent)));
      }
      if (d == Dialect.SEED000 || d == Dialect.UNDECIDED) {
        String p = offset ? e.encoded(seed000OffsetKey, x -> withOffset(seed000(x), x)) : e.encoded(seed000Key, this::seed000);
        if (!p.isEmpty()) {
          out.add(prefixed(socket, p));
        }
      }
      if (d == Dialect.SEED003 || d == Dialect.UNDECIDED) {
        boolean own = event instanceof ChatEvent.Message m && m.session().equals(socket.id());
        String p = offset ? e.encoded(seed003OffsetKey, x -> withOffset(seed003(x), x)) : e.encoded(seed003Key, Formats::seed003);
        if (!own && !p.isEmpty()) {
          out.add(prefixed(socket, p));
        }
      }
      return out;
    }

    /** An event packet ({@code 2[...]}) with the message's recovery offset appended as a last argument. */
    private static String withOffset(String packet, Envelope e) {
      if (packet.isEmpty()) {
        return packet;
      }
      ChatEvent.Message m = (ChatEvent.Message) e.event();
      String offset = Json.encode(SioRecovery.offset(m.room(), new dev.parley.core.StreamPosition(m.epoch(), m.offset())));
      return packet.substring(0, packet.length() - 1) + "," + offset + "]";
    }

    /** {@code 2["message",{...}]}: the native event object as it is. */
    private static String nativeEvent(Envelope e) {
      return "2[\"" + e.event().type() + "\"," + e.json() + "]";
    }

    private static String external(Envelope e) {
      ChatEvent.External x = (ChatEvent.External) e.event();
      ArrayNode data = Json.MAPPER.createArrayNode().add(x.event());
      if (x.args() != null) {
        x.args().forEach(data::add);
      }
      return "2" + data;
    }

    private String seed000(Envelope e) {
      ChatEvent event = e.event();
      String value = null;
      if (event instanceof ChatEvent.Joined j) {
        value = joinNotice.replace("{name}", j.name());
      } else if (event instanceof ChatEvent.Left l) {
        value = leaveNotice.replace("{name}", l.name() == null ? "" : l.name());
      } else if (event instanceof ChatEvent.Message m) {
        value = m.text();
      }
      return value == null ? "" : "2" + Json.MAPPER.createArrayNode().add("publish")
        .add(Json.MAPPER.createObjectNode().put("value", value));
    }

    private static String seed003(Envelope e) {
      if (e.event() instanceof ChatEvent.Message m) {
        return "2" + Json.MAPPER.createArrayNode().add("chat message").add(m.text() + " from " + m.name());
      }
      return "";
    }

    private static String prefixed(SioSocket socket, String packet) {
      return "/".equals(socket.nsp()) ? packet : packet.charAt(0) + socket.nsp() + "," + packet.substring(1);
    }
  }

  /**
   * The token of a CONNECT ({@code auth: {token}}) or of the handshake's {@code Authorization: Bearer} header,
   * verified before anything else: a refusal becomes the CONNECT_ERROR. Without one, token mode refuses.
   */
  private Future<Void> authenticate(SioSocket socket, JsonNode auth) {
    dev.parley.core.Access access = socket.hub().access();
    if (!access.acceptsTokens()) {
      return Future.succeededFuture(); // anonymous mode: a token (or a proxy's Authorization header) changes nothing
    }
    JsonNode given = auth.get("token");
    String token = given != null && given.isTextual() ? given.textValue()
      : dev.parley.transport.NativeConnection.bearer(socket.authorization());
    if (given != null && !given.isTextual() && !given.isNull()) {
      return Future.failedFuture(new ChatException(ErrorCode.UNAUTHORIZED, "auth.token must be a string"));
    }
    if (token == null) {
      return access.mode() == dev.parley.core.Access.Mode.TOKEN
        ? Future.failedFuture(new ChatException(ErrorCode.UNAUTHORIZED, "token is missing: connect with auth: {token}"))
        : Future.succeededFuture();
    }
    return socket.hub().authenticate(socket.session(), token).mapEmpty();
  }

  @Override
  public Future<String> onConnect(SioSocket socket, JsonNode auth) {
    return authenticate(socket, auth).compose(v -> connect(socket, auth));
  }

  private Future<String> connect(SioSocket socket, JsonNode auth) {
    socket.state(Dialect.UNDECIDED);
    socket.renderer(formats::render);
    if (!recovery.enabled()) {
      socket.hub().watch(socket.session(), config.defaultRoom());
      return Future.succeededFuture();
    }
    String pid = auth.path("pid").isTextual() ? auth.get("pid").textValue() : null;
    return recovery.take(pid, socket.nsp()).compose(saved -> {
      if (socket.session().isClosed()) {
        return Future.succeededFuture((String) null);
      }
      if (saved == null) {
        socket.pid(SioRecovery.newPid());
        socket.hub().watch(socket.session(), config.defaultRoom());
        return Future.succeededFuture(socket.pid());
      }
      socket.pid(pid);
      return recover(socket, saved, auth);
    });
  }

  private Future<String> recover(SioSocket socket, SioRecovery.Saved saved, JsonNode auth) {
    // Back within the window: the same vocabulary, and every room again from where this client got to
    // (the offset it sent for its room, what it was last sent for the others). The CONNECT reply keeps
    // the pid (the client reports recovered) only if every room could be replayed.
    Dialect dialect;
    try {
      dialect = Dialect.valueOf(saved.state());
    } catch (IllegalArgumentException e) {
      dialect = Dialect.UNDECIDED;
    }
    socket.state(dialect);
    if (dialect != Dialect.NATIVE) {
      socket.hub().watch(socket.session(), config.defaultRoom());
    }
    Map.Entry<String, dev.parley.core.StreamPosition> sent = auth.path("offset").isTextual()
      ? SioRecovery.parse(auth.get("offset").textValue()) : null;
    List<Future<Boolean>> rejoins = new ArrayList<>();
    for (Map.Entry<String, String> room : saved.rooms().entrySet()) {
      dev.parley.core.StreamPosition since = sent != null && sent.getKey().equals(room.getKey())
        ? sent.getValue() : saved.positions().get(room.getKey());
      if (since == null) {
        rejoins.add(socket.hub().join(socket.session(), room.getKey(), room.getValue()).map(false));
      } else {
        rejoins.add(socket.hub().rejoin(socket.session(), room.getKey(), room.getValue(), since));
      }
    }
    return Future.join(rejoins).transform(ar -> {
      boolean all = rejoins.stream().allMatch(f -> f.succeeded() && Boolean.TRUE.equals(f.result()));
      if (!all) {
        socket.pid(SioRecovery.newPid()); // a new pid: the client reports it did not recover
      }
      return Future.succeededFuture(socket.pid());
    });
  }

  @Override
  public void onDisconnect(SioSocket socket, String reason) {
    if (recovery.enabled() && socket.pid() != null && !reason.endsWith("namespace disconnect")) {
      Object state = socket.state();
      recovery.save(socket.pid(), new SioRecovery.Saved(socket.nsp(), String.valueOf(state), socket.session().rooms(),
        socket.positions()));
    }
  }

  private void speak(SioSocket socket, Dialect dialect) {
    if (socket.state() != dialect) {
      socket.state(dialect);
      if (dialect == Dialect.NATIVE) {
        socket.hub().unwatch(socket.session(), config.defaultRoom());
      }
    }
  }

  /**
   * Parses an event of any vocabulary into a command for the session; the answer comes back through
   * {@link #onReply}, in the vocabulary the socket speaks.
   */
  @Override
  public void onEvent(SioSocket socket, String event, ArrayNode args, List<Buffer> attachments, SioAck ack) {
    Command command;
    try {
      command = parse(socket, event, args);
    } catch (ChatException e) {
      command = new Command.Invalid(e);
    }
    socket.session().handle(command, ack);
  }

  private Command parse(SioSocket socket, String event, ArrayNode args) {
    JsonNode first = args.isEmpty() ? null : args.get(0);
    switch (event) {
      case "join" -> {
        speak(socket, Dialect.NATIVE);
        return CommandFields.join(object(first));
      }
      case "publish" -> {
        if (first != null && first.has("value")) {
          speak(socket, Dialect.SEED000);
          return new Command.Publish(config.defaultRoom(), first.get("value").asText());
        }
        speak(socket, Dialect.NATIVE);
        return CommandFields.publish(object(first));
      }
      case "leave" -> {
        speak(socket, Dialect.NATIVE);
        return CommandFields.leave(object(first));
      }
      case "history" -> {
        speak(socket, Dialect.NATIVE);
        return CommandFields.history(object(first));
      }
      case "auth" -> {
        return CommandFields.auth(first);
      }
      case "connected" -> {
        speak(socket, Dialect.SEED000);
        return new Command.Join(config.defaultRoom(), first == null ? null : first.asText(null));
      }
      case "chat message" -> {
        speak(socket, Dialect.SEED003);
        String user = first == null ? null : first.asText(null);
        String message = args.size() > 1 ? args.get(1).asText() : null;
        if (message == null) {
          throw new ChatException(ErrorCode.BAD_REQUEST, "chat message needs (user, message)");
        }
        return new Command.Publish(config.defaultRoom(), message, user);
      }
      default -> throw new ChatException(ErrorCode.BAD_REQUEST, "unknown event \"" + truncate(event) + "\"");
    }
  }

  @Override
  public void onReply(SioSocket socket, SioAck ack, Outcome outcome) {
    JsonNode answer;
    if (outcome instanceof Outcome.Joined joined) {
      JsonNode p = Json.MAPPER.valueToTree(joined.presence());
      if (socket.state() == Dialect.NATIVE) {
        socket.emit("presence", Json.MAPPER.createArrayNode().add(p));
      }
      answer = p;
    } else if (outcome instanceof Outcome.Published published) {
      answer = CommandFields.published(published.message());
    } else if (outcome instanceof Outcome.History page) {
      answer = CommandFields.historyPage(page);
    } else if (outcome instanceof Outcome.Authed authed) {
      answer = CommandFields.authed(authed.identity());
    } else if (outcome instanceof Outcome.Failed failed) {
      SioConnection.refuse(socket, ack, failed.error());
      return;
    } else {
      answer = Json.MAPPER.createObjectNode();
    }
    if (ack != null) {
      ack.send(Json.MAPPER.createArrayNode().add(answer));
    }
  }

  private static String truncate(String s) {
    return s.length() > 32 ? s.substring(0, 32) + "..." : s;
  }

  private static JsonNode object(JsonNode first) {
    if (first == null || !first.isObject()) {
      throw new ChatException(ErrorCode.BAD_REQUEST, "expected an object with room");
    }
    return first;
  }



}
