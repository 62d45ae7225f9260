package dev.parley.broker.hazelcast;

import com.hazelcast.core.HazelcastInstance;
import dev.parley.broker.EventBusBroker;
import dev.parley.broker.Callers;
import dev.parley.core.Broker;
import dev.parley.core.NodeLink;
import io.vertx.core.buffer.Buffer;
import dev.parley.core.Envelope;
import dev.parley.config.ParleyConfig.HistoryConfig;
import dev.parley.core.HistoryStore;
import dev.parley.core.KeptState;
import dev.parley.core.PresenceStore;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.internal.VertxInternal;
import io.vertx.spi.cluster.hazelcast.HazelcastClusterManager;

/**
 * The {@code hazelcast} broker: room events over the Hazelcast-clustered Vert.x event bus (one
 * consumer per room per hub, see {@link EventBusBroker}), presence in Hazelcast maps
 * ({@link HazelcastPresenceStore}). Needs Vert.x started with {@code -cluster}.
 */
public final class HazelcastBroker implements Broker {

  private final Broker events;
  private final HazelcastPresenceStore presence;
  private final HistoryStore history;
  private KeptState kept;

  private HazelcastBroker(Broker events, HazelcastPresenceStore presence, HistoryStore history) {
    this.events = events;
    this.presence = presence;
    this.history = history;
  }

  public static Future<Broker> create(Vertx vertx, String nodeId) {
    return create(vertx, nodeId, null);
  }

  /** As {@link #create(Vertx, String)}, keeping room history in a Hazelcast map as {@code history} says. */
  public static Future<Broker> create(Vertx vertx, String nodeId, HistoryConfig history) {
    if (!vertx.isClustered() || !(((VertxInternal) vertx).clusterManager() instanceof HazelcastClusterManager manager)) {
      return Future.failedFuture(new IllegalStateException(
        "broker.type \"hazelcast\" needs a Hazelcast-clustered Vert.x: start with -cluster"));
    }
    HazelcastInstance hazelcast = manager.getHazelcastInstance();
    Broker[] events = new Broker[1];
    // the stores add their map configurations to the cluster (dynamic configuration): blocking calls
    return vertx.executeBlocking(() -> {
      HazelcastPresenceStore presence = new HazelcastPresenceStore(vertx, nodeId, hazelcast, e -> events[0].publish(e));
      HistoryStore store = history == null || !history.enabled() ? HistoryStore.OFF
        : new HazelcastHistoryStore(hazelcast, history, System::currentTimeMillis);
      return new HazelcastBroker(null, presence, store);
    }, false).compose(stores -> {
      events[0] = EventBusBroker.create(vertx, stores.presence);
      HazelcastBroker broker = new HazelcastBroker(events[0], stores.presence, stores.history);
      broker.kept = keptIn(hazelcast.getMap("parley.kept"));
      broker.link = new Link(vertx, nodeId, hazelcast.getMap("parley.holders"));
      return broker.link.consumer.completion().compose(v -> stores.presence.start()).map(v -> (Broker) broker);
    });
  }

  /** Kept state in a Hazelcast map, each entry with its own time to live. */
  private static KeptState keptIn(com.hazelcast.map.IMap<String, String> map) {
    return new KeptState() {
      @Override
      public void keep(String key, String value, long ttlMs) {
        map.putAsync(key, value, ttlMs, java.util.concurrent.TimeUnit.MILLISECONDS);
      }

      @Override
      public Future<String> take(String key) {
        return dev.parley.broker.Callers.onCaller(Future.fromCompletionStage(map.removeAsync(key)));
      }
    };
  }

  @Override
  public Future<Subscription> subscribe(String room, Handler<Envelope> handler) {
    return events.subscribe(room, handler);
  }

  @Override
  public void publish(Envelope event) {
    events.publish(event);
  }

  @Override
  public PresenceStore presence() {
    return presence;
  }

  @Override
  public HistoryStore history() {
    return history;
  }

  @Override
  public KeptState kept() {
    return kept;
  }

  private Link link;

  @Override
  public NodeLink link() {
    return link;
  }

  @Override
  public Future<Void> close() {
    return link.consumer.unregister().eventually(presence::close).eventually(events::close);
  }

  /**
   * Frames over the clustered event bus, one address per node ({@code parley.link.<node>}): between two
   * nodes they travel one TCP connection, in order. The directory is the map {@code parley.holders}.
   */
  private static final class Link implements NodeLink {
    private final Vertx vertx;
    private final String nodeId;
    private final com.hazelcast.map.IMap<String, String> holders;
    final io.vertx.core.eventbus.MessageConsumer<Buffer> consumer;
    private volatile Handler<Buffer> frames;
    private volatile io.vertx.core.Context frameContext;

    Link(Vertx vertx, String nodeId, com.hazelcast.map.IMap<String, String> holders) {
      this.vertx = vertx;
      this.nodeId = nodeId;
      this.holders = holders;
      this.consumer = vertx.eventBus().<Buffer>consumer("parley.link." + nodeId, m -> {
        if (m.replyAddress() != null) {
          m.reply(null); // a confirmed send: received
        }
        Handler<Buffer> h = frames;
        if (h == null) {
          return;
        }
        if (Vertx.currentContext() == frameContext) {
          h.handle(m.body());
        } else {
          frameContext.runOnContext(v -> h.handle(m.body()));
        }
      });
    }

    @Override
    public boolean enabled() {
      return true;
    }

    @Override
    public String self() {
      return nodeId;
    }

    @Override
    public Future<Void> send(String node, Buffer frame) {
      vertx.eventBus().send("parley.link." + node, frame);
      return Future.succeededFuture();
    }

    @Override
    public Future<Void> sendConfirmed(String node, Buffer frame, long timeoutMs) {
      return Callers.onCaller(vertx.eventBus().request("parley.link." + node, frame,
        new io.vertx.core.eventbus.DeliveryOptions().setSendTimeout(timeoutMs)).mapEmpty());
    }

    @Override
    public void receive(Handler<Buffer> handler) {
      frameContext = Vertx.currentContext() != null ? Vertx.currentContext() : vertx.getOrCreateContext();
      frames = handler;
    }

    @Override
    public Future<String> claim(String key, String supersede, long ttlMs) {
      return Callers.onCaller(Future.fromCompletionStage(holders.submitToKey(key, new Claim(nodeId, supersede, ttlMs))));
    }

    @Override
    public Future<String> holder(String key) {
      return Callers.onCaller(Future.fromCompletionStage(holders.getAsync(key)));
    }

    @Override
    public void release(String key) {
      holders.submitToKey(key, new Release(nodeId));
    }
  }

  /** Removes a key only while this node holds it. */
  record Release(String node) implements com.hazelcast.map.EntryProcessor<String, String, Boolean> {
    @Override
    public Boolean process(java.util.Map.Entry<String, String> entry) {
      if (node.equals(entry.getValue())) {
        entry.setValue(null);
        return true;
      }
      return false;
    }
  }

  /** Takes a key unless another node (other than the one superseded) holds it; answers the holder. */
  record Claim(String node, String supersede, long ttlMs) implements com.hazelcast.map.EntryProcessor<String, String, String> {
    @Override
    public String process(java.util.Map.Entry<String, String> entry) {
      String v = entry.getValue();
      if (v != null && !v.equals(node) && !v.equals(supersede)) {
        return v;
      }
      ((com.hazelcast.map.ExtendedMapEntry<String, String>) entry).setValue(node, ttlMs, java.util.concurrent.TimeUnit.MILLISECONDS);
      return node;
    }
  }
}
