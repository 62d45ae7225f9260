package dev.parley.broker;

import dev.parley.core.Broker;
import io.vertx.core.Future;
import io.vertx.core.Vertx;

import java.util.List;

/** The contract on the local broker: two hubs of one process over the plain event bus. */
class LocalBrokerContractTest extends BrokerContractTest {

  @Override
  protected Future<List<Broker>> brokers(Vertx vertx) {
    LocalPresenceStore presence = new LocalPresenceStore();
    return Future.succeededFuture(List.of(EventBusBroker.create(vertx, presence), EventBusBroker.create(vertx, presence)));
  }
}
