package dev.parley.broker;

import dev.parley.core.Broker;
import dev.parley.core.Envelope;
import dev.parley.core.HistoryStore;
import dev.parley.core.KeptState;
import dev.parley.core.PresenceStore;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.EventBus;
import io.vertx.core.eventbus.MessageConsumer;

/**
 * A {@link Broker} over the Vert.x event bus: one consumer per room per hub on
 * {@code parley.broker.room.<room>}. On a plain Vert.x instance it connects the hubs (verticle
 * instances) of one JVM; on a clustered instance the same code reaches every node.
 *
 * <p>Order: the event bus keeps the order of messages from one sender to one consumer, which gives the
 * per-publisher per-room order the {@link Broker} contract promises. Delivery is at most once.
 */
public final class EventBusBroker implements Broker {

  static final String ADDRESS_PREFIX = "parley.broker.room.";

  private final EventBus eventBus;
  private final PresenceStore presence;
  private final HistoryStore history;
  private final DeliveryOptions delivery = new DeliveryOptions().setCodecName(EnvelopeCodec.NAME);

  private EventBusBroker(Vertx vertx, PresenceStore presence, HistoryStore history) {
    this.eventBus = vertx.eventBus();
    this.presence = presence;
    this.history = history;
  }

  /** A broker for one JVM; registers the envelope codec on the Vert.x instance if it is not there yet. */
  public static Broker create(Vertx vertx, PresenceStore presence) {
    return create(vertx, presence, HistoryStore.OFF);
  }

  public static Broker create(Vertx vertx, PresenceStore presence, HistoryStore history) {
    registerCodec(vertx);
    return new EventBusBroker(vertx, presence, history);
  }

  static void registerCodec(Vertx vertx) {
    try {
      vertx.eventBus().registerCodec(new EnvelopeCodec());
    } catch (IllegalStateException alreadyRegistered) {
      // another broker on this Vert.x instance did it
    }
  }

  @Override
  public Future<Subscription> subscribe(String room, Handler<Envelope> handler) {
    MessageConsumer<Envelope> consumer = eventBus.consumer(ADDRESS_PREFIX + room, msg -> handler.handle(msg.body()));
    return consumer.completion().map(v -> consumer::unregister);
  }

  @Override
  public void publish(Envelope event) {
    eventBus.publish(ADDRESS_PREFIX + event.room(), event, delivery);
  }

  @Override
  public PresenceStore presence() {
    return presence;
  }

  @Override
  public HistoryStore history() {
    return history;
  }

  /** One per JVM for the single-node broker (every hub of the node shares it); clustered use replaces it. */
  private final KeptState kept = KeptState.inMemory(100_000, System::currentTimeMillis);

  @Override
  public KeptState kept() {
    return kept;
  }

  @Override
  public Future<Void> close() {
    return Future.succeededFuture();
  }
}
