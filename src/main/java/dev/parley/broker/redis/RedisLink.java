package dev.parley.broker.redis;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.RedisConnection;
import io.vertx.redis.client.RedisOptions;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.ThreadLocalRandom;

/**
 * One long-lived Redis connection that comes back by itself. While Redis is unreachable, commands fail
 * at once (nothing queues up); the outage is logged once, reconnection retries with exponential backoff
 * and jitter (100 ms to 5 s), and {@code onConnect} runs again after every reconnection so the owner can
 * resubscribe and resynchronize. Its state lives on the context that created it.
 */
public final class RedisLink {

  private static final Logger LOG = LoggerFactory.getLogger(RedisLink.class);
  private static final long MIN_BACKOFF_MS = 100;
  private static final long MAX_BACKOFF_MS = 5_000;

  private final Vertx vertx;
  private final Context context;
  private final String name;
  private final Redis client;
  private final Handler<Response> pushHandler;
  private final Handler<RedisConnection> onConnect;
  private volatile RedisConnection connection;
  private long backoff = MIN_BACKOFF_MS;
  private boolean outageLogged;
  private boolean closed;
  private long retryTimer = -1;

  public RedisLink(Vertx vertx, String name, String uri, Handler<Response> pushHandler, Handler<RedisConnection> onConnect) {
    this.vertx = vertx;
    this.context = vertx.getOrCreateContext();
    this.name = name;
    this.client = Redis.createClient(vertx, new RedisOptions().setConnectionString(uri).setMaxWaitingHandlers(100_000));
    this.pushHandler = pushHandler;
    this.onConnect = onConnect;
  }

  /** Makes the first connection attempt; completes either way (a failure schedules retries). */
  public Future<Void> start() {
    Promise<Void> first = Promise.promise();
    context.runOnContext(v -> connect(first));
    return first.future();
  }

  /**
   * Fails unless called on the link's own context (the node's): the connection state is confined to it,
   * and a call from a hub's loop would race with reconnects.
   */
  void checkContext() {
    if (Vertx.currentContext() != context) {
      throw new IllegalStateException("Redis link " + name + " used off its context, from " + Thread.currentThread().getName());
    }
  }

  public boolean isUp() {
    return connection != null;
  }

  /** Sends a command; fails at once while the link is down. */
  public Future<Response> send(Request request) {
    RedisConnection c = connection;
    if (c == null) {
      return Future.failedFuture(new IllegalStateException("redis " + name + " connection is down"));
    }
    return c.send(request);
  }

  public Future<Void> close() {
    Promise<Void> done = Promise.promise();
    context.runOnContext(v -> {
      closed = true;
      if (retryTimer >= 0) {
        vertx.cancelTimer(retryTimer);
      }
      RedisConnection c = connection;
      connection = null;
      (c == null ? Future.<Void>succeededFuture() : c.close()).onComplete(ar -> client.close().onComplete(x -> done.complete()));
    });
    return done.future();
  }

  private void connect(Promise<Void> first) {
    checkContext();
    if (closed) {
      first.tryComplete();
      return;
    }
    // the connection completes on the Redis client's own thread: come back to this link's context
    dev.parley.broker.Callers.onCaller(client.connect()).onComplete(ar -> {
      if (closed) {
        if (ar.succeeded()) {
          ar.result().close();
        }
        first.tryComplete();
        return;
      }
      if (ar.failed()) {
        if (!outageLogged) {
          outageLogged = true;
          LOG.warn("redis {} unreachable ({}); serving local rooms and retrying with backoff", name, ar.cause().getMessage());
        }
        first.tryComplete();
        retry();
        return;
      }
      RedisConnection c = ar.result();
      c.handler(pushHandler);
      c.exceptionHandler(err -> lost(c, String.valueOf(err)));
      c.endHandler(v -> lost(c, "connection closed"));
      connection = c;
      backoff = MIN_BACKOFF_MS;
      if (outageLogged) {
        LOG.info("redis {} is back", name);
        outageLogged = false;
      }
      onConnect.handle(c);
      first.tryComplete();
    });
  }

  private void lost(RedisConnection c, String why) {
    context.runOnContext(v -> {
      if (connection != c) {
        return;
      }
      connection = null;
      if (!closed) {
        if (!outageLogged) {
          outageLogged = true;
          LOG.warn("redis {} connection lost ({}); serving local rooms and reconnecting", name, why);
        }
        retry();
      }
    });
  }

  private void retry() {
    checkContext();
    long delay = backoff / 2 + ThreadLocalRandom.current().nextLong(backoff / 2 + 1);
    backoff = Math.min(MAX_BACKOFF_MS, backoff * 2);
    retryTimer = vertx.setTimer(Math.max(1, delay), t -> {
      retryTimer = -1;
      connect(Promise.promise());
    });
  }
}
