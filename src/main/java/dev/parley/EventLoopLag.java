package dev.parley;

import dev.parley.ops.Metrics;
import io.vertx.core.Vertx;

import java.util.concurrent.atomic.AtomicLong;

/**
 * How late a hub's event loop runs a timer: {@code parley_event_loop_lag_seconds{hub}}, measured every
 * {@value #PERIOD_MS} ms on the loop itself (a busy or blocked loop shows here first).
 */
final class EventLoopLag {

  static final long PERIOD_MS = 500;

  private EventLoopLag() {
  }

  /** Starts measuring on the caller's event loop (a verticle's start). */
  static void watch(Vertx vertx, String hub, Metrics metrics) {
    AtomicLong lagNanos = new AtomicLong();
    AtomicLong expected = new AtomicLong(System.nanoTime() + PERIOD_MS * 1_000_000);
    metrics.gauge("parley_event_loop_lag_seconds", "How late the hub's event loop ran its last periodic check",
      () -> lagNanos.get() / 1e9, "hub", hub);
    vertx.setPeriodic(PERIOD_MS, t -> {
      long now = System.nanoTime();
      lagNanos.set(Math.max(0, now - expected.get()));
      expected.set(now + PERIOD_MS * 1_000_000);
    });
  }
}
