package dev.parley.core;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;

/**
 * One member of a room as presence reports it. An anonymous member is one connection: its {@code session}
 * and the name it joined with. A verified member is a user, listed once however many connections it has
 * in the room: {@code user} (the token's subject), the token's {@code name}, and {@code connections}.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonPropertyOrder({"session", "user", "name", "connections"})
public record Member(String session, String name, String user, Integer connections) {

  /** An anonymous member (one connection). */
  public Member(String session, String name) {
    this(session, name, null, null);
  }

  /** What presence groups connections by: the user for a verified member, else the session. */
  public static String key(String session, String user) {
    return user == null ? session : "u:" + user;
  }

  /** One connection of a member, as a presence store is given it on join: anonymous, or a user's. */
  public static Member connection(String session, String name, String user) {
    return new Member(session, name, user, null);
  }

  /** A verified user as listed in presence. */
  public static Member user(String user, String name, int connections) {
    return new Member(null, name, user, connections);
  }

  /** {@link #key} of this member. */
  public String key() {
    return key(session, user);
  }
}
