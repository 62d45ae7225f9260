package dev.parley.broker;

import dev.parley.core.Member;

import java.io.Serializable;
import java.util.LinkedHashSet;

/**
 * One member of a room in a presence store: its name, its user (null: anonymous, then exactly one
 * connection) and its connections there, in the order they joined. Serializable, for stores that keep it in
 * a Hazelcast map. Not thread-safe: stores change it under their room's lock.
 */
public final class MemberConnections implements Serializable {
  private static final long serialVersionUID = 1L;

  public final String name;
  public final String user;
  public final LinkedHashSet<String> sessions = new LinkedHashSet<>(2);

  public MemberConnections(String name, String user) {
    this.name = name;
    this.user = user;
  }

  /** The member as presence lists it (its first connection's session when anonymous). */
  public Member member() {
    return user == null ? new Member(sessions.iterator().next(), name) : Member.user(user, name, sessions.size());
  }
}
