package dev.parley;

import dev.parley.broker.EventBusBroker;
import dev.parley.broker.LocalPresenceStore;
import dev.parley.broker.MemoryHistoryStore;
import dev.parley.core.HistoryStore;
import dev.parley.broker.hazelcast.HazelcastBroker;
import dev.parley.broker.redis.RedisBroker;
import dev.parley.config.ParleyConfig;
import dev.parley.core.Broker;
import dev.parley.core.Hub;
import dev.parley.ingress.EmitterListener;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.security.SecureRandom;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * What the transport verticle instances of one Vert.x instance share: the node id, the broker (and
 * its presence store), and the connection count that {@code http.maxConnections} bounds. Created by
 * the first instance to start, closed by the last to stop.
 */
public final class ParleyNode {

  private static final Logger LOG = LoggerFactory.getLogger(ParleyNode.class);
  private static final Map<Vertx, Holder> NODES = new ConcurrentHashMap<>();
  private static final char[] ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz".toCharArray();

  private final String id;
  private final Context context;
  private final ParleyConfig config;
  private final Broker broker;
  private final AtomicInteger connections = new AtomicInteger();
  private final AtomicInteger hubSeq = new AtomicInteger();
  private volatile int port = -1;
  private final Map<Hub, Context> hubs = new ConcurrentHashMap<>();
  private volatile EmitterListener emitter;

  private ParleyNode(String id, ParleyConfig config, Broker broker, Context context) {
    this.context = context;
    this.id = id;
    this.config = config;
    this.broker = broker;
  }

  /** The node of this Vert.x instance, created on first use; pair every call with {@link #release}. */
  public static Future<ParleyNode> acquire(Vertx vertx, ParleyConfig config) {
    Holder holder = NODES.compute(vertx, (v, h) -> {
      Holder x = h == null ? new Holder(createOnOwnContext(vertx, config)) : h;
      x.refs++;
      return x;
    });
    return holder.node;
  }

  /**
   * Node-wide work (the broker's connections and timers, the emitter listener) runs on an event-loop
   * context of its own, not on the context of whichever transport verticle happened to start first: that
   * verticle's loop is busy with its own connections, and its undeployment must not take the broker's
   * timers with it.
   */
  private static Future<ParleyNode> createOnOwnContext(Vertx vertx, ParleyConfig config) {
    Context context = ((io.vertx.core.internal.VertxInternal) vertx).createEventLoopContext();
    io.vertx.core.Promise<ParleyNode> created = io.vertx.core.Promise.promise();
    context.runOnContext(v -> create(vertx, config, context).onComplete(created));
    return created.future();
  }

  private static Future<ParleyNode> create(Vertx vertx, ParleyConfig config, Context context) {
    // the token verifier reads its keys from the environment and files: off the event loop
    return vertx.executeBlocking(() -> access(vertx, config, System.getenv()), false)
      .compose(access -> create(vertx, config, context, access));
  }

  /** The node's access rules: the auth mode, the token verifier (keys read here, blocking), room rules, per-user limits. */
  public static dev.parley.core.Access access(Vertx vertx, ParleyConfig config, Map<String, String> env) {
    ParleyConfig.AuthConfig auth = config.auth();
    dev.parley.core.Authenticator verifier = auth.hasKeys()
      ? dev.parley.auth.JwtAuthenticator.create(vertx, auth, env) : null;
    return new dev.parley.core.Access(auth.accessMode(), verifier, config.rooms(), auth.timeoutMs(),
      auth.maxConnectionsPerUser(), auth.userPublishPerSecond(), auth.userPublishBurst());
  }

  private static Future<ParleyNode> create(Vertx vertx, ParleyConfig config, Context context, dev.parley.core.Access access) {
    String id = config.node().id() != null ? config.node().id() : randomId();
    LOG.info("node {} starting with broker={}", id, config.broker().type());
    Future<Broker> broker = switch (config.broker().type()) {
      case "local" -> vertx.isClustered()
        ? Future.failedFuture(new IllegalStateException("Vert.x is clustered (-cluster) but broker.type is \"local\": "
          + "set broker.type to \"hazelcast\" (see conf/config-cluster.json)"))
        : Future.succeededFuture(EventBusBroker.create(vertx, new LocalPresenceStore(), localHistory(vertx, config)));
      case "hazelcast" -> HazelcastBroker.create(vertx, id, config.history());
      case "redis" -> RedisBroker.create(vertx, id, config.broker().redisUri(), config.broker().nodeTimeoutMs(), config.history());
      default -> Future.failedFuture(new IllegalStateException("unreachable: broker.type validated at start-up"));
    };
    return broker.compose(b -> {
      ParleyNode node = new ParleyNode(id, config, b, context);
      node.access = access;
      if (!config.emitter().enabled()) {
        return Future.succeededFuture(node);
      }
      return EmitterListener.start(vertx, node, config.emitter()).map(listener -> {
        node.emitter = listener;
        return node;
      });
    }).compose(node -> node.startOperations(vertx));
  }

  private volatile dev.parley.ops.Metrics metrics;
  private volatile dev.parley.ops.Control control;
  private volatile io.vertx.core.http.HttpServer management;

  /** Metrics, the control channel and the management listener (when enabled). */
  private Future<ParleyNode> startOperations(Vertx vertx) {
    io.micrometer.core.instrument.MeterRegistry launcher = config.management().metrics()
      ? io.vertx.micrometer.backends.BackendRegistries.getNow(Parley.METRICS_REGISTRY) : null;
    metrics = new dev.parley.ops.Metrics(launcher instanceof io.micrometer.prometheusmetrics.PrometheusMeterRegistry p ? p : null);
    metrics.gauge("parley_rooms", "Rooms held by this node's hubs", () -> hubs.keySet().stream().mapToInt(Hub::roomCount).sum());
    metrics.gauge("parley_members", "Room memberships of this node's connections", () -> hubs.keySet().stream().mapToInt(Hub::memberships).sum());
    metrics.gauge("parley_outbound_queued_bytes", "Bytes waiting to be written to clients",
      () -> shared(dev.parley.transport.OutboundMemory.class, () -> dev.parley.transport.OutboundMemory.create(config.limits())).queuedBytes());
    metrics.gauge("parley_broker_up", "1 while the broker links this node to the others", () -> broker.state() == Broker.State.UP ? 1 : 0,
      "type", config.broker().type());
    metrics.gauge("parley_ready", "1 while the node is ready for traffic", () -> ready() ? 1 : 0);
    metrics.gauge("parley_draining", "1 while the node drains", () -> draining ? 1 : 0);
    return dev.parley.ops.Control.start(vertx, this, metrics).compose(c -> {
      control = c;
      if (!config.management().enabled()) {
        return Future.succeededFuture(this);
      }
      return dev.parley.ops.Management.start(vertx, this, metrics, c).map(server -> {
        management = server;
        return this;
      });
    });
  }

  /** The node's metrics (what its hubs report to). */
  public dev.parley.ops.Metrics metrics() {
    return metrics;
  }

  /** The management listener's port (-1 when it is off). */
  public int managementPort() {
    return management == null ? -1 : management.actualPort();
  }

  /** The single node's history: in memory, swept of expired messages once a minute. */
  private static HistoryStore localHistory(Vertx vertx, ParleyConfig config) {
    ParleyConfig.HistoryConfig h = config.history();
    if (!h.enabled()) {
      return HistoryStore.OFF;
    }
    MemoryHistoryStore store = new MemoryHistoryStore(h, h.memoryBytes(), System::currentTimeMillis);
    vertx.setPeriodic(60_000, t -> store.sweep());
    return store;
  }

  /** Releases one instance's hold; the last release closes the broker. */
  public static Future<Void> release(Vertx vertx) {
    Holder[] last = new Holder[1];
    NODES.computeIfPresent(vertx, (v, h) -> {
      if (--h.refs == 0) {
        last[0] = h;
        return null;
      }
      return h;
    });
    if (last[0] == null) {
      return Future.succeededFuture();
    }
    return last[0].node.transform(ar -> {
      if (ar.failed()) {
        return Future.succeededFuture();
      }
      return ar.result().closeShared();
    });
  }

  private Future<Void> sharedClosed;

  /**
   * Closes what the node's hubs share, once: metrics listeners, the control channel, the management listener,
   * the emitter listener, then the broker (this node's presence entries removed, subscriptions dropped). A
   * graceful stop does it right after the drain, while Vert.x still runs; the last instance's release finds
   * it done.
   */
  public synchronized Future<Void> closeShared() {
    if (sharedClosed != null) {
      return sharedClosed;
    }
    io.vertx.core.Promise<Void> closed = io.vertx.core.Promise.promise();
    sharedClosed = closed.future();
    context.runOnContext(v -> {
      if (metrics != null) {
        metrics.close();
      }
      Future<Void> ops = Future.join(control == null ? Future.succeededFuture() : control.stop(),
        management == null ? Future.succeededFuture() : management.close()).mapEmpty();
      Future<Void> listener = ops.eventually(() -> emitter == null ? Future.succeededFuture() : emitter.close());
      listener.eventually(broker::close).onComplete(closed);
    });
    return sharedClosed;
  }

  /** The node of a Vert.x instance that is running Parley, or null (for tests and tools). */
  public static ParleyNode of(Vertx vertx) {
    Holder h = NODES.get(vertx);
    return h == null || !h.node.succeeded() ? null : h.node.result();
  }

  public String id() {
    return id;
  }

  /** The event-loop context node-wide work runs on (broker, emitter listener). */
  public Context context() {
    return context;
  }

  public ParleyConfig config() {
    return config;
  }

  public Broker broker() {
    return broker;
  }

  private volatile dev.parley.core.Access access = dev.parley.core.Access.OPEN;

  /** Who may connect, join and publish on this node (shared by its hubs). */
  public dev.parley.core.Access access() {
    return access;
  }

  private final Map<Class<?>, Object> shared = new ConcurrentHashMap<>();

  /** One object of a type per node, created on first use (registries that hubs of the node share). */
  public <T> T shared(Class<T> type, java.util.function.Supplier<T> create) {
    return type.cast(shared.computeIfAbsent(type, t -> create.get()));
  }

  /** Makes a hub reachable by node-wide producers (the emitter); it runs on {@code context}. */
  public void attach(Hub hub, Context context) {
    hubs.put(hub, context);
  }

  public void detach(Hub hub) {
    hubs.remove(hub);
  }

  /** Runs {@code action} on every attached hub, each on its own event loop, adding what each answers to {@code results}. */
  public <T> void forEachHubAndWait(java.util.function.Function<Hub, T> action, java.util.List<Future<T>> results) {
    hubs.forEach((hub, context) -> {
      io.vertx.core.Promise<T> p = io.vertx.core.Promise.promise();
      context.runOnContext(v -> {
        try {
          p.complete(action.apply(hub));
        } catch (RuntimeException e) {
          p.fail(e);
        }
      });
      results.add(p.future());
    });
  }

  /** Liveness: the process is up and serving; with the node's figures and its broker's state. */
  public io.vertx.core.json.JsonObject health() {
    return new io.vertx.core.json.JsonObject()
      .put("status", "UP")
      .put("node", id)
      .put("connections", connections())
      .put("broker", brokerState())
      .put("relay", dev.parley.relay.Relay.of(context.owner(), this).stats());
  }

  /** Readiness and why: listening, broker linked, not draining. */
  public io.vertx.core.json.JsonObject readiness() {
    return new io.vertx.core.json.JsonObject()
      .put("ready", ready())
      .put("node", id)
      .put("listening", port > 0)
      .put("draining", draining)
      .put("broker", brokerState());
  }

  private io.vertx.core.json.JsonObject brokerState() {
    return new io.vertx.core.json.JsonObject()
      .put("type", config.broker().type())
      .put("state", broker.state().name().toLowerCase(java.util.Locale.ROOT));
  }

  private volatile boolean draining;

  /** Whether the node is draining (a graceful stop began): not ready, and it takes no new connections. */
  public boolean draining() {
    return draining;
  }

  /**
   * Ready for traffic: listening, the broker linked to the other nodes (Redis connected, the Hazelcast
   * cluster joined), and not draining.
   */
  public boolean ready() {
    return port > 0 && !draining && broker.state() == Broker.State.UP;
  }

  /**
   * A graceful stop: the node turns not ready and refuses new connections, then every hub closes its
   * connections with 1001 spread over {@code windowMs} (so that their reconnections do not all land on the
   * other nodes at once), announcing each {@code left}. Completes when every hub is done.
   */
  public Future<Void> drain(long windowMs) {
    if (!draining) {
      draining = true;
      LOG.info("node {} draining: {} connections over {} ms", id, connections(), windowMs);
    }
    java.util.List<Future<Future<Void>>> started = new java.util.ArrayList<>();
    forEachHubAndWait(hub -> hub.drain(windowMs), started);
    return Future.join(started).compose(v -> Future.join(started.stream().filter(Future::succeeded)
      .map(Future::result).toList())).mapEmpty();
  }

  /** Runs {@code action} on every attached hub, each on its own event loop. */
  public void forEachHub(java.util.function.Consumer<Hub> action) {
    hubs.forEach((hub, context) -> context.runOnContext(v -> action.accept(hub)));
  }

  /** A new hub id, unique across the cluster: {@code <node>.<n>}. */
  public String nextHubId() {
    return id + "." + hubSeq.incrementAndGet();
  }

  /** Why a connection was not admitted. */
  public enum Refusal {
    /** The node holds {@code http.maxConnections} connections. */
    SERVER_FULL,
    /** The client's address holds {@code http.maxConnectionsPerAddress} connections. */
    ADDRESS_FULL
  }

  /**
   * The one admission path of every transport: counts a new connection from {@code address} if the node is
   * below {@code http.maxConnections} and the address below {@code http.maxConnectionsPerAddress}. The
   * ticket says whether it was admitted; an admitted connection releases it when it ends, however it ends
   * (releasing twice counts once).
   */
  public Ticket admit(String address) {
    String key = address == null ? "" : address;
    if (draining) {
      return new Ticket(Refusal.SERVER_FULL, null); // a draining node answers as a full one: try another
    }
    int perAddress = config.http().maxConnectionsPerAddress();
    AddressCount mine = null;
    if (perAddress > 0) {
      mine = byAddress.computeIfAbsent(key, AddressCount::new);
      if (mine.incrementAndGet() > perAddress) {
        releaseAddress(mine);
        return new Ticket(Refusal.ADDRESS_FULL, null);
      }
    }
    while (true) {
      int n = connections.get();
      if (n >= config.http().maxConnections()) {
        releaseAddress(mine);
        return new Ticket(Refusal.SERVER_FULL, null);
      }
      if (connections.compareAndSet(n, n + 1)) {
        return new Ticket(null, mine);
      }
    }
  }

  /** Connections from one address; its key is the one string kept for all of them. */
  private static final class AddressCount extends java.util.concurrent.atomic.AtomicInteger {
    final String key;

    AddressCount(String key) {
      this.key = key;
    }
  }

  private final Map<String, AddressCount> byAddress = new ConcurrentHashMap<>();

  private void releaseAddress(AddressCount count) {
    if (count != null && count.decrementAndGet() <= 0) {
      byAddress.remove(count.key, count);
    }
  }

  private static final java.util.concurrent.atomic.AtomicIntegerFieldUpdater<Ticket> RELEASED =
    java.util.concurrent.atomic.AtomicIntegerFieldUpdater.newUpdater(Ticket.class, "released");

  /** One connection's place in {@code http.maxConnections} and its address's share, or why it has none. */
  public final class Ticket {
    private volatile int released;
    private final Refusal refusal;
    private final AddressCount address;

    private Ticket(Refusal refusal, AddressCount address) {
      this.refusal = refusal;
      this.address = address;
      released = refusal != null ? 1 : 0;
    }

    /** Null when admitted, else why not. */
    public Refusal refusal() {
      return refusal;
    }

    /** Gives the place back; idempotent, and nothing for a refused ticket. */
    public void release() {
      if (RELEASED.compareAndSet(this, 0, 1)) {
        connections.decrementAndGet();
        releaseAddress(address);
      }
    }
  }

  public int connections() {
    return connections.get();
  }

  /** The port the HTTP server actually bound (useful with {@code http.port} 0), or -1 before. */
  public int port() {
    return port;
  }

  void port(int port) {
    this.port = port;
  }

  private static String randomId() {
    SecureRandom random = new SecureRandom();
    char[] c = new char[8];
    for (int i = 0; i < c.length; i++) {
      c[i] = ALPHABET[random.nextInt(ALPHABET.length)];
    }
    return new String(c);
  }

  private static final class Holder {
    final Future<ParleyNode> node;
    int refs;

    Holder(Future<ParleyNode> node) {
      this.node = node;
    }
  }
}
