package dev.parley.core;

import io.vertx.core.Future;

import java.util.function.Supplier;

/** A history store whose operations are reported to the hub's {@link Telemetry} (operation, time, outcome). */
final class ObservedHistory implements HistoryStore {

  private final HistoryStore store;
  private final Supplier<Telemetry> telemetry;

  ObservedHistory(HistoryStore store, Supplier<Telemetry> telemetry) {
    this.store = store;
    this.telemetry = telemetry;
  }

  private <T> Future<T> observed(String op, Future<T> f) {
    long start = System.nanoTime();
    return f.andThen(ar -> telemetry.get().history(op, System.nanoTime() - start, ar.succeeded()));
  }

  @Override
  public boolean enabled() {
    return store.enabled();
  }

  @Override
  public boolean keeps(String room) {
    return store.keeps(room);
  }

  @Override
  public Future<Appended> append(ChatEvent.Message message, String cid) {
    return observed("append", store.append(message, cid));
  }

  @Override
  public Future<StreamPosition> top(String room) {
    return observed("top", store.top(room));
  }

  @Override
  public Future<Replay> since(String room, StreamPosition after) {
    return observed("since", store.since(room, after));
  }

  @Override
  public Future<Replay> before(String room, long before, int limit) {
    return observed("before", store.before(room, before, limit));
  }
}
