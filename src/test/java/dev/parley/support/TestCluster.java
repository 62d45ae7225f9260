package dev.parley.support;

import com.hazelcast.config.Config;
import com.hazelcast.config.FileSystemXmlConfig;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.eventbus.EventBusOptions;
import io.vertx.spi.cluster.hazelcast.HazelcastClusterManager;

import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

/**
 * Real Hazelcast-clustered Vert.x nodes in this JVM, configured from the shipped conf/cluster.xml (so
 * the tests check it), under a cluster name of their own so they never join a developer's cluster.
 * Started and stopped from test threads.
 */
public final class TestCluster implements AutoCloseable {

  private final List<Vertx> nodes = new ArrayList<>();

  public static TestCluster start(int size) throws Exception {
    TestCluster c = new TestCluster();
    String name = "parley-test-" + UUID.randomUUID();
    for (int i = 0; i < size; i++) {
      c.nodes.add(c.startNode(name));
    }
    return c;
  }

  private Vertx startNode(String clusterName) throws Exception {
    Config config = new FileSystemXmlConfig("conf/cluster.xml");
    config.setClusterName(clusterName);
    VertxOptions options = new VertxOptions().setEventBusOptions(new EventBusOptions().setHost("127.0.0.1").setPort(0));
    return Vertx.builder().with(options).withClusterManager(new HazelcastClusterManager(config)).buildClustered()
      .toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
  }

  public Vertx node(int i) {
    return nodes.get(i);
  }

  /** Kills node i's Hazelcast member without any goodbye, as kill -9 would (its Vert.x is left dangling). */
  public void crash(int i) {
    Vertx v = nodes.get(i);
    ((HazelcastClusterManager) ((io.vertx.core.internal.VertxInternal) v).clusterManager())
      .getHazelcastInstance().getLifecycleService().terminate();
  }

  public int size() {
    return nodes.size();
  }

  @Override
  public void close() throws Exception {
    try {
      Future.join(nodes.stream().map(Vertx::close).toList()).toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
    } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
      // a crashed node may not close cleanly; the others did
    }
  }
}
