package dev.parley.core;

import io.vertx.core.Future;

/**
 * Who is in each room, across every hub and node sharing the broker. Members are listed in join order.
 * Implementations are thread-safe: hubs on different event loops call them concurrently.
 *
 * <p>Cost: {@code add} and {@code remove} must not depend on the size of the room, and
 * {@code members(room, limit)} only on {@code limit} (a limit of 0 asks for the whole room, which costs
 * its size), so joining or leaving a big room is as cheap as joining a small one.
 */
public interface PresenceStore {

  Future<Void> add(String room, Member member);

  Future<Void> remove(String room, String session);

  /**
   * The room's first {@code limit} members in join order (all of them when {@code limit} is 0), with
   * {@code total} set to the room's size when the list was cut.
   */
  Future<ChatEvent.Presence> members(String room, int limit);
}
