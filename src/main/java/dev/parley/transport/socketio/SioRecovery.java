package dev.parley.transport.socketio;

import dev.parley.core.StreamPosition;

import java.security.SecureRandom;
import java.util.Base64;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

/**
 * Socket.IO connection state recovery, the node's side: each socket gets a private id ({@code pid}) in its
 * CONNECT reply; when it ends, its namespace, vocabulary, rooms and the position of the last message it was
 * sent in each room are kept for {@code socketio.recoveryMs}. A client that reconnects within that time
 * sends its {@code pid} and the offset of the last event it got; its rooms are joined again from there.
 * One per node (every instance shares it), in memory: a client must come back to the same node.
 *
 * <p>An offset, as appended to each message event, is {@code <epoch>:<offset>:<room>}.
 */
final class SioRecovery {

  private static final SecureRandom RANDOM = new SecureRandom();

  /** What a socket left behind. {@code state} is the handler's (the chat's vocabulary). */
  record Saved(String nsp, Object state, Map<String, String> rooms, Map<String, StreamPosition> positions, long expiresAt) {
  }

  private final long windowMs;
  private final LongSupplier clock;
  private final Map<String, Saved> byPid = new ConcurrentHashMap<>();

  SioRecovery(long windowMs, LongSupplier clock) {
    this.windowMs = windowMs;
    this.clock = clock;
  }

  boolean enabled() {
    return windowMs > 0;
  }

  static String newPid() {
    byte[] b = new byte[16];
    RANDOM.nextBytes(b);
    return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
  }

  /** Most dropped sockets kept at once; beyond it a dropped socket keeps nothing (it will not recover). */
  static final int MAX_KEPT = 100_000;

  void save(String pid, String nsp, Object state, Map<String, String> rooms, Map<String, StreamPosition> positions) {
    long now = clock.getAsLong();
    if (byPid.size() >= MAX_KEPT / 2) {
      byPid.values().removeIf(s -> s.expiresAt() < now);
    }
    if (byPid.size() >= MAX_KEPT) {
      return;
    }
    byPid.put(pid, new Saved(nsp, state, Map.copyOf(rooms), Map.copyOf(positions), now + windowMs));
  }

  /** The state a socket left, once: null when unknown, expired or of another namespace. */
  Saved take(String pid, String nsp) {
    Saved s = pid == null ? null : byPid.remove(pid);
    return s == null || s.expiresAt() < clock.getAsLong() || !s.nsp().equals(nsp) ? null : s;
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
