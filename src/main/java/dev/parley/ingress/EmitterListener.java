package dev.parley.ingress;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.ParleyNode;
import dev.parley.broker.redis.RedisLink;
import dev.parley.config.ParleyConfig.EmitterConfig;
import dev.parley.core.ChatEvent;
import dev.parley.core.Envelope;
import dev.parley.core.Json;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import org.msgpack.core.MessagePack;
import org.msgpack.core.MessageUnpacker;
import org.msgpack.value.ArrayValue;
import org.msgpack.value.MapValue;
import org.msgpack.value.Value;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Lets processes that are not chat servers reach clients through Redis, wire-compatible with the
 * unmodified npm {@code @socket.io/redis-emitter} 5.x (classic pub/sub).
 *
 * <p>Broadcasts: {@code PSUBSCRIBE <key>#/#*} (the default namespace), payload MessagePack
 * {@code [uid, {type: 2, data: [event, ...args], nsp: "/"}, {rooms, except, flags}]}. No rooms means
 * every connection of the node; a session id works as a room holding just that session; {@code except}
 * is honoured. Native clients get {@code {"type":"event","event":...,"args":[...],"room":...}}; binary
 * arguments become base64 strings. Every node receives every emit from Redis directly, so this is not
 * relayed through the broker.
 *
 * <p>Requests: {@code SUBSCRIBE <key>-request#/#}, JSON with numeric types 2 (socketsJoin), 3
 * (socketsLeave), 4 (disconnectSockets).
 */
public final class EmitterListener {

  private static final Logger LOG = LoggerFactory.getLogger(EmitterListener.class);
  private static final int REMOTE_JOIN = 2;
  private static final int REMOTE_LEAVE = 3;
  private static final int REMOTE_DISCONNECT = 4;
  private static final int EVENT = 2;
  private static final int BINARY_EVENT = 5;

  private final ParleyNode node;
  private final String broadcastPrefix;
  private final String requestChannel;
  private RedisLink link;

  private EmitterListener(ParleyNode node, EmitterConfig config) {
    this.node = node;
    this.broadcastPrefix = config.key() + "#/#";
    this.requestChannel = config.key() + "-request#/#";
  }

  public static Future<EmitterListener> start(Vertx vertx, ParleyNode node, EmitterConfig config) {
    EmitterListener listener = new EmitterListener(node, config);
    listener.link = new RedisLink(vertx, "emitter", config.redisUri(), listener::onPush, c -> {
      c.send(Request.cmd(Command.PSUBSCRIBE).arg(listener.broadcastPrefix + "*"));
      c.send(Request.cmd(Command.SUBSCRIBE).arg(listener.requestChannel));
    });
    return listener.link.start().map(listener);
  }

  public Future<Void> close() {
    return link.close();
  }

  private void onPush(Response push) {
    if (push == null || push.size() < 3) {
      return;
    }
    String kind = push.get(0).toString();
    try {
      if ("pmessage".equals(kind) && push.size() >= 4) {
        onBroadcast(push.get(3).toBuffer());
      } else if ("message".equals(kind) && requestChannel.equals(push.get(1).toString())) {
        onRequest(push.get(2).toString());
      }
    } catch (RuntimeException | IOException e) {
      LOG.warn("ignoring an unreadable emitter message: {}", e.toString());
    }
  }

  /** Decodes one emitter broadcast and hands it to every hub of the node, encoded once. */
  void onBroadcast(Buffer payload) throws IOException {
    Broadcast b = decode(payload.getBytes());
    if (b == null) {
      return;
    }
    Envelope event = new Envelope(node.id() + ".emitter", b.event());
    node.forEachHub(hub -> hub.deliverOutside(event, b.rooms(), b.except()));
  }

  /** A decoded emit: the event and its targets. */
  record Broadcast(ChatEvent.External event, Set<String> rooms, Set<String> except) {
  }

  /**
   * Reads {@code [uid, packet, opts]}; null when it is not an event of the default namespace. Anything
   * malformed (truncated MessagePack, values of the wrong type) is an {@link IOException}.
   */
  static Broadcast decode(byte[] msgpack) throws IOException {
    try {
      return decodeUnchecked(msgpack);
    } catch (RuntimeException e) {
      throw new IOException("malformed emitter message: " + e, e);
    }
  }

  private static Broadcast decodeUnchecked(byte[] msgpack) throws IOException {
    try (MessageUnpacker unpacker = MessagePack.newDefaultUnpacker(msgpack)) {
      Value root = readBounded(unpacker, msgpack.length, 0);
      if (!root.isArrayValue() || root.asArrayValue().size() < 3) {
        throw new IOException("not an [uid, packet, opts] array");
      }
      ArrayValue array = root.asArrayValue();
      Map<Value, Value> packet = array.get(1).asMapValue().map();
      Map<Value, Value> opts = array.get(2).isMapValue() ? array.get(2).asMapValue().map() : Map.of();
      int type = intField(packet, "type");
      String nsp = stringField(packet, "nsp", "/");
      if ((type != EVENT && type != BINARY_EVENT) || !"/".equals(nsp)) {
        return null;
      }
      Value data = field(packet, "data");
      if (data == null || !data.isArrayValue() || data.asArrayValue().size() == 0) {
        throw new IOException("event without data");
      }
      ArrayValue d = data.asArrayValue();
      String name = d.get(0).isStringValue() ? d.get(0).asStringValue().asString() : d.get(0).toString();
      ArrayNode args = JsonNodeFactory.instance.arrayNode();
      for (int i = 1; i < d.size(); i++) {
        args.add(toJson(d.get(i)));
      }
      Set<String> rooms = strings(field(opts, "rooms"));
      Set<String> except = strings(field(opts, "except"));
      String room = rooms.size() == 1 ? rooms.iterator().next() : null;
      return new Broadcast(new ChatEvent.External(name, args, room), rooms, except);
    }
  }

  /** Deepest nesting an emitter message may have (real ones nest two or three levels). */
  private static final int MAX_DEPTH = 32;

  /**
   * Reads one MessagePack value, refusing sizes that the remaining bytes cannot hold and nesting deeper
   * than {@link #MAX_DEPTH}: a few bytes that announce a huge array would otherwise make the generic
   * reader allocate it (an out-of-memory found by fuzzing), and deep nesting would overflow the stack.
   */
  private static Value readBounded(MessageUnpacker in, int total, int depth) throws IOException {
    if (depth > MAX_DEPTH) {
      throw new IOException("nested deeper than " + MAX_DEPTH);
    }
    long remaining = total - in.getTotalReadBytes();
    org.msgpack.core.MessageFormat format = in.getNextFormat();
    switch (format.getValueType()) {
      case ARRAY -> {
        int size = in.unpackArrayHeader();
        if (size > remaining) {
          throw new IOException("array of " + size + " in " + remaining + " bytes");
        }
        Value[] items = new Value[size];
        for (int i = 0; i < size; i++) {
          items[i] = readBounded(in, total, depth + 1);
        }
        return org.msgpack.value.ValueFactory.newArray(items, true);
      }
      case MAP -> {
        int size = in.unpackMapHeader();
        if (2L * size > remaining) {
          throw new IOException("map of " + size + " in " + remaining + " bytes");
        }
        Value[] kvs = new Value[2 * size];
        for (int i = 0; i < kvs.length; i++) {
          kvs[i] = readBounded(in, total, depth + 1);
        }
        return org.msgpack.value.ValueFactory.newMap(kvs, true);
      }
      case STRING -> {
        return org.msgpack.value.ValueFactory.newString(in.readPayload(checked(in.unpackRawStringHeader(), remaining)), true);
      }
      case BINARY -> {
        return org.msgpack.value.ValueFactory.newBinary(in.readPayload(checked(in.unpackBinaryHeader(), remaining)), true);
      }
      case EXTENSION -> {
        org.msgpack.core.ExtensionTypeHeader h = in.unpackExtensionTypeHeader();
        return org.msgpack.value.ValueFactory.newExtension(h.getType(), in.readPayload(checked(h.getLength(), remaining)));
      }
      default -> {
        return in.unpackValue();
      }
    }
  }

  /** A length the remaining bytes can hold (a header alone must not make the reader allocate more). */
  private static int checked(int length, long remaining) throws IOException {
    if (length < 0 || length > remaining) {
      throw new IOException(length + " bytes announced, " + remaining + " left");
    }
    return length;
  }

  private void onRequest(String json) {
    JsonNode request = Json.parseTree(json);
    int type = request.path("type").asInt(-1);
    Set<String> rooms = strings(request.path("opts").path("rooms"));
    Set<String> except = strings(request.path("opts").path("except"));
    List<String> target = new ArrayList<>(strings(request.path("rooms")));
    switch (type) {
      case REMOTE_JOIN -> node.forEachHub(hub -> hub.remoteJoin(rooms, except, target));
      case REMOTE_LEAVE -> node.forEachHub(hub -> hub.remoteLeave(rooms, except, target));
      case REMOTE_DISCONNECT -> node.forEachHub(hub -> hub.remoteDisconnect(rooms, except));
      default -> LOG.debug("ignoring emitter request type {}", type);
    }
  }

  private static Set<String> strings(JsonNode array) {
    Set<String> out = new LinkedHashSet<>();
    if (array != null && array.isArray()) {
      array.forEach(n -> out.add(n.asText()));
    }
    return out;
  }

  private static Set<String> strings(Value array) {
    Set<String> out = new LinkedHashSet<>();
    if (array != null && array.isArrayValue()) {
      for (Value v : array.asArrayValue()) {
        out.add(v.isStringValue() ? v.asStringValue().asString() : v.toString());
      }
    }
    return out;
  }

  private static Value field(Map<Value, Value> map, String key) {
    for (Map.Entry<Value, Value> e : map.entrySet()) {
      if (e.getKey().isStringValue() && key.equals(e.getKey().asStringValue().asString())) {
        return e.getValue();
      }
    }
    return null;
  }

  private static int intField(Map<Value, Value> map, String key) {
    Value v = field(map, key);
    return v != null && v.isIntegerValue() ? v.asIntegerValue().asInt() : -1;
  }

  private static String stringField(Map<Value, Value> map, String key, String def) {
    Value v = field(map, key);
    return v != null && v.isStringValue() ? v.asStringValue().asString() : def;
  }

  /** MessagePack to JSON: maps, arrays, scalars as themselves; binary as a base64 string. */
  static JsonNode toJson(Value v) {
    JsonNodeFactory f = JsonNodeFactory.instance;
    return switch (v.getValueType()) {
      case NIL -> f.nullNode();
      case BOOLEAN -> f.booleanNode(v.asBooleanValue().getBoolean());
      case INTEGER -> v.asIntegerValue().isInLongRange() ? f.numberNode(v.asIntegerValue().toLong())
        : f.numberNode(v.asIntegerValue().toBigInteger());
      case FLOAT -> f.numberNode(v.asFloatValue().toDouble());
      case STRING -> f.textNode(v.asStringValue().asString());
      case BINARY -> f.textNode(Base64.getEncoder().encodeToString(v.asBinaryValue().asByteArray()));
      case ARRAY -> {
        ArrayNode a = f.arrayNode();
        v.asArrayValue().forEach(x -> a.add(toJson(x)));
        yield a;
      }
      case MAP -> {
        ObjectNode o = f.objectNode();
        MapValue m = v.asMapValue();
        m.map().forEach((k, x) -> o.set(k.isStringValue() ? k.asStringValue().asString() : k.toString(), toJson(x)));
        yield o;
      }
      case EXTENSION -> f.nullNode();
    };
  }
}
