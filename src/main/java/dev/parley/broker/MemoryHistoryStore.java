package dev.parley.broker;

import dev.parley.core.ChatEvent;
import dev.parley.core.HistoryRules;
import dev.parley.core.HistoryStore;
import dev.parley.core.StreamPosition;
import io.vertx.core.Future;

import java.security.SecureRandom;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * History for a single node, in memory: per room the last {@code size} messages for at most {@code ttlMs},
 * and all rooms together within {@code memoryBytes} (when that is passed, the streams written to least
 * recently are dropped whole). A room's stream gets a new random epoch whenever it starts afresh (first
 * message after a start, or after it was dropped or expired), so a client holding a position of a lost
 * stream is told {@code epoch_changed}, never given a silent gap. Each stream is guarded by itself.
 */
public final class MemoryHistoryStore implements HistoryStore {

  /** What one kept message is charged against {@code memoryBytes}: its text and fields, plus overhead. */
  static final int OVERHEAD_BYTES = 160;

  private static final SecureRandom RANDOM = new SecureRandom();

  private final HistoryRules rules;
  private final long memoryBytes;
  private final LongSupplier clock;
  private final ConcurrentHashMap<String, Stream> streams = new ConcurrentHashMap<>();
  private final AtomicLong bytes = new AtomicLong();
  private final AtomicLong writes = new AtomicLong();

  public MemoryHistoryStore(int size, long ttlMs, long memoryBytes, LongSupplier clock) {
    this(HistoryRules.fixed(size, ttlMs), memoryBytes, clock);
  }

  public MemoryHistoryStore(HistoryRules rules, long memoryBytes, LongSupplier clock) {
    this.rules = rules;
    this.memoryBytes = memoryBytes;
    this.clock = clock;
  }

  private static final class Stream {
    final String room;
    final int size;
    final long ttlMs;
    final String epoch = newEpoch();
    final ArrayDeque<Kept> kept = new ArrayDeque<>();
    final Map<String, ChatEvent.Message> byCid = new LinkedHashMap<>();
    long top;
    long lastWrite;
    boolean dropped;

    Stream(String room, HistoryRules rules) {
      this.room = room;
      this.size = rules.size(room);
      this.ttlMs = rules.ttlMs(room);
    }
  }

  private record Kept(ChatEvent.Message message, String cid, long at, int bytes) {
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

  @Override
  public Future<Appended> append(ChatEvent.Message message, String cid) {
    long now = clock.getAsLong();
    while (true) {
      Stream s = streams.computeIfAbsent(message.room(), r -> new Stream(r, rules));
      Appended appended;
      int charged;
      synchronized (s) {
        if (s.dropped) {
          continue; // dropped between the lookup and the lock: take the new one
        }
        expire(s, now);
        if (cid != null) {
          ChatEvent.Message original = s.byCid.get(cid);
          if (original != null) {
            return Future.succeededFuture(new Appended(original, true));
          }
        }
        ChatEvent.Message positioned = message.at(new StreamPosition(s.epoch, ++s.top));
        charged = OVERHEAD_BYTES + 2 * (positioned.text().length() + positioned.name().length()
          + positioned.session().length() + positioned.id().length() + (cid == null ? 0 : cid.length()));
        s.kept.addLast(new Kept(positioned, cid, now, charged));
        if (cid != null) {
          s.byCid.put(cid, positioned);
        }
        s.lastWrite = writes.incrementAndGet();
        while (s.kept.size() > s.size) {
          forget(s, s.kept.removeFirst());
        }
        appended = new Appended(positioned, false);
      }
      if (bytes.addAndGet(charged) > memoryBytes) {
        evict(message.room());
      }
      return Future.succeededFuture(appended);
    }
  }

  private void forget(Stream s, Kept k) {
    bytes.addAndGet(-k.bytes());
    if (k.cid() != null) {
      s.byCid.remove(k.cid());
    }
  }

  /** Drops messages older than {@code ttlMs} from the front of a stream (called under its lock). */
  private void expire(Stream s, long now) {
    while (!s.kept.isEmpty() && now - s.kept.peekFirst().at() > s.ttlMs) {
      forget(s, s.kept.removeFirst());
    }
  }

  /** Drops the least recently written streams (never {@code keep}) until the budget holds again. */
  private void evict(String keep) {
    while (bytes.get() > memoryBytes) {
      Stream oldest = null;
      for (Stream s : streams.values()) {
        if (!s.room.equals(keep) && (oldest == null || s.lastWrite < oldest.lastWrite)) {
          oldest = s;
        }
      }
      if (oldest == null) {
        // only the stream just written is left: trim it from the front
        Stream s = streams.get(keep);
        if (s == null) {
          return;
        }
        synchronized (s) {
          if (s.kept.size() <= 1) {
            return;
          }
          forget(s, s.kept.removeFirst());
        }
        continue;
      }
      drop(oldest);
    }
  }

  private void drop(Stream s) {
    synchronized (s) {
      if (s.dropped) {
        return;
      }
      s.dropped = true;
      for (Kept k : s.kept) {
        bytes.addAndGet(-k.bytes());
      }
      s.kept.clear();
      s.byCid.clear();
    }
    streams.remove(s.room, s);
  }

  /** Forgets expired messages, and streams left empty by them. Called periodically by the node. */
  public void sweep() {
    long now = clock.getAsLong();
    for (Stream s : streams.values()) {
      boolean empty;
      synchronized (s) {
        expire(s, now);
        empty = s.kept.isEmpty();
      }
      if (empty) {
        drop(s);
      }
    }
  }

  @Override
  public Future<StreamPosition> top(String room) {
    Stream s = streams.computeIfAbsent(room, r -> new Stream(r, rules));
    synchronized (s) {
      return Future.succeededFuture(new StreamPosition(s.epoch, s.top));
    }
  }

  @Override
  public Future<Replay> since(String room, StreamPosition after) {
    long now = clock.getAsLong();
    while (true) {
      Stream s = streams.computeIfAbsent(room, r -> new Stream(r, rules));
      synchronized (s) {
        if (s.dropped) {
          continue;
        }
        expire(s, now);
        StreamPosition top = new StreamPosition(s.epoch, s.top);
        if (!s.epoch.equals(after.epoch()) || after.offset() > s.top || after.offset() < 0) {
          return Future.succeededFuture(Replay.failed(Replay.EPOCH_CHANGED, top));
        }
        long oldest = s.top - s.kept.size() + 1; // offset of the first kept message
        if (after.offset() + 1 < oldest) {
          return Future.succeededFuture(Replay.failed(Replay.TOO_OLD, top));
        }
        List<ChatEvent.Message> out = new ArrayList<>((int) (s.top - after.offset()));
        for (Kept k : s.kept) {
          if (k.message().offset() > after.offset()) {
            out.add(k.message());
          }
        }
        return Future.succeededFuture(Replay.of(out, top));
      }
    }
  }

  @Override
  public Future<Replay> before(String room, long before, int limit) {
    long now = clock.getAsLong();
    Stream s = streams.get(room);
    if (s == null) {
      return top(room).map(top -> Replay.of(List.of(), top));
    }
    synchronized (s) {
      expire(s, now);
      StreamPosition top = new StreamPosition(s.epoch, s.top);
      ArrayDeque<ChatEvent.Message> out = new ArrayDeque<>();
      Iterator<Kept> newestFirst = s.kept.descendingIterator();
      while (newestFirst.hasNext() && out.size() < limit) {
        ChatEvent.Message m = newestFirst.next().message();
        if (before <= 0 || m.offset() < before) {
          out.addFirst(m);
        }
      }
      return Future.succeededFuture(Replay.of(new ArrayList<>(out), top));
    }
  }

  /** Bytes charged for kept messages now (for tests and metrics). */
  public long bytes() {
    return bytes.get();
  }
}
