package dev.parley.broker.redis;

import dev.parley.broker.Callers;
import dev.parley.broker.EnvelopeCodec;
import dev.parley.core.Broker;
import dev.parley.core.NodeLink;
import dev.parley.core.Envelope;
import dev.parley.config.ParleyConfig.HistoryConfig;
import dev.parley.core.HistoryStore;
import dev.parley.core.KeptState;
import dev.parley.core.PresenceStore;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.RedisConnection;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A {@link Broker} over Redis pub/sub for separate, non-clustered processes. One channel per room
 * ({@code parley:room:<room>}), one SUBSCRIBE per room per node however many hubs and members it
 * has; the payload is the publishing node's id followed by the {@link EnvelopeCodec} wire form,
 * decoded once per node.
 *
 * <p>Hubs of this node get each other's events directly, not through Redis, and the node drops the
 * Redis echo of its own events: so the rooms of one node keep working while Redis is away. The outage
 * is logged once; both connections come back with backoff, resubscribe, and the presence store
 * rewrites this node's members ({@link RedisPresenceStore}).
 *
 * <p>Order: one connection publishes everything of this node, in call order, so events of one
 * publisher in one room reach every subscriber in order. Delivery is at most once.
 */
public final class RedisBroker implements Broker {

  private static final Logger LOG = LoggerFactory.getLogger(RedisBroker.class);
  static final String CHANNEL_PREFIX = "parley:room:";
  private static final long SUBSCRIBE_CONFIRM_TIMEOUT_MS = 5_000;
  /** Each node's channel for frames addressed to it ({@link NodeLink}). */
  static final String LINK_PREFIX = "parley:link:";
  /** The directory of the node link: who holds a key. */
  static final String HOLDER_PREFIX = "parley:holder:";

  private final Vertx vertx;
  private final String nodeId;
  private final Context context;
  private final RedisLink publisher;
  private final RedisLink subscriber;
  private final RedisPresenceStore presence;
  private final HistoryStore history;
  private final Map<String, List<Subscriber>> rooms = new ConcurrentHashMap<>();
  private final Map<String, List<Promise<Void>>> confirmations = new ConcurrentHashMap<>();
  private volatile boolean dropLogged;

  private RedisBroker(Vertx vertx, String nodeId, String uri, long nodeTimeoutMs, HistoryConfig historyConfig) {
    this.vertx = vertx;
    this.nodeId = nodeId;
    this.context = vertx.getOrCreateContext();
    this.presence = new RedisPresenceStore(vertx, nodeId, nodeTimeoutMs, this::send, this::publish);
    this.history = historyConfig == null || !historyConfig.enabled() ? HistoryStore.OFF
      : new RedisHistoryStore(historyConfig, System::currentTimeMillis, this::send);
    this.publisher = new RedisLink(vertx, "commands", uri, push -> { }, c -> presence.resync());
    this.subscriber = new RedisLink(vertx, "subscriber", uri, this::onPush, this::resubscribe);
  }

  /**
   * Starts a Redis broker for node {@code nodeId}; completes after the first connection attempts, even
   * if Redis is not reachable yet (the node then serves local rooms until it is).
   */
  public static Future<Broker> create(Vertx vertx, String nodeId, String uri, long nodeTimeoutMs) {
    return create(vertx, nodeId, uri, nodeTimeoutMs, null);
  }

  /** As {@link #create(Vertx, String, String, long)}, keeping room history in Redis as {@code history} says. */
  public static Future<Broker> create(Vertx vertx, String nodeId, String uri, long nodeTimeoutMs, HistoryConfig history) {
    RedisBroker broker = new RedisBroker(vertx, nodeId, uri, nodeTimeoutMs, history);
    return Future.all(broker.publisher.start(), broker.subscriber.start())
      .compose(v -> broker.subscribeChannel(LINK_PREFIX + nodeId).otherwiseEmpty())
      .map(v -> {
        broker.presence.start();
        return broker;
      });
  }

  Future<Response> send(Request request) {
    return publisher.send(request);
  }

  @Override
  public Future<Subscription> subscribe(String room, Handler<Envelope> handler) {
    Subscriber sub = new Subscriber(handler, Vertx.currentContext());
    Promise<Void> ready = Promise.promise();
    context.runOnContext(v -> {
      List<Subscriber> subs = rooms.computeIfAbsent(room, r -> new CopyOnWriteArrayList<>());
      subs.add(sub);
      if (subs.size() == 1) {
        subscribeChannel(CHANNEL_PREFIX + room).onComplete(ar -> {
          if (ar.failed()) {
            // not subscribed after all: forget this subscriber so the next join tries again
            subs.remove(sub);
            if (subs.isEmpty()) {
              rooms.remove(room, subs);
            }
          }
          ready.handle(ar);
        });
      } else {
        ready.complete();
      }
    });
    return Callers.onCaller(ready.future()).map(v -> () -> unsubscribe(room, sub));
  }

  private Future<Void> unsubscribe(String room, Subscriber sub) {
    Promise<Void> done = Promise.promise();
    context.runOnContext(v -> {
      List<Subscriber> subs = rooms.get(room);
      if (subs != null && subs.remove(sub) && subs.isEmpty()) {
        rooms.remove(room);
        subscriber.send(Request.cmd(Command.UNSUBSCRIBE).arg(CHANNEL_PREFIX + room));
      }
      done.complete();
    });
    return Callers.onCaller(done.future());
  }

  /** SUBSCRIBE and wait for Redis to confirm it, so that later publishes are sure to arrive. */
  private Future<Void> subscribeChannel(String channel) {
    if (!subscriber.isUp()) {
      return Future.succeededFuture(); // resubscribed on reconnection; local hubs still hear each other
    }
    Promise<Void> confirmed = Promise.promise();
    confirmations.computeIfAbsent(channel, c -> new CopyOnWriteArrayList<>()).add(confirmed);
    // no confirmation in time, or a failed send: the subscription fails (the join gets "unavailable")
    // rather than pretending events from other nodes will arrive
    long timer = vertx.setTimer(SUBSCRIBE_CONFIRM_TIMEOUT_MS,
      t -> confirmed.tryFail(new IllegalStateException("redis did not confirm SUBSCRIBE " + channel + " in time")));
    subscriber.send(Request.cmd(Command.SUBSCRIBE).arg(channel)).onFailure(confirmed::tryFail);
    return confirmed.future().andThen(ar -> vertx.cancelTimer(timer));
  }

  private void resubscribe(RedisConnection connection) {
    connection.send(Request.cmd(Command.SUBSCRIBE).arg(LINK_PREFIX + nodeId));
    for (String room : rooms.keySet()) {
      connection.send(Request.cmd(Command.SUBSCRIBE).arg(CHANNEL_PREFIX + room));
    }
  }

  @Override
  public State state() {
    return publisher.isUp() && subscriber.isUp() ? State.UP : State.DOWN;
  }

  @Override
  public void publish(Envelope event) {
    // Local hubs first, straight from memory: they keep hearing each other while Redis is away.
    deliverLocally(event);
    // The wire form: this node's id, then the envelope, so every node can drop its own echoes.
    byte[] node = nodeId.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    Buffer wire = Buffer.buffer().appendInt(node.length).appendBytes(node).appendBuffer(EnvelopeCodec.encode(event));
    publisher.send(Request.cmd(Command.PUBLISH).arg(CHANNEL_PREFIX + event.room()).arg(wire)).onComplete(ar -> {
      if (ar.failed() && !dropLogged) {
        dropLogged = true;
        LOG.warn("redis unavailable: room events are reaching this node only ({})", String.valueOf(ar.cause()));
      } else if (ar.succeeded() && dropLogged) {
        dropLogged = false;
      }
    });
  }

  private void deliverLocally(Envelope event) {
    List<Subscriber> subs = rooms.get(event.room());
    if (subs != null) {
      for (Subscriber s : subs) {
        s.deliver(event);
      }
    }
  }

  private void onPush(Response push) {
    if (push == null || push.size() < 3) {
      return;
    }
    String kind = push.get(0).toString();
    String channel = push.get(1).toString();
    switch (kind) {
      case "message" -> {
        if (channel.equals(LINK_PREFIX + nodeId)) {
          link.deliver(push.get(2).toBuffer());
          return;
        }
        if (!channel.startsWith(CHANNEL_PREFIX)) {
          return;
        }
        Buffer wire = push.get(2).toBuffer();
        Envelope event;
        try {
          int nodeLength = wire.getInt(0);
          if (wire.getString(4, 4 + nodeLength, "UTF-8").equals(nodeId)) {
            return; // our own event: delivered locally when it was published
          }
          event = new EnvelopeCodec().decodeFromWire(4 + nodeLength, wire);
        } catch (RuntimeException e) {
          LOG.warn("dropping an unreadable message on {}: {}", channel, e.toString());
          return;
        }
        deliverLocally(event);
      }
      case "subscribe" -> {
        List<Promise<Void>> waiting = confirmations.remove(channel);
        if (waiting != null) {
          waiting.forEach(Promise::tryComplete);
        }
      }
      default -> {
      }
    }
  }

  @Override
  public PresenceStore presence() {
    return presence;
  }

  @Override
  public HistoryStore history() {
    return history;
  }

  /** GET then DEL in one step (GETDEL needs Redis 6.2). */
  private static final String TAKE = "local v = redis.call('GET', KEYS[1]); redis.call('DEL', KEYS[1]); return v";

  @Override
  public KeptState kept() {
    return new KeptState() {
      @Override
      public void keep(String key, String value, long ttlMs) {
        send(Request.cmd(Command.SET).arg("parley:kept:" + key).arg(value).arg("PX").arg(ttlMs));
      }

      @Override
      public Future<String> take(String key) {
        return Callers.onCaller(send(Request.cmd(Command.EVAL).arg(TAKE).arg(1).arg("parley:kept:" + key))
          .map(v -> v == null ? null : v.toString()));
      }
    };
  }

  private final Link link = new Link();

  @Override
  public NodeLink link() {
    return link;
  }

  /** Claims a key unless another node (other than the one superseded) holds it; answers the holder. */
  private static final String CLAIM = "local v = redis.call('GET', KEYS[1]) "
    + "if v and v ~= ARGV[1] and v ~= ARGV[3] then return v end "
    + "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return ARGV[1]";
  /** Deletes a key only while this node holds it. */
  private static final String RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end return 1";

  /** Frames over a channel per node; PUBLISH tells how many received it, so a gone node fails at once. */
  private final class Link implements NodeLink {
    private Handler<Buffer> frames;
    private Context frameContext;

    void deliver(Buffer frame) {
      Handler<Buffer> h = frames;
      if (h == null) {
        return;
      }
      if (Vertx.currentContext() == frameContext) {
        h.handle(frame);
      } else {
        frameContext.runOnContext(v -> h.handle(frame));
      }
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
      return Callers.onCaller(publisher.send(Request.cmd(Command.PUBLISH).arg(LINK_PREFIX + node).arg(frame)))
        .compose(r -> r != null && r.toLong() > 0
          ? Future.succeededFuture() : Future.failedFuture(new IllegalStateException("node " + node + " is not listening")));
    }

    @Override
    public void receive(Handler<Buffer> handler) {
      frameContext = Vertx.currentContext() != null ? Vertx.currentContext() : context;
      frames = handler;
    }

    @Override
    public Future<String> claim(String key, String supersede, long ttlMs) {
      return Callers.onCaller(RedisBroker.this.send(Request.cmd(Command.EVAL).arg(CLAIM).arg(1).arg(HOLDER_PREFIX + key)
        .arg(nodeId).arg(ttlMs).arg(supersede == null ? "" : supersede)).map(r -> r == null ? null : r.toString()));
    }

    @Override
    public Future<String> holder(String key) {
      return Callers.onCaller(RedisBroker.this.send(Request.cmd(Command.GET).arg(HOLDER_PREFIX + key)).map(r -> r == null ? null : r.toString()));
    }

    @Override
    public void release(String key) {
      RedisBroker.this.send(Request.cmd(Command.EVAL).arg(RELEASE).arg(1).arg(HOLDER_PREFIX + key).arg(nodeId));
    }
  }

  @Override
  public Future<Void> close() {
    return presence.close().eventually(() -> Future.all(publisher.close(), subscriber.close())).mapEmpty();
  }

  /** Whether both connections are up (for health and tests). */
  public boolean connected() {
    return publisher.isUp() && subscriber.isUp();
  }

  private record Subscriber(Handler<Envelope> handler, Context context) {
    void deliver(Envelope event) {
      if (Vertx.currentContext() == context) {
        handler.handle(event);
      } else {
        context.runOnContext(v -> handler.handle(event));
      }
    }
  }

  /** A hash reply as a map, whether Redis answered in RESP3 (a map) or RESP2 (a flat array). */
  static Map<String, String> hash(Response reply) {
    Map<String, String> out = new java.util.LinkedHashMap<>();
    if (reply == null) {
      return out;
    }
    if (reply.type() == io.vertx.redis.client.ResponseType.MULTI && reply.isMap()) {
      for (String key : reply.getKeys()) {
        out.put(key, reply.get(key).toString());
      }
      return out;
    }
    for (int i = 0; i + 1 < reply.size(); i += 2) {
      out.put(reply.get(i).toString(), reply.get(i + 1).toString());
    }
    return out;
  }

  static List<String> strings(Response multi) {
    List<String> out = new ArrayList<>();
    if (multi != null) {
      for (int i = 0; i < multi.size(); i++) {
        out.add(multi.get(i).toString());
      }
    }
    return out;
  }
}
