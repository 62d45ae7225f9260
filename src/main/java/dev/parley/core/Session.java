package dev.parley.core;

import io.vertx.core.Future;
import io.vertx.core.Promise;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;

/**
 * One client connection inside a {@link Hub}: its cluster-unique id, its transport {@link Connection},
 * the rooms it joined (with the name it joined each under), and its per-connection limits. Confined to
 * the hub's event loop; transports never touch it from another thread.
 */
public final class Session {

  private final String id;
  private final Connection connection;
  private final Map<String, String> rooms = new LinkedHashMap<>();
  private final java.util.Set<String> watching = new java.util.LinkedHashSet<>();
  private final TokenBucket rate;
  private final int maxPending;
  private int pending;
  private Future<?> tail = Future.succeededFuture();
  private boolean closed;

  Session(String id, Connection connection, TokenBucket rate, int maxPending) {
    this.id = id;
    this.connection = connection;
    this.rate = rate;
    this.maxPending = maxPending;
  }

  public String id() {
    return id;
  }

  public Connection connection() {
    return connection;
  }

  /** Rooms joined, each with the name used there, in join order. Read-only view. */
  public Map<String, String> rooms() {
    return Collections.unmodifiableMap(rooms);
  }

  public boolean isClosed() {
    return closed;
  }

  java.util.Set<String> watching() {
    return watching;
  }

  Map<String, String> mutableRooms() {
    return rooms;
  }

  void markClosed() {
    closed = true;
  }

  /**
   * Counts one inbound frame against {@code limits.ratePerSecond} / {@code limits.rateBurst}; transports
   * call it for every frame, well-formed or not, and answer {@link ErrorCode#RATE_LIMITED} when it fails.
   */
  public void admit() {
    if (!rate.tryTake()) {
      throw new ChatException(ErrorCode.RATE_LIMITED, "too many frames, slow down");
    }
  }

  /**
   * Runs the client's commands one after the other, in arrival order, even when one of them waits on
   * the broker (a join waits for its room subscription). Refuses a command, rather than queueing without
   * bound, when {@code limits.maxPendingCommands} are already waiting.
   */
  public <T> Future<T> submit(Supplier<Future<T>> command) {
    if (closed) {
      return Future.failedFuture(new ChatException(ErrorCode.BAD_REQUEST, "connection is closed"));
    }
    if (pending >= maxPending) {
      return Future.failedFuture(new ChatException(ErrorCode.RATE_LIMITED, "too many commands waiting"));
    }
    pending++;
    Future<T> result;
    if (tail.isComplete()) {
      result = run(command);
    } else {
      Promise<T> promise = Promise.promise();
      tail.onComplete(ignored -> run(command).onComplete(promise));
      result = promise.future();
    }
    tail = result;
    return result.andThen(ignored -> pending--);
  }

  private static <T> Future<T> run(Supplier<Future<T>> command) {
    try {
      return command.get();
    } catch (ChatException e) {
      return Future.failedFuture(e);
    } catch (RuntimeException e) {
      return Future.failedFuture(e);
    }
  }
}
