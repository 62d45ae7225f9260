package dev.parley;

import dev.parley.support.TestRedis;
import dev.parley.support.TestServer;
import io.vertx.core.Future;
import io.vertx.core.Vertx;

import java.util.concurrent.TimeUnit;

/** Polling without affinity across three nodes on one Redis. */
class RedisNoAffinityTest extends NoAffinityTest {

  private TestRedis redis;
  private Vertx nodeA;
  private Vertx nodeB;
  private Vertx nodeC;

  @Override
  protected int[] startNodes() throws Exception {
    redis = TestRedis.start();
    nodeA = Vertx.vertx();
    nodeB = Vertx.vertx();
    nodeC = Vertx.vertx();
    // two instances on node A: a relayed request may land on either, and must reach the session's loop
    var all = Future.all(TestServer.start(nodeA, RedisChatTest.redisConfig(redis.uri()), 2),
        TestServer.start(nodeB, RedisChatTest.redisConfig(redis.uri()), 1),
        TestServer.start(nodeC, RedisChatTest.redisConfig(redis.uri()), 1))
      .toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
    return new int[] {all.resultAt(0), all.resultAt(1), all.resultAt(2)};
  }

  @Override
  protected void stopNodes() throws Exception {
    Future.join(nodeA.close(), nodeB.close(), nodeC.close()).toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
    redis.close();
  }
}
