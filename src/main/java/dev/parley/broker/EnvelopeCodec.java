package dev.parley.broker;

import dev.parley.core.Envelope;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.MessageCodec;

import java.nio.charset.StandardCharsets;

/**
 * Event-bus codec for {@link Envelope}. Inside one JVM the envelope is passed by reference (it is
 * immutable, and its encodings are shared); between clustered nodes it travels as three
 * length-prefixed UTF-8 strings (length -1 for null): origin, room, and the event's client JSON, which
 * the receiving node writes to its clients as is. The same bytes travel over Redis.
 */
public final class EnvelopeCodec implements MessageCodec<Envelope, Envelope> {

  public static final String NAME = "parley-envelope";

  /** The wire form of an envelope, as a fresh buffer. */
  public static Buffer encode(Envelope envelope) {
    Buffer buffer = Buffer.buffer();
    new EnvelopeCodec().encodeToWire(buffer, envelope);
    return buffer;
  }

  /** Reads an envelope written by {@link #encode}. */
  public static Envelope decode(Buffer buffer) {
    return new EnvelopeCodec().decodeFromWire(0, buffer);
  }

  @Override
  public void encodeToWire(Buffer buffer, Envelope envelope) {
    putString(buffer, envelope.origin());
    putString(buffer, envelope.room());
    putString(buffer, envelope.json());
  }

  @Override
  public Envelope decodeFromWire(int pos, Buffer buffer) {
    int[] at = {pos};
    String origin = getString(buffer, at);
    String room = getString(buffer, at);
    String json = getString(buffer, at);
    return Envelope.fromWire(origin, room, json);
  }

  @Override
  public Envelope transform(Envelope envelope) {
    return envelope;
  }

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public byte systemCodecID() {
    return -1;
  }

  private static void putString(Buffer buffer, String s) {
    if (s == null) {
      buffer.appendInt(-1);
      return;
    }
    byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
    buffer.appendInt(bytes.length).appendBytes(bytes);
  }

  private static String getString(Buffer buffer, int[] at) {
    int length = buffer.getInt(at[0]);
    at[0] += 4;
    if (length < 0) {
      return null;
    }
    String s = buffer.getString(at[0], at[0] + length, "UTF-8");
    at[0] += length;
    return s;
  }
}
