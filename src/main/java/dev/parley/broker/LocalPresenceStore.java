package dev.parley.broker;

import dev.parley.core.Member;
import dev.parley.core.PresenceStore;
import io.vertx.core.Future;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Presence for a single node: one map shared by every hub of the JVM. Each room's member map is
 * guarded by itself; the critical sections are a map put, remove or copy.
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
  public Future<List<Member>> members(String room) {
    List<Member>[] out = new List[1];
    rooms.compute(room, (k, members) -> {
      out[0] = members == null ? List.of() : List.copyOf(members.values());
      return members;
    });
    return Future.succeededFuture(out[0]);
  }
}
