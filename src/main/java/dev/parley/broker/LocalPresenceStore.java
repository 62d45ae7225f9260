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
 * insertion-ordered map (member key to its connections), guarded by the room's slot in the outer map; the
 * critical sections are a put, a remove, or a copy of the first {@code limit} members.
 */
public final class LocalPresenceStore implements PresenceStore {

  private final ConcurrentHashMap<String, Map<String, MemberConnections>> rooms = new ConcurrentHashMap<>();

  @Override
  public Future<Boolean> add(String room, Member member) {
    boolean[] first = {false};
    rooms.compute(room, (k, members) -> {
      Map<String, MemberConnections> m = members == null ? new LinkedHashMap<>() : members;
      MemberConnections g = m.computeIfAbsent(member.key(), x -> new MemberConnections(member.name(), member.user()));
      first[0] = g.sessions.isEmpty();
      g.sessions.add(member.session());
      return m;
    });
    return Future.succeededFuture(first[0]);
  }

  @Override
  public Future<Boolean> remove(String room, String session, String user) {
    boolean[] last = {false};
    rooms.computeIfPresent(room, (k, members) -> {
      String key = Member.key(session, user);
      MemberConnections g = members.get(key);
      if (g != null && g.sessions.remove(session) && g.sessions.isEmpty()) {
        members.remove(key);
        last[0] = true;
      }
      return members.isEmpty() ? null : members;
    });
    return Future.succeededFuture(last[0]);
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

  /** The first {@code limit} members of an insertion-ordered map, walking no further than that. */
  static ChatEvent.Presence firstOf(String room, Map<String, MemberConnections> members, int limit) {
    List<Member> first = new ArrayList<>(limit > 0 ? Math.min(limit, members.size()) : members.size());
    for (MemberConnections g : members.values()) {
      if (limit > 0 && first.size() == limit) {
        break;
      }
      first.add(g.member());
    }
    return members.size() > first.size() ? new ChatEvent.Presence(room, first, members.size()) : new ChatEvent.Presence(room, first);
  }
}
