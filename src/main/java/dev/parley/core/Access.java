package dev.parley.core;

import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Who may connect, join and publish, node-wide: the auth mode, the token verifier, the per-room rules and
 * the per-user limits. One per node, shared by every hub (thread-safe). {@link #OPEN} is the anonymous
 * chat with no rules.
 */
public final class Access {

  /** {@code auth.mode}. */
  public enum Mode {
    /** No tokens; everyone names themselves (the default). */
    ANONYMOUS,
    /** Tokens give identity; anonymous clients may still join rooms whose rules allow anyone. */
    MIXED,
    /** Every connection must present a valid token before anything else. */
    TOKEN
  }

  /** Who may do something in a room: {@code anyone}, {@code token} holders, {@code nobody}, or token holders with listed claims. */
  public record Who(String kind, Map<String, Set<String>> claims) {
    public static final Who ANYONE = new Who("anyone", Map.of());
    public static final Who TOKEN = new Who("token", Map.of());
    public static final Who NOBODY = new Who("nobody", Map.of());

    public static Who claims(Map<String, Set<String>> claims) {
      return new Who("claims", Map.copyOf(claims));
    }

    public boolean admits(Identity identity) {
      return switch (kind) {
        case "anyone" -> true;
        case "token" -> identity.verified();
        case "claims" -> identity.verified() && claims.entrySet().stream()
          .allMatch(c -> holds(identity.claims().get(c.getKey()), c.getValue()));
        default -> false;
      };
    }

    private static boolean holds(Object claim, Set<String> wanted) {
      if (claim instanceof Collection<?> values) {
        return values.stream().anyMatch(v -> v != null && wanted.contains(String.valueOf(v)));
      }
      return claim != null && wanted.contains(String.valueOf(claim));
    }
  }

  /** One {@code rooms} entry: for rooms matching {@code match}, who may join and publish, and whether presence is shown. */
  public record RoomRule(RoomPattern match, Who join, Who publish, boolean presence) {
  }

  public static final Access OPEN = new Access(Mode.ANONYMOUS, null, List.of(), 10_000, 0, 0, 0);

  private final Mode mode;
  private final Authenticator authenticator;
  private final List<RoomRule> rules;
  private final RoomRule fallback;
  private final long authTimeoutMs;
  private final int maxConnectionsPerUser;
  private final int userPublishPerSecond;
  private final int userPublishBurst;
  private final Map<String, User> users = new ConcurrentHashMap<>();

  /**
   * @param maxConnectionsPerUser connections one user may hold on this node (0: no bound)
   * @param userPublishPerSecond  publishes per second one user may make across its connections on this node (0: no bound)
   */
  public Access(Mode mode, Authenticator authenticator, List<RoomRule> rules, long authTimeoutMs,
                int maxConnectionsPerUser, int userPublishPerSecond, int userPublishBurst) {
    this.mode = mode;
    this.authenticator = authenticator;
    this.rules = List.copyOf(rules);
    Who everyone = mode == Mode.ANONYMOUS ? Who.ANYONE : Who.TOKEN;
    this.fallback = new RoomRule(RoomPattern.of("*"), everyone, everyone, true);
    this.authTimeoutMs = authTimeoutMs;
    this.maxConnectionsPerUser = maxConnectionsPerUser;
    this.userPublishPerSecond = userPublishPerSecond;
    this.userPublishBurst = Math.max(userPublishBurst, 1);
  }

  public Mode mode() {
    return mode;
  }

  /** Whether clients may present tokens at all. */
  public boolean acceptsTokens() {
    return mode != Mode.ANONYMOUS && authenticator != null;
  }

  public Authenticator authenticator() {
    return authenticator;
  }

  /** How long a connection has to authenticate in token mode. */
  public long authTimeoutMs() {
    return authTimeoutMs;
  }

  /** The first rule whose pattern matches the room; without one: anyone (anonymous mode) or token holders. */
  public RoomRule rule(String room) {
    for (RoomRule r : rules) {
      if (r.match().matches(room)) {
        return r;
      }
    }
    return fallback;
  }

  /** Refuses with {@link ErrorCode#ACCESS_DENIED} unless the room's rule and the token let this identity join. */
  public void checkJoin(Identity identity, String room) {
    if (!rule(room).join().admits(identity)) {
      throw denied(identity, room, "join");
    }
    if (!identity.mayJoin(room)) {
      throw new ChatException(ErrorCode.ACCESS_DENIED, "your token does not allow room " + room);
    }
  }

  /** Refuses with {@link ErrorCode#ACCESS_DENIED} unless the room's rule and the token let this identity publish. */
  public void checkPublish(Identity identity, String room) {
    if (!rule(room).publish().admits(identity)) {
      throw denied(identity, room, "publish to");
    }
    if (!identity.mayPublish(room)) {
      throw new ChatException(ErrorCode.ACCESS_DENIED, "your token does not allow publishing to " + room);
    }
  }

  private static ChatException denied(Identity identity, String room, String what) {
    return new ChatException(ErrorCode.ACCESS_DENIED, identity.verified()
      ? "you may not " + what + " " + room
      : "you need a token to " + what + " " + room);
  }

  /** Whether members of the room are listed and their joins and leaves announced. */
  public boolean presenceVisible(String room) {
    return rule(room).presence();
  }

  /** Counts one more connection of {@code user} on this node; false (nothing counted) when it is at its bound. */
  public boolean acquire(String user) {
    boolean[] ok = {true};
    users.compute(user, (k, u) -> {
      User x = u == null ? new User(userPublishPerSecond, userPublishBurst) : u;
      if (maxConnectionsPerUser > 0 && x.connections >= maxConnectionsPerUser) {
        ok[0] = false;
      } else {
        x.connections++;
      }
      return x.connections == 0 ? null : x;
    });
    return ok[0];
  }

  /** Gives back a connection counted by {@link #acquire}. */
  public void release(String user) {
    users.computeIfPresent(user, (k, u) -> --u.connections <= 0 ? null : u);
  }

  /** Takes one publish from the user's node-wide budget; false when it publishes too fast. */
  public boolean tryPublish(String user) {
    if (userPublishPerSecond <= 0) {
      return true;
    }
    User u = users.get(user);
    if (u == null) {
      return true;
    }
    synchronized (u) {
      return u.rate.tryTake();
    }
  }

  /** Connections of a user on this node (for tests and the admin view). */
  public int connectionsOf(String user) {
    User u = users.get(user);
    return u == null ? 0 : u.connections;
  }

  public int maxConnectionsPerUser() {
    return maxConnectionsPerUser;
  }

  private static final class User {
    int connections;
    final TokenBucket rate;

    User(int perSecond, int burst) {
      this.rate = new TokenBucket(Math.max(perSecond, 1), burst, System::nanoTime);
    }
  }
}
