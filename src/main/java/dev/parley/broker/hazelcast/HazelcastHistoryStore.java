package dev.parley.broker.hazelcast;

import com.hazelcast.config.InMemoryFormat;
import com.hazelcast.config.MapConfig;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.EntryProcessor;
import com.hazelcast.map.ExtendedMapEntry;
import com.hazelcast.map.IMap;
import dev.parley.broker.Callers;
import dev.parley.core.ChatEvent;
import dev.parley.core.HistoryRules;
import dev.parley.core.HistoryStore;
import dev.parley.core.Json;
import dev.parley.core.StreamPosition;
import io.vertx.core.Future;

import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * History in a Hazelcast map ({@code parley.history}: room to its stream), shared by every node of the
 * cluster. A stream is kept as an object ({@code InMemoryFormat.OBJECT}) and only ever changed or read by
 * entry processors on its partition, so taking an offset and appending the message is one atomic step and
 * every node sees the same offsets. Each stream holds its last {@code history.size} messages and expires
 * {@code history.ttlMs} after its last message. A stream created afresh (first use, expiry, or the loss
 * of every replica of its partition) has a new random epoch.
 */
final class HazelcastHistoryStore implements HistoryStore {

  static final String MAP = "parley.history";
  private static final SecureRandom RANDOM = new SecureRandom();

  private final IMap<String, Stream> streams;
  private final HistoryRules rules;
  private final LongSupplier clock;

  HazelcastHistoryStore(HazelcastInstance hazelcast, HistoryRules rules, LongSupplier clock) {
    hazelcast.getConfig().addMapConfig(new MapConfig(MAP).setInMemoryFormat(InMemoryFormat.OBJECT));
    this.streams = hazelcast.getMap(MAP);
    this.rules = rules;
    this.clock = clock;
  }

  static String newEpoch() {
    return Long.toString(RANDOM.nextLong() & Long.MAX_VALUE, 36);
  }

  @Override
  public boolean enabled() {
    return true;
  }

  @Override
  public boolean keeps(String room) {
    return rules.keeps(room);
  }

  /**
   * This node's appends per room, one after the other: Hazelcast may run two invocations in flight for
   * one key in either order, and the order of appends is the order members receive messages in.
   */
  private final ConcurrentHashMap<String, Future<Done>> tails = new ConcurrentHashMap<>();

  @Override
  public Future<Appended> append(ChatEvent.Message message, String cid) {
    Append op = new Append(Json.encode(message), cid, rules.size(message.room()), rules.ttlMs(message.room()),
      clock.getAsLong(), newEpoch());
    String room = message.room();
    @SuppressWarnings("unchecked")
    Future<Done>[] mine = new Future[1];
    tails.compute(room, (r, tail) -> {
      mine[0] = tail == null ? submit(room, op) : tail.transform(previous -> submit(room, op));
      return mine[0];
    });
    mine[0].onComplete(ar -> tails.remove(room, mine[0]));
    return Callers.onCaller(mine[0].map(r -> {
      StreamPosition at = new StreamPosition(r.epoch(), r.offset());
      return r.duplicate() == null ? new Appended(message.at(at), false) : new Appended(read(r.duplicate()).at(at), true);
    }));
  }

  private Future<Done> submit(String room, Append op) {
    return Future.fromCompletionStage(streams.submitToKey(room, op));
  }

  @Override
  public Future<StreamPosition> top(String room) {
    return read(room, new Read(Read.TOP, 0, 0, clock.getAsLong(), rules.ttlMs(room), newEpoch())).map(Window::top);
  }

  @Override
  public Future<Replay> since(String room, StreamPosition after) {
    return read(room, new Read(Read.SINCE, after.offset(), 0, clock.getAsLong(), rules.ttlMs(room), newEpoch())).map(w -> {
      StreamPosition top = w.top();
      if (!top.epoch().equals(after.epoch()) || after.offset() > top.offset() || after.offset() < 0) {
        return Replay.failed(Replay.EPOCH_CHANGED, top);
      }
      List<ChatEvent.Message> messages = w.messages();
      if (messages.size() != top.offset() - after.offset()) {
        return Replay.failed(Replay.TOO_OLD, top);
      }
      return Replay.of(messages, top);
    });
  }

  @Override
  public Future<Replay> before(String room, long before, int limit) {
    return read(room, new Read(Read.BEFORE, before, limit, clock.getAsLong(), rules.ttlMs(room), newEpoch()))
      .map(w -> Replay.of(w.messages(), w.top()));
  }

  private Future<Window> read(String room, Read op) {
    return Callers.onCaller(Future.fromCompletionStage(streams.submitToKey(room, op)));
  }

  private static ChatEvent.Message read(String json) {
    byte[] bytes = json.getBytes(StandardCharsets.UTF_8);
    return (ChatEvent.Message) Json.decodeEvent(bytes, 0, bytes.length);
  }

  /** One room's stream: its epoch, its last offset, the kept messages (JSON without position) and client ids. */
  static final class Stream implements Serializable {
    private static final long serialVersionUID = 1L;
    final String epoch;
    long top;
    final ArrayDeque<Kept> kept = new ArrayDeque<>();
    final Map<String, Long> byCid = new HashMap<>();

    Stream(String epoch) {
      this.epoch = epoch;
    }

    void expire(long now, long ttlMs) {
      while (!kept.isEmpty() && now - kept.peekFirst().at() > ttlMs) {
        forget(kept.removeFirst());
      }
    }

    void forget(Kept k) {
      if (k.cid() != null) {
        byCid.remove(k.cid());
      }
    }
  }

  record Kept(long offset, String json, long at, String cid) implements Serializable {
  }

  /** What an append did: the position, and the original message's JSON when the client id was known. */
  record Done(String epoch, long offset, String duplicate) implements Serializable {
  }

  /** Messages read from a stream (JSON and offset), oldest first, and the stream's top. */
  record Window(String epoch, long last, List<String> json, List<Long> offsets) implements Serializable {
    StreamPosition top() {
      return new StreamPosition(epoch, last);
    }

    List<ChatEvent.Message> messages() {
      List<ChatEvent.Message> out = new ArrayList<>(json.size());
      for (int i = 0; i < json.size(); i++) {
        out.add(read(json.get(i)).at(new StreamPosition(epoch, offsets.get(i))));
      }
      return out;
    }
  }

  /** Takes the next offset and keeps the message, or answers a known client id with the original. */
  static final class Append implements EntryProcessor<String, Stream, Done> {
    private final String json;
    private final String cid;
    private final int size;
    private final long ttlMs;
    private final long now;
    private final String epoch;

    Append(String json, String cid, int size, long ttlMs, long now, String epoch) {
      this.json = json;
      this.cid = cid;
      this.size = size;
      this.ttlMs = ttlMs;
      this.now = now;
      this.epoch = epoch;
    }

    @Override
    public Done process(Map.Entry<String, Stream> entry) {
      Stream s = entry.getValue() == null ? new Stream(epoch) : entry.getValue();
      s.expire(now, ttlMs);
      if (cid != null && s.byCid.containsKey(cid)) {
        long offset = s.byCid.get(cid);
        for (Kept k : s.kept) {
          if (k.offset() == offset) {
            return new Done(s.epoch, offset, k.json());
          }
        }
      }
      long offset = ++s.top;
      s.kept.addLast(new Kept(offset, json, now, cid));
      if (cid != null) {
        s.byCid.put(cid, offset);
      }
      while (s.kept.size() > size) {
        s.forget(s.kept.removeFirst());
      }
      ((ExtendedMapEntry<String, Stream>) entry).setValue(s, ttlMs, TimeUnit.MILLISECONDS);
      return new Done(s.epoch, offset, null);
    }
  }

  /** Reads a stream (creating it, with a new epoch, when there is none): its top, what follows an offset, or what precedes one. */
  static final class Read implements EntryProcessor<String, Stream, Window> {
    static final int TOP = 0;
    static final int SINCE = 1;
    static final int BEFORE = 2;
    private final int mode;
    private final long offset;
    private final int limit;
    private final long now;
    private final long ttlMs;
    private final String epoch;

    Read(int mode, long offset, int limit, long now, long ttlMs, String epoch) {
      this.mode = mode;
      this.offset = offset;
      this.limit = limit;
      this.now = now;
      this.ttlMs = ttlMs;
      this.epoch = epoch;
    }

    @Override
    public Window process(Map.Entry<String, Stream> entry) {
      Stream s = entry.getValue();
      if (s == null) {
        s = new Stream(epoch);
        ((ExtendedMapEntry<String, Stream>) entry).setValue(s, ttlMs, TimeUnit.MILLISECONDS);
      }
      s.expire(now, ttlMs);
      List<String> json = new ArrayList<>();
      List<Long> offsets = new ArrayList<>();
      if (mode == SINCE) {
        for (Kept k : s.kept) {
          if (k.offset() > offset) {
            json.add(k.json());
            offsets.add(k.offset());
          }
        }
      } else if (mode == BEFORE) {
        Iterator<Kept> newestFirst = s.kept.descendingIterator();
        while (newestFirst.hasNext() && json.size() < limit) {
          Kept k = newestFirst.next();
          if (offset <= 0 || k.offset() < offset) {
            json.add(0, k.json());
            offsets.add(0, k.offset());
          }
        }
      }
      return new Window(s.epoch, s.top, json, offsets);
    }
  }
}
