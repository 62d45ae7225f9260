package dev.parley.broker.redis;

import dev.parley.broker.Callers;
import dev.parley.core.ChatEvent;
import dev.parley.core.HistoryRules;
import dev.parley.core.HistoryStore;
import dev.parley.core.Json;
import dev.parley.core.StreamPosition;
import io.vertx.core.Future;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import java.util.function.LongSupplier;

/**
 * History in Redis, shared by every node: per room a stream {@code parley:history:<room>} whose entry ids
 * are the offsets ({@code <offset>-0}, trimmed to {@code history.size}), a hash {@code parley:history-meta:<room>}
 * with the stream's {@code epoch} and {@code top}, and a hash {@code parley:history-cid:<room>} of client
 * message ids. Each operation is one Lua script, so an offset is taken and its message appended in one
 * atomic step and every node sees the same offsets; all three keys expire {@code history.ttlMs} after the
 * room's last message. A flushed or restarted Redis loses the meta hash, so the next use starts a new epoch.
 *
 * <p>While Redis cannot be reached, a node's messages go out without a position (the chat goes on) and
 * are not kept; the rooms concerned start a new epoch once Redis is back, so a client that recovers across
 * the outage is told {@code epoch_changed} instead of being given a silent gap.
 */
final class RedisHistoryStore implements HistoryStore {

  private static final Logger LOG = LoggerFactory.getLogger(RedisHistoryStore.class);
  private static final SecureRandom RANDOM = new SecureRandom();

  /** Sets the epoch when there is none (or when ARGV[1] asks for a new one); shared head of every script. */
  private static final String EPOCH = """
    local meta = KEYS[1]
    if ARGV[1] == '1' then
      redis.call('HSET', meta, 'epoch', ARGV[2])
    else
      redis.call('HSETNX', meta, 'epoch', ARGV[2])
    end
    local epoch = redis.call('HGET', meta, 'epoch')
    local top = tonumber(redis.call('HGET', meta, 'top') or '0')
    """;

  /** KEYS: meta, stream, cids. ARGV: reset, epoch, message json, cid, size, ttl, now. */
  private static final String APPEND = EPOCH + """
    if ARGV[4] ~= '' then
      local known = redis.call('HGET', KEYS[3], ARGV[4])
      if known then
        local e = redis.call('XRANGE', KEYS[2], known .. '-0', known .. '-0')
        if #e > 0 then
          return {'dup', epoch, known, e[1][2][2]}
        end
      end
    end
    top = redis.call('HINCRBY', meta, 'top', 1)
    redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[5], top .. '-0', 'm', ARGV[3], 't', ARGV[7])
    if ARGV[4] ~= '' then
      if redis.call('HLEN', KEYS[3]) >= 2 * tonumber(ARGV[5]) then
        redis.call('DEL', KEYS[3])
      end
      redis.call('HSET', KEYS[3], ARGV[4], top)
    end
    for i = 1, 3 do
      redis.call('PEXPIRE', KEYS[i], ARGV[6])
    end
    return {'new', epoch, tostring(top)}
    """;

  /** KEYS: meta. ARGV: reset, epoch. */
  private static final String TOP = EPOCH + """
    return {epoch, tostring(top)}
    """;

  /** KEYS: meta, stream. ARGV: reset, epoch, from id, to id, count (0: all), reverse. */
  private static final String RANGE = EPOCH + """
    local entries
    if ARGV[6] == '1' then
      if ARGV[5] ~= '0' then
        entries = redis.call('XREVRANGE', KEYS[2], ARGV[4], ARGV[3], 'COUNT', ARGV[5])
      else
        entries = redis.call('XREVRANGE', KEYS[2], ARGV[4], ARGV[3])
      end
    else
      entries = redis.call('XRANGE', KEYS[2], ARGV[3], ARGV[4])
    end
    return {epoch, tostring(top), entries}
    """;

  private final HistoryRules rules;
  private final LongSupplier clock;
  private final Function<Request, Future<Response>> redis;
  /** Rooms whose messages could not be kept (Redis away): they start a new epoch at their next use. */
  private final Set<String> broken = ConcurrentHashMap.newKeySet();

  RedisHistoryStore(HistoryRules rules, LongSupplier clock, Function<Request, Future<Response>> redis) {
    this.rules = rules;
    this.clock = clock;
    this.redis = redis;
  }

  private static String newEpoch() {
    return Long.toString(RANDOM.nextLong() & Long.MAX_VALUE, 36);
  }

  private static String meta(String room) {
    return "parley:history-meta:" + room;
  }

  private static String stream(String room) {
    return "parley:history:" + room;
  }

  private static String cids(String room) {
    return "parley:history-cid:" + room;
  }

  @Override
  public boolean enabled() {
    return true;
  }

  @Override
  public boolean keeps(String room) {
    return rules.keeps(room);
  }

  /** Runs a script with the epoch arguments first; a room that lost messages gets its new epoch here. */
  private Future<Response> eval(String script, String room, List<String> keys, String... args) {
    boolean reset = broken.contains(room);
    Request r = Request.cmd(Command.EVAL).arg(script).arg(keys.size());
    keys.forEach(r::arg);
    r.arg(reset ? "1" : "0").arg(newEpoch());
    for (String a : args) {
      r.arg(a);
    }
    return redis.apply(r).onSuccess(ok -> {
      if (reset && broken.remove(room)) {
        LOG.info("room {}: messages were lost while Redis was away; its history starts a new epoch", room);
      }
    });
  }

  @Override
  public Future<Appended> append(ChatEvent.Message message, String cid) {
    String json = Json.encode(message);
    Future<Appended> done = eval(APPEND, message.room(), List.of(meta(message.room()), stream(message.room()), cids(message.room())),
      json, cid == null ? "" : cid, Integer.toString(rules.size(message.room())), Long.toString(rules.ttlMs(message.room())),
      Long.toString(clock.getAsLong()))
      .map(reply -> {
        StreamPosition at = new StreamPosition(reply.get(1).toString(), reply.get(2).toLong());
        if ("dup".equals(reply.get(0).toString())) {
          return new Appended(read(reply.get(3).toString()).at(at), true);
        }
        return new Appended(message.at(at), false);
      })
      .onFailure(err -> broken.add(message.room()));
    return Callers.onCaller(done);
  }

  @Override
  public Future<StreamPosition> top(String room) {
    return Callers.onCaller(eval(TOP, room, List.of(meta(room)))
      .map(reply -> new StreamPosition(reply.get(0).toString(), reply.get(1).toLong())));
  }

  @Override
  public Future<Replay> since(String room, StreamPosition after) {
    Future<Replay> done = eval(RANGE, room, List.of(meta(room), stream(room)),
      (after.offset() + 1) + "-0", "+", "0", "0").map(reply -> {
        StreamPosition top = new StreamPosition(reply.get(0).toString(), reply.get(1).toLong());
        if (!top.epoch().equals(after.epoch()) || after.offset() > top.offset() || after.offset() < 0) {
          return Replay.failed(Replay.EPOCH_CHANGED, top);
        }
        List<ChatEvent.Message> messages = messages(reply.get(2), top.epoch(), rules.ttlMs(room), false);
        long expected = top.offset() - after.offset();
        if (messages.size() != expected || !messages.isEmpty() && messages.get(0).offset() != after.offset() + 1) {
          return Replay.failed(Replay.TOO_OLD, top);
        }
        return Replay.of(messages, top);
      });
    return Callers.onCaller(done);
  }

  @Override
  public Future<Replay> before(String room, long before, int limit) {
    if (before == 1) {
      return top(room).map(top -> Replay.of(List.of(), top));
    }
    String to = before <= 0 ? "+" : (before - 1) + "-0";
    Future<Replay> done = eval(RANGE, room, List.of(meta(room), stream(room)), "-", to, Integer.toString(limit), "1")
      .map(reply -> {
        StreamPosition top = new StreamPosition(reply.get(0).toString(), reply.get(1).toLong());
        List<ChatEvent.Message> newestFirst = messages(reply.get(2), top.epoch(), rules.ttlMs(room), true);
        List<ChatEvent.Message> oldestFirst = new ArrayList<>(newestFirst.size());
        for (int i = newestFirst.size() - 1; i >= 0; i--) {
          oldestFirst.add(newestFirst.get(i));
        }
        return Replay.of(oldestFirst, top);
      });
    return Callers.onCaller(done);
  }

  /** Stream entries ({@code [id, [m, json, t, ms]]}) as positioned messages, leaving out expired ones. */
  private List<ChatEvent.Message> messages(Response entries, String epoch, long ttlMs, boolean skipExpired) {
    List<ChatEvent.Message> out = new ArrayList<>();
    long oldest = clock.getAsLong() - ttlMs;
    if (entries == null) {
      return out;
    }
    for (Response entry : entries) {
      String id = entry.get(0).toString();
      long offset = Long.parseLong(id.substring(0, id.indexOf('-')));
      Response fields = entry.get(1);
      String json = null;
      long at = Long.MAX_VALUE;
      for (int i = 0; i + 1 < fields.size(); i += 2) {
        String f = fields.get(i).toString();
        if ("m".equals(f)) {
          json = fields.get(i + 1).toString();
        } else if ("t".equals(f)) {
          at = fields.get(i + 1).toLong();
        }
      }
      if (json == null || at < oldest) {
        if (!skipExpired) {
          // an expired message ends what can be replayed from the front: the caller sees a gap (too_old)
          out.clear();
          continue;
        }
        continue;
      }
      out.add(read(json).at(new StreamPosition(epoch, offset)));
    }
    return out;
  }

  private static ChatEvent.Message read(String json) {
    byte[] bytes = json.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    return (ChatEvent.Message) Json.decodeEvent(bytes, 0, bytes.length);
  }
}
