package dev.parley.bench;

import dev.parley.support.SioClient;
import dev.parley.support.TestCluster;
import dev.parley.support.TestRedis;
import dev.parley.support.TestServer;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;

import java.lang.management.ManagementFactory;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * What the relay adds to a long-polling round trip: an Engine.IO polling client whose session is on node A
 * posts a chat message and waits for its acknowledgement, which comes down its pending long-poll, one
 * round trip after the other. Direct: every request goes to node A. Relayed: every request goes to node B,
 * which relays it to A. Prints latency (median, p99) and the CPU time of this JVM (both nodes, Redis or
 * Hazelcast client work, and the test client) per round trip. A development measurement, not a test:
 * {@code bash bench/relay.sh}.
 */
public final class RelayCost {

  private static final int ROUNDS = Integer.getInteger("rounds", 3000);
  private static final int WARMUP = Integer.getInteger("warmup", 1000);

  public static void main(String[] args) throws Exception {
    System.out.printf(Locale.ROOT, "%-10s %-8s %10s %10s %14s%n", "cluster", "path", "p50 (us)", "p99 (us)", "CPU/trip (us)");
    try (TestRedis redis = TestRedis.start()) {
      Vertx a = Vertx.vertx();
      Vertx b = Vertx.vertx();
      int portA = get(TestServer.start(a, config(redis(redis.uri())), 1));
      int portB = get(TestServer.start(b, config(redis(redis.uri())), 1));
      run("redis", portA, portB);
      get(Future.join(a.close(), b.close()));
    }
    try (TestCluster cluster = TestCluster.start(2)) {
      JsonObject cfg = config(new JsonObject().put("broker", new JsonObject().put("type", "hazelcast")));
      int portA = get(TestServer.startExactly(cluster.node(0), TestServer.config(cfg)));
      int portB = get(TestServer.startExactly(cluster.node(1), TestServer.config(cfg)));
      run("hazelcast", portA, portB);
    }
    System.exit(0);
  }

  private static JsonObject redis(String uri) {
    return new JsonObject().put("broker", new JsonObject().put("type", "redis").put("redisUri", uri));
  }

  private static JsonObject config(JsonObject base) {
    return base.put("limits", new JsonObject().put("ratePerSecond", 100_000).put("rateBurst", 100_000));
  }

  private static void run(String cluster, int portA, int portB) throws Exception {
    Vertx clientVertx = Vertx.vertx();
    for (String path : new String[] {"direct", "relayed", "direct", "relayed"}) {
      SioClient c = get(SioClient.roundRobin(clientVertx, portA));
      if (path.equals("relayed")) {
        c.pollThrough(portB);
      }
      get(c.emit("join", new JsonObject().put("room", "bench-" + path).put("name", "b")));
      for (int i = 0; i < WARMUP; i++) {
        get(c.emit("publish", new JsonObject().put("room", "bench-" + path).put("text", "w")));
      }
      long[] took = new long[ROUNDS];
      long cpu0 = cpu();
      for (int i = 0; i < ROUNDS; i++) {
        long t0 = System.nanoTime();
        get(c.emit("publish", new JsonObject().put("room", "bench-" + path).put("text", "m")));
        took[i] = System.nanoTime() - t0;
      }
      long cpu = cpu() - cpu0;
      c.close();
      Arrays.sort(took);
      System.out.printf(Locale.ROOT, "%-10s %-8s %10d %10d %14d%n", cluster, path, took[ROUNDS / 2] / 1000,
        took[ROUNDS * 99 / 100] / 1000, cpu / ROUNDS / 1000);
    }
    get(clientVertx.close());
  }

  private static long cpu() {
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
  }

  private static <T> T get(Future<T> f) throws Exception {
    return f.toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
  }
}
