package dev.parley;

import dev.parley.support.TestCluster;
import dev.parley.support.TestServer;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;

import java.util.concurrent.TimeUnit;

/** Polling without affinity across three members of a Hazelcast cluster. */
class HazelcastNoAffinityTest extends NoAffinityTest {

  private TestCluster cluster;

  @Override
  protected int[] startNodes() throws Exception {
    cluster = TestCluster.start(3);
    JsonObject cfg = TestServer.config(new JsonObject().put("broker", new JsonObject().put("type", "hazelcast")));
    var all = Future.all(TestServer.startExactly(cluster.node(0), cfg), TestServer.startExactly(cluster.node(1), cfg),
        TestServer.startExactly(cluster.node(2), cfg))
      .toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
    return new int[] {all.resultAt(0), all.resultAt(1), all.resultAt(2)};
  }

  @Override
  protected void stopNodes() throws Exception {
    cluster.close();
  }
}
