package dev.parley.core;

import io.vertx.core.Future;

/**
 * Who is in each room, across every hub and node sharing the broker. Members are listed in join order.
 * A member is an anonymous connection, or a verified user with any number of connections in the room
 * (listed once, with its count; see {@link Member}). Implementations are thread-safe: hubs on different
 * event loops call them concurrently.
 *
 * <p>Cost: {@code add} and {@code remove} must not depend on the size of the room, and
 * {@code members(room, limit)} only on {@code limit} (a limit of 0 asks for the whole room, which costs
 * its size), so joining or leaving a big room is as cheap as joining a small one.
 */
public interface PresenceStore {

  /**
   * Adds one connection ({@code member.session()}, of {@code member.user()} when verified). Completes with
   * true when it is the member's first connection in the room, cluster-wide (always, for an anonymous one):
   * only then is the join announced.
   */
  Future<Boolean> add(String room, Member member);

  /**
   * Removes one connection of {@code user} (null: anonymous). Completes with true when it was the member's
   * last connection in the room: only then is the leave announced.
   */
  Future<Boolean> remove(String room, String session, String user);

  /** Removes an anonymous connection. */
  default Future<Boolean> remove(String room, String session) {
    return remove(room, session, null);
  }

  /**
   * The room's first {@code limit} members in join order (all of them when {@code limit} is 0), with
   * {@code total} set to the room's size when the list was cut.
   */
  Future<ChatEvent.Presence> members(String room, int limit);
}
