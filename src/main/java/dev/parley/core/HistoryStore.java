package dev.parley.core;

import io.vertx.core.Future;

import java.util.List;

/**
 * Each room's recent messages, in order, with the position that orders them across every hub and node
 * sharing the broker. Implementations are thread-safe (hubs on different event loops call them).
 *
 * <p>Guarantees (checked by the history contract tests): offsets of one room grow by exactly one per
 * appended message, in the order the appends completed; every reader sees the same message at the same
 * position; a message survives for the configured size and time unless the stream's epoch changes; a
 * retry of a client message id ({@code cid}) within the window returns the original message.
 */
public interface HistoryStore {

  /** Whether messages are kept at all; when not, messages carry no offset and nothing can be recovered. */
  boolean enabled();

  /** Whether this room keeps history ({@code history.rooms} may turn it off for some rooms). */
  default boolean keeps(String room) {
    return enabled();
  }

  /**
   * Appends a message (its {@code offset} and {@code epoch} unset) to its room's stream. Completes with
   * the message as stored, now positioned; with {@code cid} set and already used in the room within the
   * window, with the original message instead, marked as a duplicate.
   */
  Future<Appended> append(ChatEvent.Message message, String cid);

  /** Where the room's stream is now: its epoch and the offset of its last message (0 when empty). */
  Future<StreamPosition> top(String room);

  /**
   * Everything after {@code after}, oldest first, or why that cannot be given: the epoch is not the
   * stream's ({@link Replay#EPOCH_CHANGED}), or messages after it are no longer kept ({@link Replay#TOO_OLD}).
   */
  Future<Replay> since(String room, StreamPosition after);

  /**
   * Up to {@code limit} messages before offset {@code before} (exclusive; 0 for the newest), oldest first,
   * with the stream's top at the time of the read.
   */
  Future<Replay> before(String room, long before, int limit);

  /** An appended message, and whether it had been appended before under the same client id. */
  record Appended(ChatEvent.Message message, boolean duplicate) {
  }

  /**
   * Messages read from a stream, oldest first, and the stream's top when read; or {@code failure} (a
   * documented reason code) and no messages.
   */
  record Replay(List<ChatEvent.Message> messages, StreamPosition top, String failure) {
    /** The client's epoch is not the stream's: its history was lost, or the position is from elsewhere. */
    public static final String EPOCH_CHANGED = "epoch_changed";
    /** Messages after the client's position are no longer kept (past {@code history.size} or its age). */
    public static final String TOO_OLD = "too_old";
    /** The history store could not be reached. */
    public static final String UNAVAILABLE = "unavailable";
    /** History is off for this room. */
    public static final String HISTORY_OFF = "history_off";

    public Replay {
      messages = List.copyOf(messages);
    }

    public static Replay of(List<ChatEvent.Message> messages, StreamPosition top) {
      return new Replay(messages, top, null);
    }

    public static Replay failed(String reason, StreamPosition top) {
      return new Replay(List.of(), top, reason);
    }

    public boolean recovered() {
      return failure == null;
    }
  }

  /** No history: messages are only in flight. */
  HistoryStore OFF = new HistoryStore() {
    @Override
    public boolean enabled() {
      return false;
    }

    @Override
    public Future<Appended> append(ChatEvent.Message message, String cid) {
      return Future.succeededFuture(new Appended(message, false));
    }

    @Override
    public Future<StreamPosition> top(String room) {
      return Future.succeededFuture(new StreamPosition("", 0));
    }

    @Override
    public Future<Replay> since(String room, StreamPosition after) {
      return Future.succeededFuture(Replay.failed(Replay.HISTORY_OFF, new StreamPosition("", 0)));
    }

    @Override
    public Future<Replay> before(String room, long before, int limit) {
      return Future.succeededFuture(Replay.of(List.of(), new StreamPosition("", 0)));
    }
  };
}
