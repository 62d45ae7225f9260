package dev.parley.support;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;

import java.util.function.BooleanSupplier;

/** Bounded polling for a condition that another thread makes true (no sleeping in tests). */
public final class Polling {

  public static final long BOUND_MS = 5_000;
  private static final long EVERY_MS = 20;

  private Polling() {
  }

  /** Completes once {@code condition} holds, checking every 20 ms; fails after {@link #BOUND_MS}. */
  public static Future<Void> until(Vertx vertx, BooleanSupplier condition, String what) {
    Promise<Void> done = Promise.promise();
    long deadline = System.nanoTime() + BOUND_MS * 1_000_000;
    check(vertx, condition, what, deadline, done);
    return done.future();
  }

  private static void check(Vertx vertx, BooleanSupplier condition, String what, long deadline, Promise<Void> done) {
    if (condition.getAsBoolean()) {
      done.complete();
    } else if (System.nanoTime() > deadline) {
      done.fail(new AssertionError("not within " + BOUND_MS + " ms: " + what));
    } else {
      vertx.setTimer(EVERY_MS, t -> check(vertx, condition, what, deadline, done));
    }
  }

  /** Completes once an asynchronous {@code probe} answers what {@code ok} accepts, asking every 20 ms; bounded as above. */
  public static <T> Future<Void> until(Vertx vertx, java.util.function.Supplier<Future<T>> probe,
                                       java.util.function.Predicate<T> ok, String what) {
    Promise<Void> done = Promise.promise();
    ask(vertx, probe, ok, what, System.nanoTime() + BOUND_MS * 1_000_000, done);
    return done.future();
  }

  /** {@link #until(Vertx, java.util.function.Supplier, java.util.function.Predicate, String)} with a bound of {@code boundMs}. */
  public static <T> Future<Void> until(Vertx vertx, java.util.function.Supplier<Future<T>> probe,
                                       java.util.function.Predicate<T> ok, String what, long boundMs) {
    Promise<Void> done = Promise.promise();
    ask(vertx, probe, ok, what, System.nanoTime() + boundMs * 1_000_000, done);
    return done.future();
  }

  private static <T> void ask(Vertx vertx, java.util.function.Supplier<Future<T>> probe, java.util.function.Predicate<T> ok,
                              String what, long deadline, Promise<Void> done) {
    probe.get().onComplete(ar -> {
      if (ar.succeeded() && ok.test(ar.result())) {
        done.complete();
      } else if (System.nanoTime() > deadline) {
        done.fail(new AssertionError("not in time: " + what + (ar.failed() ? " (" + ar.cause() + ")" : "")));
      } else {
        vertx.setTimer(EVERY_MS, t -> ask(vertx, probe, ok, what, deadline, done));
      }
    });
  }
}
