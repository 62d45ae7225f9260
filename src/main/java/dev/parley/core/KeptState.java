package dev.parley.core;

import io.vertx.core.Future;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

/**
 * Short-lived state shared by every node of the broker, kept under a key for a while and taken once:
 * what a dropped Socket.IO socket needs to recover on whichever node it reconnects to. Single node: in
 * memory; Redis: a key with an expiry; Hazelcast: a map entry with a time to live.
 */
public interface KeptState {

  /** Keeps {@code value} under {@code key} for {@code ttlMs}. Best effort: a failure is not reported. */
  void keep(String key, String value, long ttlMs);

  /** The value kept under {@code key}, removed; null when there is none (never kept, taken, or expired). */
  Future<String> take(String key);

  /** In this JVM's memory, bounded to {@code max} entries (beyond it nothing more is kept until some expire). */
  static KeptState inMemory(int max, LongSupplier clock) {
    Map<String, long[]> expiry = new ConcurrentHashMap<>();
    Map<String, String> values = new ConcurrentHashMap<>();
    return new KeptState() {
      @Override
      public void keep(String key, String value, long ttlMs) {
        long now = clock.getAsLong();
        if (values.size() >= max / 2) {
          expiry.entrySet().removeIf(e -> {
            boolean gone = e.getValue()[0] < now;
            if (gone) {
              values.remove(e.getKey());
            }
            return gone;
          });
        }
        if (values.size() < max) {
          expiry.put(key, new long[] {now + ttlMs});
          values.put(key, value);
        }
      }

      @Override
      public Future<String> take(String key) {
        long[] until = expiry.remove(key);
        String value = values.remove(key);
        return Future.succeededFuture(until == null || until[0] < clock.getAsLong() ? null : value);
      }
    };
  }
}
