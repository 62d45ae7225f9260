package dev.parley.broker;

import dev.parley.broker.redis.RedisBroker;
import dev.parley.core.Broker;
import dev.parley.support.TestRedis;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

import java.io.IOException;
import java.util.List;

/** The contract on the Redis broker: two nodes (separate brokers) over a real redis-server. */
class RedisBrokerContractTest extends BrokerContractTest {

  private static TestRedis redis;

  @BeforeAll
  static void startRedis() throws IOException {
    redis = TestRedis.start();
  }

  @AfterAll
  static void stopRedis() throws IOException {
    redis.close();
  }

  @Override
  protected Future<List<Broker>> brokers(Vertx vertx) {
    String tag = Long.toString(System.nanoTime(), 36);
    return Future.all(RedisBroker.create(vertx, "na" + tag, redis.uri(), 3_000), RedisBroker.create(vertx, "nb" + tag, redis.uri(), 3_000))
      .map(all -> List.of(all.resultAt(0), all.resultAt(1)));
  }
}
