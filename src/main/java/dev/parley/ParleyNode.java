package dev.parley;

import dev.parley.broker.EventBusBroker;
import dev.parley.broker.LocalPresenceStore;
import dev.parley.config.ParleyConfig;
import dev.parley.core.Broker;
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
  private final ParleyConfig config;
  private final Broker broker;
  private final AtomicInteger connections = new AtomicInteger();
  private final AtomicInteger hubs = new AtomicInteger();
  private volatile int port = -1;

  private ParleyNode(String id, ParleyConfig config, Broker broker) {
    this.id = id;
    this.config = config;
    this.broker = broker;
  }

  /** The node of this Vert.x instance, created on first use; pair every call with {@link #release}. */
  public static Future<ParleyNode> acquire(Vertx vertx, ParleyConfig config) {
    Holder holder = NODES.compute(vertx, (v, h) -> {
      Holder x = h == null ? new Holder(create(vertx, config)) : h;
      x.refs++;
      return x;
    });
    return holder.node;
  }

  private static Future<ParleyNode> create(Vertx vertx, ParleyConfig config) {
    String id = config.node().id() != null ? config.node().id() : randomId();
    Broker broker = switch (config.broker().type()) {
      case "local" -> EventBusBroker.create(vertx, new LocalPresenceStore());
      default -> throw new IllegalStateException("unreachable: broker.type validated at start-up");
    };
    LOG.info("node {} starting with broker={}", id, config.broker().type());
    return Future.succeededFuture(new ParleyNode(id, config, broker));
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
    return last[0].node.transform(ar -> ar.succeeded() ? ar.result().broker.close() : Future.succeededFuture());
  }

  /** The node of a Vert.x instance that is running Parley, or null (for tests and tools). */
  public static ParleyNode of(Vertx vertx) {
    Holder h = NODES.get(vertx);
    return h == null || !h.node.succeeded() ? null : h.node.result();
  }

  public String id() {
    return id;
  }

  public ParleyConfig config() {
    return config;
  }

  public Broker broker() {
    return broker;
  }

  /** A new hub id, unique across the cluster: {@code <node>.<n>}. */
  public String nextHubId() {
    return id + "." + hubs.incrementAndGet();
  }

  /** Counts a new connection if the node is below {@code http.maxConnections}. */
  public boolean tryAdmit() {
    while (true) {
      int n = connections.get();
      if (n >= config.http().maxConnections()) {
        return false;
      }
      if (connections.compareAndSet(n, n + 1)) {
        return true;
      }
    }
  }

  public void connectionEnded() {
    connections.decrementAndGet();
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
