package dev.parley.core;

import io.vertx.core.Future;

import java.util.List;

/**
 * Who is in each room, across every hub and node sharing the broker. Members are listed in join order.
 * Implementations are thread-safe: hubs on different event loops call them concurrently.
 */
public interface PresenceStore {

  Future<Void> add(String room, Member member);

  Future<Void> remove(String room, String session);

  Future<List<Member>> members(String room);
}
