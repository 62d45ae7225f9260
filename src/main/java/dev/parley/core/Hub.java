package dev.parley.core;

import dev.parley.config.ParleyConfig.LimitsConfig;
import io.vertx.core.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
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
  private final Thread owner;
  private int fanOutDepth;
  private final List<Session> disconnectAfterFanOut = new ArrayList<>();

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
    this.owner = Thread.currentThread();
  }

  /**
   * Fails unless the caller runs on this hub's event loop (the thread that created it): a hub, its
   * sessions and its connections are confined to one loop, and a call from elsewhere is a bug that
   * would otherwise corrupt them silently.
   */
  public void checkLoop() {
    if (Thread.currentThread() != owner) {
      throw new IllegalStateException("hub " + id + " used from " + Thread.currentThread().getName()
        + ", it belongs to " + owner.getName());
    }
  }

  public String id() {
    return id;
  }

  public int sessionCount() {
    return sessions.size();
  }

  /** Registers a new connection and gives it a cluster-unique session id. */
  public Session open(Connection connection) {
    checkLoop();
    String sid = id + "-" + Long.toString(++sessionSeq, 36);
    Session session = new Session(sid, this,
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
  public Future<ChatEvent.Presence> join(Session session, String room, String rawName) {
    Rules.checkRoom(room);
    Rules.checkName(rawName);
    String name = Rules.normalizeName(rawName);
    if (session.isClosed()) {
      return Future.failedFuture(new ChatException(ErrorCode.BAD_REQUEST, "connection is closed"));
    }
    if (session.rooms().containsKey(room)) {
      return presence.members(room, limits.maxPresenceMembers());
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
        if (r.watchers.remove(session.id()) != null) {
          session.watching().remove(room);
        }
        session.mutableRooms().put(room, name);
        ChatEvent.Joined joined = new ChatEvent.Joined(room, session.id(), name, clock.getAsLong());
        if (announces(r)) {
          emit(r, joined);
        } else {
          session.connection().deliver(new Envelope(id, joined)); // the joiner still learns it joined
        }
        return presence.members(room, limits.maxPresenceMembers());
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

  /** The session id outside producers publish under (HTTP publish API). */
  public static final String API_SESSION = "api";

  /**
   * Publishes a message on behalf of a producer that is not a connection (the HTTP publish API): members
   * on every node get a normal {@code message} whose session is {@value #API_SESSION}.
   */
  public ChatEvent.Message publishAs(String room, String rawName, String text) {
    Rules.checkRoom(room);
    Rules.checkName(rawName);
    String name = Rules.normalizeName(rawName);
    if (text == null) {
      throw new ChatException(ErrorCode.BAD_REQUEST, "text is required");
    }
    if (text.length() > limits.maxTextLength()) {
      throw new ChatException(ErrorCode.TOO_LARGE, "text is longer than " + limits.maxTextLength() + " characters");
    }
    ChatEvent.Message m = new ChatEvent.Message(room, API_SESSION, name, text, clock.getAsLong(),
      id + "-" + Long.toString(++messageSeq, 36));
    emit(rooms.get(room), m);
    return m;
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
    checkLoop();
    if (fanOutDepth > 0) {
      // a connection broke the Connection rule and closed inside deliver(): the room being iterated
      // must not change under the loop, so the session leaves once the fan-out is done
      disconnectAfterFanOut.add(session);
      return;
    }
    disconnectAll(session);
  }

  /**
   * Closes every connection of this hub (server shutdown); members are announced as left. Completes
   * when the presence store has forgotten them, so a graceful stop leaves nothing behind.
   */
  public Future<Void> shutdown(CloseCode code, String reason) {
    List<Future<Void>> removals = new ArrayList<>();
    for (Session s : new ArrayList<>(sessions.values())) {
      s.connection().close(code, reason);
      removals.addAll(disconnectAll(s));
    }
    return Future.join(removals).mapEmpty();
  }

  private List<Future<Void>> disconnectAll(Session session) {
    List<Future<Void>> removals = new ArrayList<>();
    if (!session.isClosed()) {
      session.markClosed();
      sessions.remove(session.id());
      for (String room : new ArrayList<>(session.watching())) {
        unwatch(session, room);
      }
      for (String room : new ArrayList<>(session.rooms().keySet())) {
        removals.add(removeMember(session, room));
      }
    }
    return removals;
  }

  // ---- outside producers (Socket.IO emitter and its requests) ----

  /**
   * Writes an outside event to the local sessions it targets: members of any of {@code rooms} (a
   * session id counts as a room holding just that session; no rooms means everyone), minus sessions in
   * any of {@code except}. Each session gets it once, however many targeted rooms it is in.
   */
  public void deliverOutside(Envelope event, Set<String> rooms, Set<String> except) {
    for (Session s : match(rooms, except)) {
      try {
        s.connection().deliver(event);
      } catch (RuntimeException e) {
        LOG.warn("delivery failed: session={} hub={}", s.id(), id, e);
      }
    }
  }

  /** Makes the targeted local sessions join {@code newRooms} (emitter {@code socketsJoin}). */
  public void remoteJoin(Set<String> rooms, Set<String> except, List<String> newRooms) {
    for (Session s : match(rooms, except)) {
      for (String room : newRooms) {
        if (!Rules.validRoom(room)) {
          continue;
        }
        String name = s.rooms().isEmpty() ? s.id() : s.rooms().values().iterator().next();
        String shortName = Rules.validName(name) ? name : s.id().substring(0, Math.min(32, s.id().length()));
        s.submit(() -> join(s, room, shortName))
          .onSuccess(presence -> s.connection().deliver(new Envelope(id, presence)))
          .onFailure(err -> LOG.debug("remote join refused: session={} room={}: {}", s.id(), room, err.getMessage()));
      }
    }
  }

  /** Makes the targeted local sessions leave {@code oldRooms} (emitter {@code socketsLeave}). */
  public void remoteLeave(Set<String> rooms, Set<String> except, List<String> oldRooms) {
    for (Session s : match(rooms, except)) {
      for (String room : oldRooms) {
        if (s.rooms().containsKey(room)) {
          s.submit(() -> leave(s, room));
        }
      }
    }
  }

  /** Closes the targeted local sessions (emitter {@code disconnectSockets}). */
  public void remoteDisconnect(Set<String> rooms, Set<String> except) {
    for (Session s : match(rooms, except)) {
      s.connection().close(CloseCode.DISCONNECTED, "disconnected by the server");
    }
  }

  private Collection<Session> match(Set<String> rooms, Set<String> except) {
    Collection<Session> targets;
    if (rooms.isEmpty()) {
      targets = new ArrayList<>(sessions.values());
    } else {
      Set<Session> union = new LinkedHashSet<>();
      for (String room : rooms) {
        // a session id names that session alone; rooms can never have that shape (Rules.validRoom)
        if (Rules.isSessionId(room)) {
          Session personal = sessions.get(room);
          if (personal != null) {
            union.add(personal);
          }
          continue;
        }
        Room r = this.rooms.get(room);
        if (r != null) {
          union.addAll(r.members.values());
        }
      }
      targets = union;
    }
    if (!except.isEmpty()) {
      targets.removeIf(s -> except.contains(s.id()) || s.rooms().keySet().stream().anyMatch(except::contains));
    }
    return targets;
  }

  private Future<Void> removeMember(Session session, String room) {
    String name = session.mutableRooms().remove(room);
    Room r = rooms.get(room);
    if (r != null) {
      r.members.remove(session.id());
      if (announces(r)) {
        emit(r, new ChatEvent.Left(room, session.id(), name, clock.getAsLong()));
      }
      dropIfEmpty(r);
    }
    return presence.remove(room, session.id());
  }

  /**
   * Whether joins and leaves are announced to the room: always, unless {@code limits.maxAnnouncedRoomSize}
   * is set and the room has more members than that on this node (announcing every join to every member
   * of a huge room costs members squared frames).
   */
  private boolean announces(Room r) {
    int max = limits.maxAnnouncedRoomSize();
    return max == 0 || r.members.size() <= max;
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
    if (r.members.isEmpty() && r.watchers.isEmpty() && r.pendingJoins == 0 && !r.dropped) {
      r.dropped = true;
      rooms.remove(r.name, r);
      if (r.subscription != null) {
        r.subscription.unsubscribe();
      }
    }
  }

  private void emit(Room r, ChatEvent event) {
    Envelope envelope = new Envelope(id, event);
    if (r != null) {
      fanOut(r, envelope);
    }
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

  private void fanOut(Room r, Envelope envelope) {
    // Connections never close themselves synchronously inside deliver() (the Connection rule); should one
    // do it anyway, disconnect() defers its removal until this loop is done. One connection failing must
    // not cost the others their event.
    fanOutDepth++;
    try {
      for (Session member : r.members.values()) {
        deliver(member, envelope, r);
      }
      if (!r.watchers.isEmpty()) {
        for (Session watcher : r.watchers.values()) {
          deliver(watcher, envelope, r);
        }
      }
    } finally {
      if (--fanOutDepth == 0 && !disconnectAfterFanOut.isEmpty()) {
        List<Session> late = new ArrayList<>(disconnectAfterFanOut);
        disconnectAfterFanOut.clear();
        late.forEach(this::disconnectAll);
      }
    }
  }

  private void deliver(Session s, Envelope envelope, Room r) {
    try {
      s.connection().deliver(envelope);
    } catch (RuntimeException e) {
      LOG.warn("delivery failed: session={} room={} hub={}", s.id(), r.name, id, e);
    }
  }

  /**
   * Lets a session hear a room's events without being a member: not in presence, never announced,
   * cannot publish. Socket.IO clients of the seed applications listen to the default room this way
   * until they join it. Joining the room ends watching.
   */
  public void watch(Session session, String room) {
    Rules.checkRoom(room);
    if (session.isClosed() || session.rooms().containsKey(room)) {
      return;
    }
    Room r = rooms.computeIfAbsent(room, this::openRoom);
    r.watchers.put(session.id(), session);
    session.watching().add(room);
  }

  /** Stops watching a room (see {@link #watch}). */
  public void unwatch(Session session, String room) {
    session.watching().remove(room);
    Room r = rooms.get(room);
    if (r != null && r.watchers.remove(session.id()) != null) {
      dropIfEmpty(r);
    }
  }

  /** A room as this hub sees it: local members only, and this hub's broker subscription. */
  private static final class Room {
    final String name;
    final Map<String, Session> members = new LinkedHashMap<>();
    final Map<String, Session> watchers = new LinkedHashMap<>();
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
