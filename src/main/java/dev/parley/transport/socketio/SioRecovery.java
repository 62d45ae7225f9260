package dev.parley.transport.socketio;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.core.Json;
import dev.parley.core.KeptState;
import dev.parley.core.StreamPosition;
import io.vertx.core.Future;

import java.security.SecureRandom;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Socket.IO connection state recovery, the server's side: each socket gets a private id ({@code pid}) in
 * its CONNECT reply; when it drops, its namespace, vocabulary, rooms and the position of the last message
 * it was sent in each room are kept for {@code socketio.recoveryMs} in the broker's {@link KeptState}
 * (shared by every node with Redis or Hazelcast). A client that reconnects within that time, to any node,
 * sends its {@code pid} and the offset of the last event it got; its rooms are joined again from there.
 *
 * <p>An offset, as appended to each message event, is {@code <epoch>:<offset>:<room>}.
 */
final class SioRecovery {

  private static final SecureRandom RANDOM = new SecureRandom();

  /** What a socket left behind: its vocabulary (the handler's state, by name), rooms and positions. */
  record Saved(String nsp, String state, Map<String, String> rooms, Map<String, StreamPosition> positions) {
  }

  private final long windowMs;
  private final KeptState kept;

  SioRecovery(long windowMs, KeptState kept) {
    this.windowMs = windowMs;
    this.kept = kept;
  }

  boolean enabled() {
    return windowMs > 0;
  }

  static String newPid() {
    byte[] b = new byte[16];
    RANDOM.nextBytes(b);
    return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
  }

  void save(String pid, Saved saved) {
    ObjectNode json = Json.MAPPER.createObjectNode().put("nsp", saved.nsp()).put("state", saved.state());
    ObjectNode rooms = json.putObject("rooms");
    saved.rooms().forEach(rooms::put);
    ObjectNode positions = json.putObject("positions");
    saved.positions().forEach((room, at) -> positions.putArray(room).add(at.epoch()).add(at.offset()));
    kept.keep("sio:" + pid, json.toString(), windowMs);
  }

  /** The state a socket left, once: null when unknown, expired, unreadable or of another namespace. */
  Future<Saved> take(String pid, String nsp) {
    if (pid == null || pid.length() > 64) {
      return Future.succeededFuture();
    }
    return kept.take("sio:" + pid).map(text -> {
      if (text == null) {
        return null;
      }
      try {
        JsonNode json = Json.parseTree(text);
        if (!nsp.equals(json.path("nsp").asText())) {
          return null;
        }
        Map<String, String> rooms = new LinkedHashMap<>();
        json.path("rooms").fields().forEachRemaining(e -> rooms.put(e.getKey(), e.getValue().asText()));
        Map<String, StreamPosition> positions = new LinkedHashMap<>();
        json.path("positions").fields().forEachRemaining(e ->
          positions.put(e.getKey(), new StreamPosition(e.getValue().path(0).asText(), e.getValue().path(1).asLong())));
        return new Saved(nsp, json.path("state").asText(), rooms, positions);
      } catch (RuntimeException e) {
        return null;
      }
    }).otherwise((Saved) null);
  }

  static String offset(String room, StreamPosition at) {
    return at.epoch() + ":" + at.offset() + ":" + room;
  }

  /** The room and position an offset names; null when it is not one of ours. */
  static Map.Entry<String, StreamPosition> parse(String offset) {
    if (offset == null) {
      return null;
    }
    String[] parts = offset.split(":", 3);
    if (parts.length != 3) {
      return null;
    }
    try {
      return Map.entry(parts[2], new StreamPosition(parts[0], Long.parseLong(parts[1])));
    } catch (NumberFormatException e) {
      return null;
    }
  }
}
