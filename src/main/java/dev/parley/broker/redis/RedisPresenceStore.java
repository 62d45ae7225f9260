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
 * <p>Keys: {@code parley:presence:<room>} is a hash of member key to {@code {"n":name,"t":joinedAt,"q":seq,"u":user}}
 * (the key is the session of an anonymous member, {@code u:<user>} for a verified user);
 * {@code parley:presence-order:<room>} is a sorted set of the same keys scored by join order (so the
 * first members of a room are read without reading the room); {@code parley:presence-conns:<room>:u:<user>}
 * is the set of a user's connections in the room (changed by Lua scripts, so the first to join and the last
 * to leave are decided atomically across nodes); {@code parley:node:<node>:members} lists the node's
 * {@code room\nsession[\nuser]} entries; {@code parley:node:<node>} is a liveness key refreshed every third of
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
  private static final String CONNS = "parley:presence-conns:";
  /** KEYS: conns, presence, order; ARGV: session, key, entry, score. Returns 1 when it is the user's first connection. */
  private static final String ADD_USER = """
    local added = redis.call('SADD', KEYS[1], ARGV[1])
    local n = redis.call('SCARD', KEYS[1])
    redis.call('HSETNX', KEYS[2], ARGV[2], ARGV[3])
    redis.call('ZADD', KEYS[3], 'NX', ARGV[4], ARGV[2])
    if added == 1 and n == 1 then return 1 end
    return 0""";
  /** KEYS: conns, presence, order; ARGV: session, key. Returns 1 when it was the user's last connection. */
  private static final String REMOVE_USER = """
    local removed = redis.call('SREM', KEYS[1], ARGV[1])
    if redis.call('SCARD', KEYS[1]) == 0 then
      redis.call('HDEL', KEYS[2], ARGV[2])
      redis.call('ZREM', KEYS[3], ARGV[2])
      return removed
    end
    return 0""";

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
  private record Entry(String name, String user, long joinedAt, long seq, long micros) {
    String json() {
      var node = Json.MAPPER.createObjectNode().put("n", name).put("t", joinedAt).put("q", seq);
      if (user != null) {
        node.put("u", user);
      }
      return node.toString();
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

  /** One member (by key) with the score that orders it; {@code count}: a user's connections. */
  private record Ranked(String key, String name, String user, int count, double score) {
    Ranked named(String name, String user, int count) {
      return new Ranked(key, name, user, count, score);
    }

    Member member() {
      return user == null ? new Member(key, name) : Member.user(user, name, count);
    }
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
    mirror.forEach((room, members) -> Map.copyOf(members).forEach((s, e) -> cleanup.add(unwrite(room, s, e.user()))));
    cleanup.add(redis.apply(Request.cmd(Command.DEL).arg(NODE + nodeId).arg(NODE + nodeId + ":members")));
    cleanup.add(redis.apply(Request.cmd(Command.SREM).arg(NODES).arg(nodeId)));
    return Future.join(cleanup).mapEmpty().recover(err -> Future.succeededFuture()).mapEmpty();
  }

  @Override
  public Future<Boolean> add(String room, Member member) {
    long micros = nextMicros();
    Entry e = new Entry(member.name(), member.user(), micros / 1000, seq.incrementAndGet(), micros);
    boolean[] firstHere = {true};
    // one atomic step per room: a separate computeIfAbsent + put could put into a map that a racing
    // remove (another hub's last leave of this room) has just dropped from the mirror
    mirror.compute(room, (r, members) -> {
      Map<String, Entry> m = members == null ? new LinkedHashMap<>() : members;
      if (member.user() != null) {
        firstHere[0] = m.values().stream().noneMatch(x -> member.user().equals(x.user()));
      }
      m.put(member.session(), e);
      return m;
    });
    // Redis unreachable: the mirror decides (a user already here is not announced again)
    return Callers.onCaller(write(room, member.session(), e).map(first -> first == null ? firstHere[0] : first));
  }

  /** Writes one connection; completes with whether it is its member's first (null: Redis did not answer). */
  private Future<Boolean> write(String room, String session, Entry e) {
    Future<Response> index = redis.apply(Request.cmd(Command.SADD).arg(NODE + nodeId + ":members")
      .arg(room + "\n" + session + (e.user() == null ? "" : "\n" + e.user())));
    if (e.user() != null) {
      String key = Member.key(session, e.user());
      Future<Response> add = redis.apply(Request.cmd(Command.EVAL).arg(ADD_USER).arg(3).arg(CONNS + room + ":" + key)
        .arg(PRESENCE + room).arg(ORDER + room).arg(session).arg(key).arg(e.json()).arg(Double.toString(e.score())));
      return Future.join(add, index).map(v -> add.result().toInteger() == 1)
        .recover(err -> Future.succeededFuture((Boolean) null));
    }
    Future<Response> hset = redis.apply(Request.cmd(Command.HSET).arg(PRESENCE + room).arg(session).arg(e.json()));
    Future<Response> zadd = redis.apply(Request.cmd(Command.ZADD).arg(ORDER + room).arg(Double.toString(e.score())).arg(session));
    return Future.join(hset, zadd, index).map(true).recover(err -> Future.succeededFuture(true));
  }

  @Override
  public Future<Boolean> remove(String room, String session, String user) {
    boolean[] lastHere = {true};
    mirror.computeIfPresent(room, (r, members) -> {
      members.remove(session);
      if (user != null) {
        lastHere[0] = members.values().stream().noneMatch(x -> user.equals(x.user()));
      }
      return members.isEmpty() ? null : members;
    });
    return Callers.onCaller(unwrite(room, session, user).map(last -> last == null ? lastHere[0] : last));
  }

  /** Removes one connection; completes with whether it was its member's last (null: Redis did not answer). */
  private Future<Boolean> unwrite(String room, String session, String user) {
    Future<Response> index = redis.apply(Request.cmd(Command.SREM).arg(NODE + nodeId + ":members")
      .arg(room + "\n" + session + (user == null ? "" : "\n" + user)));
    if (user != null) {
      Future<Response> removed = removeUser(room, session, user);
      return Future.join(removed, index).map(v -> removed.result().toInteger() == 1)
        .recover(err -> Future.succeededFuture((Boolean) null));
    }
    Future<Response> hdel = redis.apply(hdel(room, session));
    Future<Response> zrem = redis.apply(zrem(room, session));
    return Future.join(hdel, zrem, index).map(true).recover(err -> Future.succeededFuture(true));
  }

  private Future<Response> removeUser(String room, String session, String user) {
    String key = Member.key(session, user);
    return redis.apply(Request.cmd(Command.EVAL).arg(REMOVE_USER).arg(3).arg(CONNS + room + ":" + key)
      .arg(PRESENCE + room).arg(ORDER + room).arg(session).arg(key));
  }

  private static Request hdel(String room, String session) {
    return Request.cmd(Command.HDEL).arg(PRESENCE + room).arg(session);
  }

  private static Request zrem(String room, String session) {
    return Request.cmd(Command.ZREM).arg(ORDER + room).arg(session);
  }

  @Override
  public Future<ChatEvent.Presence> members(String room, int limit) {
    List<Ranked> local = localMembers(room);
    Future<Response> range = redis.apply(Request.cmd(Command.ZRANGE).arg(ORDER + room).arg(0).arg(limit > 0 ? limit - 1 : -1)
      .arg("WITHSCORES"));
    Future<Response> count = redis.apply(Request.cmd(Command.ZCARD).arg(ORDER + room));
    Future<ChatEvent.Presence> answer = Future.all(range, count)
      .compose(v -> named(room, ranked(range.result())))
      .map(remote -> merge(room, remote, local, limit, count.result().toInteger()))
      .recover(err -> Future.succeededFuture(merge(room, List.of(), local, limit, 0)));
    return Callers.onCaller(answer);
  }

  /** This node's members of the room, grouped by member key (a user's connections counted), read under the room's lock. */
  private List<Ranked> localMembers(String room) {
    Map<String, Ranked> out = new LinkedHashMap<>();
    mirror.computeIfPresent(room, (r, members) -> {
      for (Map.Entry<String, Entry> m : members.entrySet()) {
        Entry e = m.getValue();
        String key = Member.key(m.getKey(), e.user());
        out.merge(key, new Ranked(key, e.name(), e.user(), 1, e.score()),
          (a, b) -> new Ranked(key, a.name(), a.user(), a.count() + 1, Math.min(a.score(), b.score())));
      }
      return members;
    });
    return new ArrayList<>(out.values());
  }

  /** Member keys and scores of a ZRANGE WITHSCORES reply, flat (RESP2) or in pairs (RESP3). */
  private static List<Ranked> ranked(Response reply) {
    List<Ranked> out = new ArrayList<>();
    if (reply == null || reply.size() == 0) {
      return out;
    }
    if (reply.get(0).type() == ResponseType.MULTI) {
      for (Response pair : reply) {
        out.add(new Ranked(pair.get(0).toString(), null, null, 1, pair.get(1).toDouble()));
      }
    } else {
      for (int i = 0; i + 1 < reply.size(); i += 2) {
        out.add(new Ranked(reply.get(i).toString(), null, null, 1, reply.get(i + 1).toDouble()));
      }
    }
    return out;
  }

  /**
   * Fills in names (one HMGET for at most {@code limit}) and users' connection counts (one SCARD each) of
   * the ranked members. This node's own anonymous members stay unnamed here: {@link #merge} takes them from
   * the mirror.
   */
  private Future<List<Ranked>> named(String room, List<Ranked> ranked) {
    List<Ranked> others = ranked.stream().filter(r -> !isLocal(r.key())).toList();
    if (others.isEmpty()) {
      return Future.succeededFuture(ranked);
    }
    Request hmget = Request.cmd(Command.HMGET).arg(PRESENCE + room);
    others.forEach(r -> hmget.arg(r.key()));
    Map<String, Future<Response>> counts = new HashMap<>();
    for (Ranked r : others) {
      if (r.key().startsWith("u:")) {
        counts.put(r.key(), redis.apply(Request.cmd(Command.SCARD).arg(CONNS + room + ":" + r.key())));
      }
    }
    Future<Response> names = redis.apply(hmget);
    List<Future<Response>> all = new ArrayList<>(counts.values());
    all.add(names);
    return Future.all(all).map(v -> {
      Response values = names.result();
      Map<String, Ranked> found = new HashMap<>();
      for (int i = 0; i < others.size(); i++) {
        Response value = values == null || i >= values.size() ? null : values.get(i);
        if (value == null) {
          continue; // left between the two reads
        }
        try {
          JsonNode entry = Json.parseTree(value.toString());
          String user = entry.hasNonNull("u") ? entry.get("u").asText() : null;
          Future<Response> n = counts.get(others.get(i).key());
          int count = n == null || n.result() == null ? 1 : n.result().toInteger();
          if (user != null && count == 0) {
            continue; // its last connection left between the reads
          }
          found.put(others.get(i).key(), others.get(i).named(entry.path("n").asText(), user, count));
        } catch (RuntimeException e) {
          LOG.debug("skipping unreadable presence entry {}", others.get(i).key());
        }
      }
      List<Ranked> out = new ArrayList<>(ranked.size());
      for (Ranked r : ranked) {
        if (isLocal(r.key())) {
          out.add(r);
        } else if (found.containsKey(r.key())) {
          out.add(found.get(r.key()));
        }
      }
      return out;
    });
  }

  /**
   * Redis's first members ({@code redisTotal} in all), with this node's own taken from the mirror (the truth
   * for them, even when Redis lost them or still lists one that left; a user on several nodes counts the
   * larger of Redis's and this node's connections), in join order, cut to {@code limit}.
   */
  private ChatEvent.Presence merge(String room, List<Ranked> remote, List<Ranked> local, int limit, int redisTotal) {
    Map<String, Ranked> all = new HashMap<>();
    for (Ranked r : remote) {
      if (!isLocal(r.key())) {
        all.put(r.key(), r);
      }
    }
    // local members Redis does not have (it lost them, or was unreachable): they add to its count
    java.util.Set<String> inRedis = new java.util.HashSet<>();
    remote.forEach(r -> inRedis.add(r.key()));
    boolean windowFull = limit > 0 && remote.size() >= limit;
    double last = remote.isEmpty() ? Double.MAX_VALUE : remote.get(remote.size() - 1).score();
    int missing = 0;
    for (Ranked r : local) {
      Ranked known = all.get(r.key());
      all.put(r.key(), known == null ? r : known.named(known.name(), known.user(), Math.max(known.count(), r.count())));
      if (!inRedis.contains(r.key()) && (!windowFull || r.score() < last)) {
        missing++;
      }
    }
    List<Member> sorted = all.values().stream()
      .sorted(Comparator.comparingDouble(Ranked::score).thenComparing(Ranked::key))
      .map(Ranked::member)
      .toList();
    int total = Math.max(redisTotal + missing, sorted.size());
    if (limit > 0 && sorted.size() > limit) {
      sorted = sorted.subList(0, limit);
    }
    return total > sorted.size() ? new ChatEvent.Presence(room, sorted, total) : new ChatEvent.Presence(room, sorted);
  }

  /** Whether a member key is an anonymous session of this node (a user's key may be on any node). */
  private boolean isLocal(String key) {
    return key.startsWith(nodeId + ".");
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

  /** Removes a dead node's connections and tells their rooms who left (a user: when it had no other connection). */
  private void reap(String deadNode) {
    redis.apply(Request.cmd(Command.SMEMBERS).arg(NODE + deadNode + ":members")).onSuccess(entries -> {
      List<String> all = RedisBroker.strings(entries);
      LOG.info("node {} is gone: removing {} of its connections from presence", deadNode, all.size());
      List<Future<?>> steps = new ArrayList<>();
      for (String entry : all) {
        String[] parts = entry.split("\n", 3);
        if (parts.length < 2) {
          continue;
        }
        String room = parts[0];
        String session = parts[1];
        String user = parts.length == 3 ? parts[2] : null;
        String key = Member.key(session, user);
        steps.add(redis.apply(Request.cmd(Command.HGET).arg(PRESENCE + room).arg(key)).compose(v -> {
          String name = user != null ? user : session;
          if (v != null) {
            try {
              name = Json.parseTree(v.toString()).path("n").asText(name);
            } catch (RuntimeException ignored) {
              // keep the id as the name
            }
          }
          String finalName = name;
          Future<Boolean> last;
          if (user == null) {
            redis.apply(zrem(room, session));
            last = redis.apply(hdel(room, session)).map(true);
          } else {
            last = removeUser(room, session, user).map(r -> r.toInteger() == 1);
          }
          return last.onSuccess(gone -> {
            if (gone) {
              publish.accept(new Envelope(nodeId + ".reaper",
                new ChatEvent.Left(room, session, finalName, System.currentTimeMillis(), user)));
            }
          });
        }));
      }
      Future.join(steps).onComplete(ar -> {
        redis.apply(Request.cmd(Command.DEL).arg(NODE + deadNode + ":members"));
        redis.apply(Request.cmd(Command.SREM).arg(NODES).arg(deadNode));
      });
    });
  }
}
