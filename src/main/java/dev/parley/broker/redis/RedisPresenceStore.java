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
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Comparator;
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
 * {@code parley:node:<node>:members} lists the node's {@code room\nsession} entries; {@code parley:node:<node>}
 * is a liveness key refreshed every third of {@code broker.nodeTimeoutMs} and expiring after it;
 * {@code parley:nodes} lists the nodes.
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
  private static final String NODE = "parley:node:";
  private static final String NODES = "parley:nodes";
  private static final String REAP = "parley:reap:";

  private final Vertx vertx;
  private final String nodeId;
  private final long nodeTimeoutMs;
  private final Function<Request, Future<Response>> redis;
  private final Consumer<Envelope> publish;
  private final Map<String, Map<String, Entry>> mirror = new ConcurrentHashMap<>();
  private final AtomicLong seq = new AtomicLong();
  private long timer = -1;

  private record Entry(String name, long joinedAt, long seq) {
    String json() {
      return Json.MAPPER.createObjectNode().put("n", name).put("t", joinedAt).put("q", seq).toString();
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
    mirror.forEach((room, members) -> members.keySet().forEach(s -> cleanup.add(redis.apply(hdel(room, s)))));
    cleanup.add(redis.apply(Request.cmd(Command.DEL).arg(NODE + nodeId).arg(NODE + nodeId + ":members")));
    cleanup.add(redis.apply(Request.cmd(Command.SREM).arg(NODES).arg(nodeId)));
    return Future.join(cleanup).mapEmpty().recover(err -> Future.succeededFuture()).mapEmpty();
  }

  @Override
  public Future<Void> add(String room, Member member) {
    Entry e = new Entry(member.name(), System.currentTimeMillis(), seq.incrementAndGet());
    // one atomic step per room: a separate computeIfAbsent + put could put into a map that a racing
    // remove (another hub's last leave of this room) has just dropped from the mirror
    mirror.compute(room, (r, members) -> {
      Map<String, Entry> m = members == null ? new ConcurrentHashMap<>() : members;
      m.put(member.session(), e);
      return m;
    });
    return Callers.onCaller(write(room, member.session(), e));
  }

  private Future<Void> write(String room, String session, Entry e) {
    Future<Response> hset = redis.apply(Request.cmd(Command.HSET).arg(PRESENCE + room).arg(session).arg(e.json()));
    Future<Response> index = redis.apply(Request.cmd(Command.SADD).arg(NODE + nodeId + ":members").arg(room + "\n" + session));
    return Future.join(hset, index).<Void>mapEmpty().recover(err -> Future.succeededFuture());
  }

  @Override
  public Future<Void> remove(String room, String session) {
    mirror.computeIfPresent(room, (r, members) -> {
      members.remove(session);
      return members.isEmpty() ? null : members;
    });
    Future<Response> hdel = redis.apply(hdel(room, session));
    Future<Response> index = redis.apply(Request.cmd(Command.SREM).arg(NODE + nodeId + ":members").arg(room + "\n" + session));
    return Callers.onCaller(Future.join(hdel, index).<Void>mapEmpty().recover(err -> Future.succeededFuture()));
  }

  private static Request hdel(String room, String session) {
    return Request.cmd(Command.HDEL).arg(PRESENCE + room).arg(session);
  }

  @Override
  public Future<List<Member>> members(String room) {
    Future<List<Member>> all = redis.apply(Request.cmd(Command.HGETALL).arg(PRESENCE + room))
      .map(hash -> merge(room, hash))
      .recover(err -> Future.succeededFuture(merge(room, null)));
    return Callers.onCaller(all);
  }

  /** Redis's view of the room, with this node's members taken from the mirror, in join order. */
  private List<Member> merge(String room, Response hash) {
    Map<String, Entry> all = new LinkedHashMap<>();
    if (hash != null) {
      for (Map.Entry<String, String> field : RedisBroker.hash(hash).entrySet()) {
        String session = field.getKey();
        if (isLocal(session)) {
          continue;
        }
        try {
          JsonNode v = Json.parseTree(field.getValue());
          all.put(session, new Entry(v.path("n").asText(), v.path("t").asLong(), v.path("q").asLong()));
        } catch (RuntimeException e) {
          LOG.debug("skipping unreadable presence entry {}", session);
        }
      }
    }
    all.putAll(mirror.getOrDefault(room, Map.of()));
    return all.entrySet().stream()
      .sorted(Comparator.<Map.Entry<String, Entry>>comparingLong(x -> x.getValue().joinedAt())
        .thenComparingLong(x -> x.getValue().seq()).thenComparing(Map.Entry::getKey))
      .map(x -> new Member(x.getKey(), x.getValue().name()))
      .toList();
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
