package dev.parley.core;

import java.nio.charset.StandardCharsets;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

/**
 * One room event in flight: who produced it ({@link #origin()}, a hub id, so a hub can drop its own
 * echoes), the room, and the event. It is immutable in meaning and shared by reference between hubs of
 * one node; every encoding a transport needs is computed at most once per node and then reused for
 * every recipient ("encode once, write many").
 *
 * <p>An envelope built from the wire (another node) starts with only its JSON; the typed event is then
 * decoded lazily, if some transport asks for it.
 */
public final class Envelope {

  private final String origin;
  private final String room;
  private volatile ChatEvent event;
  private volatile String json;
  // Benign races: two threads may compute the same immutable value; either result is correct.
  private final Object[] encoded = new Object[Encoding.MAX];
  private volatile java.util.Map<Object, Object> byKey;

  public Envelope(String origin, ChatEvent event) {
    this.origin = Objects.requireNonNull(origin);
    this.event = Objects.requireNonNull(event);
    this.room = event.room();
  }

  private Envelope(String origin, String room, String json) {
    this.origin = Objects.requireNonNull(origin);
    this.room = room;
    this.json = Objects.requireNonNull(json);
  }

  /** An envelope received from another node: the client JSON as it was encoded there. */
  public static Envelope fromWire(String origin, String room, String json) {
    return new Envelope(origin, room, json);
  }

  public String origin() {
    return origin;
  }

  /** The room, or {@code null} for an outside event addressed to several rooms or to everyone. */
  public String room() {
    return room;
  }

  /** The typed event, decoded on first use when the envelope came from the wire. */
  public ChatEvent event() {
    ChatEvent e = event;
    if (e == null) {
      byte[] bytes = json.getBytes(StandardCharsets.UTF_8);
      event = e = Json.decodeEvent(bytes, 0, bytes.length);
    }
    return e;
  }

  /** The native-protocol JSON frame of the event, encoded once. */
  public String json() {
    String j = json;
    if (j == null) {
      json = j = Json.encode(event);
    }
    return j;
  }

  /**
   * An encoding that depends on runtime settings (a configured notice template, say): cached under a
   * key object that stands for those settings (one per node), computed once per key.
   */
  @SuppressWarnings("unchecked")
  public <T> T encoded(Object key, Function<Envelope, T> encoder) {
    java.util.Map<Object, Object> m = byKey;
    if (m == null) {
      synchronized (this) {
        m = byKey;
        if (m == null) {
          byKey = m = new java.util.concurrent.ConcurrentHashMap<>(4);
        }
      }
    }
    return (T) m.computeIfAbsent(key, k -> encoder.apply(this));
  }

  /** A transport-specific encoding of this envelope, computed once and then shared. */
  @SuppressWarnings("unchecked")
  public <T> T encoded(Encoding<T> encoding) {
    Object v = encoded[encoding.slot];
    if (v == null) {
      v = encoding.encoder.apply(this);
      encoded[encoding.slot] = v;
    }
    return (T) v;
  }

  /**
   * A named way to turn an envelope into what one transport writes (a bridge {@code rec} frame, a
   * Socket.IO packet...). Create one per transport as a constant.
   */
  public static final class Encoding<T> {
    static final int MAX = 8;
    private static final AtomicInteger SLOTS = new AtomicInteger();

    private final int slot;
    private final Function<Envelope, T> encoder;

    private Encoding(Function<Envelope, T> encoder) {
      this.slot = SLOTS.getAndIncrement();
      if (slot >= MAX) {
        throw new IllegalStateException("too many envelope encodings; raise Encoding.MAX");
      }
      this.encoder = encoder;
    }

    public static <T> Encoding<T> of(Function<Envelope, T> encoder) {
      return new Encoding<>(encoder);
    }
  }
}
