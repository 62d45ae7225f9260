package dev.parley.core;

import dev.parley.config.ParleyConfig.LimitsConfig;
import io.vertx.core.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * Sessions and rooms of one event loop. A node runs one hub per transport verticle instance; hubs
 * share nothing but the {@link Broker} (events) and its {@link PresenceStore} (who is where).
 *
 * <p>Events produced here are written to local members at once (so a joiner sees its own
 * {@code joined} before its {@code presence}, and a publisher its own message in order), then published
 * to the broker for every other hub; this hub drops the echo. All methods run on the hub's event loop.
 */
public final class Hub {

  private static final Logger LOG = LoggerFactory.getLogger(Hub.class);

  private final String id;
  private final Broker broker;
  private final PresenceStore presence;
  private final LimitsConfig limits;
  private final LongSupplier clock;
  private final Map<String, Room> rooms = new HashMap<>();
  private final Map<String, Session> sessions = new HashMap<>();
  private long sessionSeq;
  private long messageSeq;

  /**
   * @param id    unique across the cluster (node id and instance number); prefixes every session id
   * @param clock wall-clock milliseconds for event timestamps
   */
  public Hub(String id, Broker broker, LimitsConfig limits, LongSupplier clock) {
    this.id = id;
    this.broker = broker;
    this.presence = broker.presence();
    this.limits = limits;
    this.clock = clock;
  }

  public String id() {
    return id;
  }

  public int sessionCount() {
    return sessions.size();
  }

  /** Registers a new connection and gives it a cluster-unique session id. */
  public Session open(Connection connection) {
    String sid = id + "-" + Long.toString(++sessionSeq, 36);
    Session session = new Session(sid,
      connection,
      new TokenBucket(limits.ratePerSecond(), limits.rateBurst(), System::nanoTime),
      limits.maxPendingCommands());
    sessions.put(sid, session);
    return session;
  }

  /**
   * Joins a room under a name. Completes with the room's presence (every node) once the session is a
   * member and its {@code joined} event has been written to the room. Joining a room again is harmless:
   * it answers the presence and announces nothing.
   */
  public Future<ChatEvent.Presence> join(Session session, String room, String name) {
    Rules.checkRoom(room);
    Rules.checkName(name);
    if (session.isClosed()) {
      return Future.failedFuture(new ChatException(ErrorCode.BAD_REQUEST, "connection is closed"));
    }
    if (session.rooms().containsKey(room)) {
      return presence.members(room).map(members -> new ChatEvent.Presence(room, members));
    }
    if (session.rooms().size() >= limits.maxRoomsPerConnection()) {
      return Future.failedFuture(new ChatException(ErrorCode.TOO_MANY_ROOMS,
        "a connection may join at most " + limits.maxRoomsPerConnection() + " rooms"));
    }
    Room r = rooms.computeIfAbsent(room, this::openRoom);
    r.pendingJoins++;
    Member member = new Member(session.id(), name);
    return r.subscribed
      .compose(v -> presence.add(room, member))
      .transform(ar -> {
        r.pendingJoins--;
        if (ar.failed()) {
          dropIfEmpty(r);
          LOG.warn("join failed: room={} session={} hub={}", room, session.id(), id, ar.cause());
          return Future.failedFuture(new ChatException(ErrorCode.UNAVAILABLE, "could not join, try again"));
        }
        if (session.isClosed()) {
          // The connection ended while we waited; undo the presence entry nobody will remove.
          presence.remove(room, session.id());
          dropIfEmpty(r);
          return Future.failedFuture(new ChatException(ErrorCode.BAD_REQUEST, "connection is closed"));
        }
        r.members.put(session.id(), session);
        session.mutableRooms().put(room, name);
        emit(r, new ChatEvent.Joined(room, session.id(), name, clock.getAsLong()));
        return presence.members(room).map(members -> new ChatEvent.Presence(room, members));
      });
  }

  /** Publishes a text to a joined room; completes with the message as members receive it. */
  public Future<ChatEvent.Message> publish(Session session, String room, String text) {
    if (text == null) {
      throw new ChatException(ErrorCode.BAD_REQUEST, "text is required");
    }
    if (text.length() > limits.maxTextLength()) {
      throw new ChatException(ErrorCode.TOO_LARGE, "text is longer than " + limits.maxTextLength() + " characters");
    }
    String name = session.rooms().get(room);
    Room r = name == null ? null : rooms.get(room);
    if (r == null) {
      Rules.checkRoom(room);
      throw new ChatException(ErrorCode.NOT_JOINED, "join " + room + " before publishing to it");
    }
    ChatEvent.Message m = new ChatEvent.Message(room, session.id(), name, text, clock.getAsLong(),
      id + "-" + Long.toString(++messageSeq, 36));
    emit(r, m);
    return Future.succeededFuture(m);
  }

  /** Leaves a joined room; the remaining members get {@code left}. */
  public Future<Void> leave(Session session, String room) {
    if (!session.rooms().containsKey(room)) {
      Rules.checkRoom(room);
      throw new ChatException(ErrorCode.NOT_JOINED, "not a member of " + room);
    }
    return removeMember(session, room);
  }

  /**
   * The connection ended, for whatever reason: leaves every room (announcing {@code left}) and forgets
   * the session. Idempotent, so transports may call it from several close paths.
   */
  public void disconnect(Session session) {
    if (session.isClosed()) {
      return;
    }
    session.markClosed();
    sessions.remove(session.id());
    for (String room : new ArrayList<>(session.rooms().keySet())) {
      removeMember(session, room);
    }
  }

  /** Closes every connection of this hub (server shutdown); members are announced as left. */
  public void shutdown(CloseCode code, String reason) {
    for (Session s : new ArrayList<>(sessions.values())) {
      s.connection().close(code, reason);
      disconnect(s);
    }
  }

  private Future<Void> removeMember(Session session, String room) {
    String name = session.mutableRooms().remove(room);
    Room r = rooms.get(room);
    if (r != null) {
      r.members.remove(session.id());
      emit(r, new ChatEvent.Left(room, session.id(), name, clock.getAsLong()));
      dropIfEmpty(r);
    }
    return presence.remove(room, session.id());
  }

  private Room openRoom(String room) {
    Room r = new Room(room);
    r.subscribed = broker.subscribe(room, this::onBrokerEvent)
      .map(sub -> {
        r.subscription = sub;
        if (r.dropped) {
          sub.unsubscribe();
        }
        return null;
      });
    return r;
  }

  private void dropIfEmpty(Room r) {
    if (r.members.isEmpty() && r.pendingJoins == 0 && !r.dropped) {
      r.dropped = true;
      rooms.remove(r.name, r);
      if (r.subscription != null) {
        r.subscription.unsubscribe();
      }
    }
  }

  private void emit(Room r, ChatEvent event) {
    Envelope envelope = new Envelope(id, event);
    fanOut(r, envelope);
    broker.publish(envelope);
  }

  private void onBrokerEvent(Envelope envelope) {
    if (id.equals(envelope.origin())) {
      return;
    }
    Room r = rooms.get(envelope.room());
    if (r != null) {
      fanOut(r, envelope);
    }
  }

  private static void fanOut(Room r, Envelope envelope) {
    // Connections never close themselves synchronously inside deliver(), so iterating is safe.
    for (Session member : r.members.values()) {
      member.connection().deliver(envelope);
    }
  }

  /** A room as this hub sees it: local members only, and this hub's broker subscription. */
  private static final class Room {
    final String name;
    final Map<String, Session> members = new LinkedHashMap<>();
    Future<Void> subscribed;
    Broker.Subscription subscription;
    int pendingJoins;
    boolean dropped;

    Room(String name) {
      this.name = name;
    }
  }

  /** For tests and health: rooms this hub currently holds. */
  public List<String> roomNames() {
    return List.copyOf(rooms.keySet());
  }
}
