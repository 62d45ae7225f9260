package dev.parley.broker;

import dev.parley.broker.redis.RedisBroker;
import dev.parley.config.ParleyConfig.HistoryConfig;
import dev.parley.core.Broker;
import dev.parley.core.ChatEvent;
import dev.parley.core.HistoryStore;
import dev.parley.core.HistoryStore.Replay;
import dev.parley.core.StreamPosition;
import io.vertx.junit5.VertxTestContext;
import org.junit.jupiter.api.Test;
import dev.parley.support.TestRedis;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;

import java.io.IOException;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The history contract on Redis: two nodes (separate brokers) over one real redis-server. */
class RedisHistoryContractTest extends HistoryContractTest {

  private static TestRedis redis;
  private List<Broker> brokers;

  @BeforeAll
  static void startRedis() throws IOException {
    redis = TestRedis.start();
  }

  @AfterAll
  static void stopRedis() throws IOException {
    redis.close();
  }

  @Override
  protected List<HistoryStore> stores(Vertx vertx) {
    String tag = Long.toString(System.nanoTime(), 36);
    HistoryConfig config = new HistoryConfig(SIZE, 3_600_000, 64L << 20);
    try {
      brokers = Future.all(RedisBroker.create(vertx, "ha" + tag, redis.uri(), 3_000, config),
          RedisBroker.create(vertx, "hb" + tag, redis.uri(), 3_000, config))
        .map(all -> List.<Broker>of(all.resultAt(0), all.resultAt(1)))
        .toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
    // each test uses rooms of its own on this class's own redis-server
    return List.of(brokers.get(0).history(), brokers.get(1).history());
  }

  /**
   * A Redis that restarts empty loses the streams: a position from before is refused as epoch_changed
   * (never an empty, silent replay), and appends made while it was down start a new epoch once it is back.
   */
  @Test
  void aRedisRestartChangesTheEpoch(Vertx vertx, VertxTestContext ctx) throws Exception {
    ChatEvent.Message m = first.append(new ChatEvent.Message("restart", "s", "n", "before", 1, "i1"), null)
      .toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS).message();
    redis.stop();
    boolean failed = first.append(new ChatEvent.Message("restart", "s", "n", "during", 2, "i2"), null)
      .toCompletionStage().toCompletableFuture().handle((ok, err) -> err != null).get(10, TimeUnit.SECONDS);
    redis.restart();
    Future.all(topOnceBack(vertx, first, 200), topOnceBack(vertx, second, 200))
      .toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    Replay r = second.since("restart", new StreamPosition(m.epoch(), 1)).toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    ChatEvent.Message after = first.append(new ChatEvent.Message("restart", "s", "n", "after", 3, "i3"), null)
      .toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS).message();
    ctx.verify(() -> {
      assertTrue(failed, "an append while Redis is down fails (the hub then sends the message unkept)");
      assertEquals(Replay.EPOCH_CHANGED, r.failure());
      assertEquals(1L, after.offset(), "the stream starts afresh");
      assertNotEquals(m.epoch(), after.epoch(), "under a new epoch");
    });
    ctx.completeNow();
  }

  /** The stream's top once this store's broker has reconnected (tried every 100 ms, bounded). */
  private static Future<StreamPosition> topOnceBack(Vertx vertx, HistoryStore store, int attempts) {
    return store.top("restart").recover(err -> attempts == 0 ? Future.failedFuture(err)
      : Future.<Void>future(p -> vertx.setTimer(100, t -> p.complete())).compose(v -> topOnceBack(vertx, store, attempts - 1)));
  }

  @AfterEach
  void closeBrokers() throws Exception {
    Future.all(brokers.get(0).close(), brokers.get(1).close()).toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
  }
}
