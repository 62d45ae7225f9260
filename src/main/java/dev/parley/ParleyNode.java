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
    });
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
      ParleyNode node = ar.result();
      io.vertx.core.Promise<Void> closed = io.vertx.core.Promise.promise();
      node.context.runOnContext(v -> {
        Future<Void> emitter = node.emitter == null ? Future.succeededFuture() : node.emitter.close();
        emitter.eventually(node.broker::close).onComplete(closed);
      });
      return closed.future();
    });
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
    int perAddress = config.http().maxConnectionsPerAddress();
    if (perAddress > 0) {
      java.util.concurrent.atomic.AtomicInteger mine = byAddress.computeIfAbsent(key, k -> new java.util.concurrent.atomic.AtomicInteger());
      if (mine.incrementAndGet() > perAddress) {
        releaseAddress(key, mine);
        return new Ticket(Refusal.ADDRESS_FULL, key);
      }
    }
    while (true) {
      int n = connections.get();
      if (n >= config.http().maxConnections()) {
        if (perAddress > 0) {
          releaseAddress(key, byAddress.get(key));
        }
        return new Ticket(Refusal.SERVER_FULL, key);
      }
      if (connections.compareAndSet(n, n + 1)) {
        return new Ticket(null, key);
      }
    }
  }

  private final Map<String, java.util.concurrent.atomic.AtomicInteger> byAddress = new ConcurrentHashMap<>();

  private void releaseAddress(String key, java.util.concurrent.atomic.AtomicInteger count) {
    if (count != null && count.decrementAndGet() <= 0) {
      byAddress.remove(key, count);
    }
  }

  /** One connection's place in {@code http.maxConnections} and its address's share, or why it has none. */
  public final class Ticket {
    private final java.util.concurrent.atomic.AtomicBoolean released = new java.util.concurrent.atomic.AtomicBoolean();
    private final Refusal refusal;
    private final String address;

    private Ticket(Refusal refusal, String address) {
      this.refusal = refusal;
      this.address = address;
      released.set(refusal != null);
    }

    /** Null when admitted, else why not. */
    public Refusal refusal() {
      return refusal;
    }

    /** Gives the place back; idempotent, and nothing for a refused ticket. */
    public void release() {
      if (released.compareAndSet(false, true)) {
        connections.decrementAndGet();
        if (config.http().maxConnectionsPerAddress() > 0) {
          releaseAddress(address, byAddress.get(address));
        }
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
