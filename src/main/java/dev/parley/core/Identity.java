package dev.parley.core;

import java.util.List;
import java.util.Map;

/**
 * Who a session is. Anonymous sessions ({@link #ANONYMOUS}) name themselves on each join; a verified one
 * presented a signed token: {@code user} is its {@code sub}, {@code name} the display name the token gave,
 * {@code rooms} and {@code publish} the room patterns its claims allow (null: the token does not restrict),
 * {@code claims} every claim (for room rules that list claims), {@code expiresAtMs} when it stops being
 * valid (0: never).
 */
public record Identity(String user, String name, List<RoomPattern> rooms, List<RoomPattern> publish,
                       Map<String, Object> claims, long expiresAtMs) {

  public static final Identity ANONYMOUS = new Identity(null, null, null, null, Map.of(), 0);

  public Identity {
    rooms = rooms == null ? null : List.copyOf(rooms);
    publish = publish == null ? null : List.copyOf(publish);
    claims = claims == null ? Map.of() : Map.copyOf(claims);
  }

  /** Whether a valid token stands behind this identity. */
  public boolean verified() {
    return user != null;
  }

  /** Whether the token lets this user join {@code room} (anonymous: yes, room rules decide). */
  public boolean mayJoin(String room) {
    return rooms == null || RoomPattern.any(rooms, room);
  }

  /** Whether the token lets this user publish to {@code room}: its publish claim, else its rooms claim. */
  public boolean mayPublish(String room) {
    return publish != null ? RoomPattern.any(publish, room) : mayJoin(room);
  }
}
