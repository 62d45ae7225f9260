package dev.parley.broker;

import dev.parley.broker.hazelcast.HazelcastBroker;
import dev.parley.config.ParleyConfig.HistoryConfig;
import dev.parley.core.HistoryStore;
import dev.parley.support.TestCluster;
import io.vertx.core.Vertx;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The history contract on Hazelcast: two members of a three-node cluster in this JVM. Each test uses rooms
 * of its own; the map is shared by the whole class.
 */
class HazelcastHistoryContractTest extends HistoryContractTest {

  private static TestCluster cluster;
  private static List<HistoryStore> stores;

  @BeforeAll
  static void startCluster() throws Exception {
    cluster = TestCluster.start(3);
    HistoryConfig config = new HistoryConfig(SIZE, 3_600_000, 64L << 20);
    stores = List.of(
      HazelcastBroker.create(cluster.node(0), "ha", config).toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS).history(),
      HazelcastBroker.create(cluster.node(2), "hb", config).toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS).history());
  }

  @AfterAll
  static void stopCluster() throws Exception {
    cluster.close();
  }

  @Override
  protected List<HistoryStore> stores(Vertx vertx) {
    return stores;
  }
}
