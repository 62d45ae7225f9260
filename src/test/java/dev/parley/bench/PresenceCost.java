package dev.parley.bench;

import dev.parley.broker.EventBusBroker;
import dev.parley.broker.LocalPresenceStore;
import dev.parley.broker.hazelcast.HazelcastBroker;
import dev.parley.broker.redis.RedisBroker;
import dev.parley.core.Broker;
import dev.parley.core.ChatEvent;
import dev.parley.core.Member;
import dev.parley.core.PresenceStore;
import dev.parley.support.TestCluster;
import dev.parley.support.TestRedis;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * What one join costs the presence store as the room grows: for each store (single node, Redis, Hazelcast)
 * and room size, the room is filled, then {@code CYCLES} members join (add, then the presence reply a joiner
 * gets, cut at {@code LIMIT}) and leave one after the other. Prints the mean time of a join-and-leave.
 * A development measurement, not a test: {@code bash bench/presence.sh}.
 */
public final class PresenceCost {

  private static final int CYCLES = Integer.getInteger("cycles", 2000);
  private static final int LIMIT = Integer.getInteger("limit", 100);
  private static final int[] SIZES = java.util.Arrays.stream(System.getProperty("sizes", "10,1000,20000").split(","))
    .mapToInt(Integer::parseInt).toArray();

  public static void main(String[] args) throws Exception {
    Vertx vertx = Vertx.vertx();
    System.out.printf(Locale.ROOT, "%-10s %10s %16s%n", "store", "room size", "join+leave (us)");
    measure("local", EventBusBroker.create(vertx, new LocalPresenceStore()), vertx);
    try (TestRedis redis = TestRedis.start()) {
      Broker b = RedisBroker.create(vertx, "bench", redis.uri(), 10_000).toCompletionStage().toCompletableFuture().get();
      measure("redis", b, vertx);
      await(b.close());
    }
    try (TestCluster cluster = TestCluster.start(2)) {
      Vertx node = cluster.node(0);
      Broker b = HazelcastBroker.create(node, "bench").toCompletionStage().toCompletableFuture().get();
      measure("hazelcast", b, node);
      await(b.close());
    }
    await(vertx.close());
    System.exit(0);
  }

  private static void measure(String name, Broker broker, Vertx vertx) throws Exception {
    PresenceStore store = broker.presence();
    int filled = 0;
    for (int size : SIZES) {
      String room = "room";
      List<Future<Void>> adds = new ArrayList<>();
      for (int i = filled; i < size; i++) {
        Member m = new Member("bench.f-" + i, "member " + i);
        adds.add(onContext(vertx, () -> store.add(room, m).mapEmpty()));
        if (adds.size() == 500) {
          await(Future.all(adds));
          adds.clear();
        }
      }
      await(Future.all(adds));
      filled = size;
      cycles(store, vertx, room, size, CYCLES / 4); // warm-up
      long start = System.nanoTime();
      cycles(store, vertx, room, size, CYCLES);
      double us = (System.nanoTime() - start) / 1000.0 / CYCLES;
      System.out.printf(Locale.ROOT, "%-10s %10d %16.1f%n", name, size, us);
    }
  }

  private static void cycles(PresenceStore store, Vertx vertx, String room, int size, int n) throws Exception {
    int expected = size + 1;
    for (int i = 0; i < n; i++) {
      Member m = new Member("bench.j-" + i, "joiner");
      ChatEvent.Presence p = await(onContext(vertx, () -> store.add(room, m)
        .compose(v -> store.members(room, LIMIT))
        .compose(reply -> store.remove(room, m.session()).map(reply))));
      if (p.members().size() != Math.min(LIMIT, expected)) {
        throw new IllegalStateException("a presence reply of " + p.members().size());
      }
    }
  }

  private static <T> Future<T> onContext(Vertx vertx, java.util.function.Supplier<Future<T>> work) {
    Promise<T> p = Promise.promise();
    vertx.getOrCreateContext().runOnContext(v -> work.get().onComplete(p));
    return p.future();
  }

  private static <T> T await(Future<T> f) throws Exception {
    return f.toCompletionStage().toCompletableFuture().get(10, TimeUnit.MINUTES);
  }
}
