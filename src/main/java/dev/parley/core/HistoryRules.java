package dev.parley.core;

/**
 * How much history each room keeps: {@code size} messages (0: none) for {@code ttlMs}. The configuration
 * sets a default and rules by room pattern ({@code history.rooms}); stores ask per room.
 */
public interface HistoryRules {

  int size(String room);

  long ttlMs(String room);

  /** Whether the room keeps any history. */
  default boolean keeps(String room) {
    return size(room) > 0;
  }

  /** The same for every room. */
  static HistoryRules fixed(int size, long ttlMs) {
    return new HistoryRules() {
      @Override
      public int size(String room) {
        return size;
      }

      @Override
      public long ttlMs(String room) {
        return ttlMs;
      }
    };
  }
}
