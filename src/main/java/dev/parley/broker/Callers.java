package dev.parley.broker;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;

/**
 * Brings the result of work done on another thread (a Redis connection's, Hazelcast's) back to the
 * caller's event loop, so a hub's callbacks never run outside its own thread.
 */
public final class Callers {

  private Callers() {
  }

  /** A future that completes on the calling context with {@code work}'s result. */
  public static <T> Future<T> onCaller(Future<T> work) {
    Context caller = Vertx.currentContext();
    if (caller == null) {
      return work;
    }
    Promise<T> promise = Promise.promise();
    work.onComplete(ar -> {
      if (Vertx.currentContext() == caller) {
        promise.handle(ar);
      } else {
        caller.runOnContext(v -> promise.handle(ar));
      }
    });
    return promise.future();
  }
}
