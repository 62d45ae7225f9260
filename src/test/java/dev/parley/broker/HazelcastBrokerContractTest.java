package dev.parley.broker;

import dev.parley.broker.hazelcast.HazelcastBroker;
import dev.parley.core.Broker;
import dev.parley.support.TestCluster;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

import java.util.List;

/** The contract on the Hazelcast broker: three clustered Vert.x nodes in this JVM, over loopback. */
class HazelcastBrokerContractTest extends BrokerContractTest {

  private static TestCluster cluster;

  @BeforeAll
  static void startCluster() throws Exception {
    cluster = TestCluster.start(3);
  }

  @AfterAll
  static void stopCluster() throws Exception {
    cluster.close();
  }

  private final java.util.Map<Broker, Vertx> owners = new java.util.IdentityHashMap<>();

  @Override
  protected Future<List<Broker>> brokers(Vertx vertx) {
    String tag = Long.toString(System.nanoTime(), 36);
    Vertx a = cluster.node(0);
    Vertx b = cluster.node(2);
    return Future.all(HazelcastBroker.create(a, "ha" + tag), HazelcastBroker.create(b, "hb" + tag)).map(all -> {
      Broker first = all.resultAt(0);
      Broker second = all.resultAt(1);
      owners.put(first, a);
      owners.put(second, b);
      return List.of(first, second);
    });
  }

  @Override
  protected Vertx vertxOf(Broker broker, Vertx testVertx) {
    return owners.get(broker);
  }
}
