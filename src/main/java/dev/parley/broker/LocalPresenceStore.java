package dev.parley.broker;

import dev.parley.core.ChatEvent;
import dev.parley.core.Member;
import dev.parley.core.PresenceStore;
import io.vertx.core.Future;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Presence for a single node: one map shared by every hub of the JVM. Each room's members sit in an
 * insertion-ordered map, guarded by the room's slot in the outer map; the critical sections are a
 * put, a remove, or a copy of the first {@code limit} members.
 */
public final class LocalPresenceStore implements PresenceStore {

  private final ConcurrentHashMap<String, Map<String, Member>> rooms = new ConcurrentHashMap<>();

  @Override
  public Future<Void> add(String room, Member member) {
    rooms.compute(room, (k, members) -> {
      Map<String, Member> m = members == null ? new LinkedHashMap<>() : members;
      m.put(member.session(), member);
      return m;
    });
    return Future.succeededFuture();
  }

  @Override
  public Future<Void> remove(String room, String session) {
    rooms.computeIfPresent(room, (k, members) -> {
      members.remove(session);
      return members.isEmpty() ? null : members;
    });
    return Future.succeededFuture();
  }

  @Override
  public Future<ChatEvent.Presence> members(String room, int limit) {
    ChatEvent.Presence[] out = new ChatEvent.Presence[1];
    rooms.compute(room, (k, members) -> {
      out[0] = firstOf(room, members == null ? Map.of() : members, limit);
      return members;
    });
    return Future.succeededFuture(out[0]);
  }

  /** The first {@code limit} values of an insertion-ordered map, walking no further than that. */
  static ChatEvent.Presence firstOf(String room, Map<String, Member> members, int limit) {
    if (limit <= 0 || members.size() <= limit) {
      return new ChatEvent.Presence(room, List.copyOf(members.values()));
    }
    List<Member> first = new ArrayList<>(limit);
    for (Member m : members.values()) {
      if (first.size() == limit) {
        break;
      }
      first.add(m);
    }
    return new ChatEvent.Presence(room, first, members.size());
  }
}
