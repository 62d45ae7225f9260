package dev.parley.broker.redis;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.broker.Callers;
import dev.parley.core.ChatEvent;
import dev.parley.core.Envelope;
import dev.parley.core.Json;
import dev.parley.core.Member;
import dev.parley.core.PresenceStore;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import io.vertx.redis.client.ResponseType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * Cluster-wide presence in Redis, with this node's own members mirrored in memory.
 *
 * <p>Keys: {@code parley:presence:<room>} is a hash of session to {@code {"n":name,"t":joinedAt,"q":seq}};
 * {@code parley:presence-order:<room>} is a sorted set of the same sessions scored by join order (so the
 * first members of a room are read without reading the room); {@code parley:node:<node>:members} lists the
 * node's {@code room\nsession} entries; {@code parley:node:<node>} is a liveness key refreshed every third of
 * {@code broker.nodeTimeoutMs} and expiring after it; {@code parley:nodes} lists the nodes.
 *
 * <p>Joining and leaving cost three O(1) or O(log n) commands whatever the room's size; a presence reply
 * costs a ranged read of the first {@code limit} members and one lookup of their names.
 *
 * <p>The mirror is the truth for this node's members: while Redis is away, presence still answers with
 * them, and after reconnection the mirror is written back. Every node checks the others' liveness keys
 * on the same period; when one has expired (the node died without saying goodbye), the first node to
 * take {@code parley:reap:<node>} removes the dead node's members and publishes a {@code left} for each,
 * so members are announced within about 1.4 x {@code broker.nodeTimeoutMs}.
 */
final class RedisPresenceStore implements PresenceStore {

  private static final Logger LOG = LoggerFactory.getLogger(RedisPresenceStore.class);
  private static final String PRESENCE = "parley:presence:";
  private static final String ORDER = "parley:presence-order:";
  private static final String NODE = "parley:node:";
  private static final String NODES = "parley:nodes";
  private static final String REAP = "parley:reap:";

  private final Vertx vertx;
  private final String nodeId;
  private final long nodeTimeoutMs;
  private final Function<Request, Future<Response>> redis;
  private final Consumer<Envelope> publish;
  /** This node's members per room, in join order; each room's map is guarded by its slot (compute). */
  private final ConcurrentHashMap<String, Map<String, Entry>> mirror = new ConcurrentHashMap<>();
  private final AtomicLong seq = new AtomicLong();
  private long timer = -1;

  /** Join time in µs, strictly increasing on this node: the sorted-set score. */
  private final AtomicLong lastMicros = new AtomicLong();

  /** {@code micros}: join time in µs, the sorted-set score (exact in a double until year 2255). */
  private record Entry(String name, long joinedAt, long seq, long micros) {
    String json() {
      return Json.MAPPER.createObjectNode().put("n", name).put("t", joinedAt).put("q", seq).toString();
    }

    double score() {
      return micros;
    }
  }

  /**
   * Now in µs, never twice the same on this node: joins on two nodes of one machine are ordered as they
   * happened even within a millisecond (across machines, as far as their clocks agree).
   */
  private long nextMicros() {
    java.time.Instant now = java.time.Instant.now();
    long micros = now.getEpochSecond() * 1_000_000L + now.getNano() / 1_000;
    return lastMicros.accumulateAndGet(micros, (prev, t) -> Math.max(prev + 1, t));
  }

  /** One member with the score that orders it. */
  private record Ranked(String session, String name, double score) {
  }

  RedisPresenceStore(Vertx vertx, String nodeId, long nodeTimeoutMs, Function<Request, Future<Response>> redis,
                     Consumer<Envelope> publish) {
    this.vertx = vertx;
    this.nodeId = nodeId;
    this.nodeTimeoutMs = nodeTimeoutMs;
    this.redis = redis;
    this.publish = publish;
  }

  void start() {
    heartbeat();
    timer = vertx.setPeriodic(Math.max(100, nodeTimeoutMs / 3), t -> {
      heartbeat();
      reapDeadNodes();
    });
  }

  Future<Void> close() {
    if (timer >= 0) {
      vertx.cancelTimer(timer);
    }
    // A graceful stop: hubs already removed their members; drop what is left of this node.
    List<Future<?>> cleanup = new ArrayList<>();
    mirror.forEach((room, members) -> List.copyOf(members.keySet()).forEach(s -> {
      cleanup.add(redis.apply(hdel(room, s)));
      cleanup.add(redis.apply(zrem(room, s)));
    }));
    cleanup.add(redis.apply(Request.cmd(Command.DEL).arg(NODE + nodeId).arg(NODE + nodeId + ":members")));
    cleanup.add(redis.apply(Request.cmd(Command.SREM).arg(NODES).arg(nodeId)));
    return Future.join(cleanup).mapEmpty().recover(err -> Future.succeededFuture()).mapEmpty();
  }

  @Override
  public Future<Void> add(String room, Member member) {
    long micros = nextMicros();
    Entry e = new Entry(member.name(), micros / 1000, seq.incrementAndGet(), micros);
    // one atomic step per room: a separate computeIfAbsent + put could put into a map that a racing
    // remove (another hub's last leave of this room) has just dropped from the mirror
    mirror.compute(room, (r, members) -> {
      Map<String, Entry> m = members == null ? new LinkedHashMap<>() : members;
      m.put(member.session(), e);
      return m;
    });
    return Callers.onCaller(write(room, member.session(), e));
  }

  private Future<Void> write(String room, String session, Entry e) {
    Future<Response> hset = redis.apply(Request.cmd(Command.HSET).arg(PRESENCE + room).arg(session).arg(e.json()));
    Future<Response> zadd = redis.apply(Request.cmd(Command.ZADD).arg(ORDER + room).arg(Double.toString(e.score())).arg(session));
    Future<Response> index = redis.apply(Request.cmd(Command.SADD).arg(NODE + nodeId + ":members").arg(room + "\n" + session));
    return Future.join(hset, zadd, index).<Void>mapEmpty().recover(err -> Future.succeededFuture());
  }

  @Override
  public Future<Void> remove(String room, String session) {
    mirror.computeIfPresent(room, (r, members) -> {
      members.remove(session);
      return members.isEmpty() ? null : members;
    });
    Future<Response> hdel = redis.apply(hdel(room, session));
    Future<Response> zrem = redis.apply(zrem(room, session));
    Future<Response> index = redis.apply(Request.cmd(Command.SREM).arg(NODE + nodeId + ":members").arg(room + "\n" + session));
    return Callers.onCaller(Future.join(hdel, zrem, index).<Void>mapEmpty().recover(err -> Future.succeededFuture()));
  }

  private static Request hdel(String room, String session) {
    return Request.cmd(Command.HDEL).arg(PRESENCE + room).arg(session);
  }

  private static Request zrem(String room, String session) {
    return Request.cmd(Command.ZREM).arg(ORDER + room).arg(session);
  }

  @Override
  public Future<ChatEvent.Presence> members(String room, int limit) {
    List<Ranked> local = localFirst(room, limit);
    Future<Response> range = redis.apply(Request.cmd(Command.ZRANGE).arg(ORDER + room).arg(0).arg(limit > 0 ? limit - 1 : -1)
      .arg("WITHSCORES"));
    Future<Response> count = redis.apply(Request.cmd(Command.ZCARD).arg(ORDER + room));
    Future<ChatEvent.Presence> answer = Future.all(range, count)
      .compose(v -> named(room, ranked(range.result())))
      .map(remote -> merge(room, remote, local, limit, count.result().toInteger()))
      .recover(err -> Future.succeededFuture(merge(room, List.of(), local, limit, localCount(room) - local.size())));
    return Callers.onCaller(answer);
  }

  /** This node's first {@code limit} members of the room, read under the room's lock. */
  private List<Ranked> localFirst(String room, int limit) {
    List<Ranked> out = new ArrayList<>();
    mirror.computeIfPresent(room, (r, members) -> {
      for (Map.Entry<String, Entry> m : members.entrySet()) {
        if (limit > 0 && out.size() == limit) {
          break;
        }
        out.add(new Ranked(m.getKey(), m.getValue().name(), m.getValue().score()));
      }
      return members;
    });
    return out;
  }

  private int localCount(String room) {
    int[] n = {0};
    mirror.computeIfPresent(room, (r, members) -> {
      n[0] = members.size();
      return members;
    });
    return n[0];
  }

  /** Sessions and scores of a ZRANGE WITHSCORES reply, flat (RESP2) or in pairs (RESP3). */
  private static List<Ranked> ranked(Response reply) {
    List<Ranked> out = new ArrayList<>();
    if (reply == null || reply.size() == 0) {
      return out;
    }
    if (reply.get(0).type() == ResponseType.MULTI) {
      for (Response pair : reply) {
        out.add(new Ranked(pair.get(0).toString(), null, pair.get(1).toDouble()));
      }
    } else {
      for (int i = 0; i + 1 < reply.size(); i += 2) {
        out.add(new Ranked(reply.get(i).toString(), null, reply.get(i + 1).toDouble()));
      }
    }
    return out;
  }

  /**
   * Fills in the names of other nodes' ranked sessions from the presence hash (one HMGET for at most
   * {@code limit}). This node's own stay unnamed here: {@link #merge} takes them from the mirror.
   */
  private Future<List<Ranked>> named(String room, List<Ranked> ranked) {
    List<Ranked> others = ranked.stream().filter(r -> !isLocal(r.session())).toList();
    if (others.isEmpty()) {
      return Future.succeededFuture(ranked);
    }
    Request hmget = Request.cmd(Command.HMGET).arg(PRESENCE + room);
    others.forEach(r -> hmget.arg(r.session()));
    return redis.apply(hmget).map(values -> {
      Map<String, String> names = new HashMap<>();
      for (int i = 0; i < others.size(); i++) {
        Response v = values == null || i >= values.size() ? null : values.get(i);
        if (v == null) {
          continue; // left between the two reads
        }
        try {
          names.put(others.get(i).session(), Json.parseTree(v.toString()).path("n").asText());
        } catch (RuntimeException e) {
          LOG.debug("skipping unreadable presence entry {}", others.get(i).session());
        }
      }
      List<Ranked> out = new ArrayList<>(ranked.size());
      for (Ranked r : ranked) {
        if (isLocal(r.session())) {
          out.add(r);
        } else if (names.containsKey(r.session())) {
          out.add(new Ranked(r.session(), names.get(r.session()), r.score()));
        }
      }
      return out;
    });
  }

  /**
   * Redis's first members ({@code redisTotal} in all; this node's own unnamed), with this node's own taken
   * from the mirror (the truth for them, even when Redis lost them or still lists one that left), in join
   * order, cut to {@code limit}.
   */
  private ChatEvent.Presence merge(String room, List<Ranked> remote, List<Ranked> local, int limit, int redisTotal) {
    Map<String, Ranked> all = new HashMap<>();
    for (Ranked r : remote) {
      if (!isLocal(r.session())) {
        all.put(r.session(), r);
      }
    }
    // local members Redis does not have (it lost them, or was unreachable): they add to its count
    java.util.Set<String> inRedis = new java.util.HashSet<>();
    remote.forEach(r -> inRedis.add(r.session()));
    boolean windowFull = limit > 0 && remote.size() >= limit;
    double last = remote.isEmpty() ? Double.MAX_VALUE : remote.get(remote.size() - 1).score();
    int missing = 0;
    for (Ranked r : local) {
      all.put(r.session(), r);
      if (!inRedis.contains(r.session()) && (!windowFull || r.score() < last)) {
        missing++;
      }
    }
    List<Member> sorted = all.values().stream()
      .sorted(Comparator.comparingDouble(Ranked::score).thenComparing(Ranked::session))
      .map(r -> new Member(r.session(), r.name()))
      .toList();
    int total = Math.max(redisTotal + missing, sorted.size());
    if (limit > 0 && sorted.size() > limit) {
      sorted = sorted.subList(0, limit);
    }
    return total > sorted.size() ? new ChatEvent.Presence(room, sorted, total) : new ChatEvent.Presence(room, sorted);
  }

  private boolean isLocal(String session) {
    return session.startsWith(nodeId + ".");
  }

  private void heartbeat() {
    redis.apply(Request.cmd(Command.SET).arg(NODE + nodeId).arg("1").arg("PX").arg(nodeTimeoutMs));
    redis.apply(Request.cmd(Command.SADD).arg(NODES).arg(nodeId));
  }

  /** After a reconnection: announce the node again and write the mirror back. */
  void resync() {
    heartbeat();
    int[] count = {0};
    mirror.forEach((room, members) -> members.forEach((session, e) -> {
      write(room, session, e);
      count[0]++;
    }));
    if (count[0] > 0) {
      LOG.info("redis presence resynchronized: {} members of node {}", count[0], nodeId);
    }
  }

  private void reapDeadNodes() {
    redis.apply(Request.cmd(Command.SMEMBERS).arg(NODES)).onSuccess(nodes -> {
      for (String other : RedisBroker.strings(nodes)) {
        if (other.equals(nodeId)) {
          continue;
        }
        redis.apply(Request.cmd(Command.EXISTS).arg(NODE + other)).onSuccess(alive -> {
          if (alive.toInteger() == 0) {
            redis.apply(Request.cmd(Command.SET).arg(REAP + other).arg(nodeId).arg("NX").arg("PX").arg(30_000))
              .onSuccess(lock -> {
                if (lock != null && "OK".equals(lock.toString())) {
                  reap(other);
                }
              });
          }
        });
      }
    });
  }

  /** Removes a dead node's members and tells their rooms they left. */
  private void reap(String deadNode) {
    redis.apply(Request.cmd(Command.SMEMBERS).arg(NODE + deadNode + ":members")).onSuccess(entries -> {
      List<String> all = RedisBroker.strings(entries);
      LOG.info("node {} is gone: announcing {} members as left", deadNode, all.size());
      List<Future<?>> steps = new ArrayList<>();
      for (String entry : all) {
        int nl = entry.indexOf('\n');
        if (nl < 0) {
          continue;
        }
        String room = entry.substring(0, nl);
        String session = entry.substring(nl + 1);
        steps.add(redis.apply(Request.cmd(Command.HGET).arg(PRESENCE + room).arg(session)).compose(v -> {
          String name = session;
          if (v != null) {
            try {
              name = Json.parseTree(v.toString()).path("n").asText(session);
            } catch (RuntimeException ignored) {
              // keep the session id as the name
            }
          }
          String finalName = name;
          redis.apply(zrem(room, session));
          return redis.apply(hdel(room, session)).onSuccess(r -> publish.accept(new Envelope(nodeId + ".reaper",
            new ChatEvent.Left(room, session, finalName, System.currentTimeMillis()))));
        }));
      }
      Future.join(steps).onComplete(ar -> {
        redis.apply(Request.cmd(Command.DEL).arg(NODE + deadNode + ":members"));
        redis.apply(Request.cmd(Command.SREM).arg(NODES).arg(deadNode));
      });
    });
  }
}
