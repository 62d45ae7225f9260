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
  private final HistoryStore history;
  private final LimitsConfig limits;
  private final Access access;
  private final io.vertx.core.Vertx vertx;
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
    this(id, broker, limits, clock, Access.OPEN);
  }

  /** A hub whose sessions follow {@code access} (auth mode, room rules, per-user limits; shared node-wide). */
  public Hub(String id, Broker broker, LimitsConfig limits, LongSupplier clock, Access access) {
    this.id = id;
    this.access = access;
    this.broker = broker;
    this.presence = broker.presence();
    this.history = broker.history().enabled() ? new ObservedHistory(broker.history(), () -> telemetry) : broker.history();
    this.limits = limits;
    io.vertx.core.Context context = io.vertx.core.Vertx.currentContext();
    this.vertx = context == null ? null : context.owner();
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

  public Access access() {
    return access;
  }

  private Telemetry telemetry = Telemetry.NONE;
  private static final org.slf4j.Logger CONNECTIONS = LoggerFactory.getLogger("parley.connections");

  /** Where this hub reports what it does (metrics); none by default. */
  public void telemetry(Telemetry telemetry) {
    this.telemetry = telemetry;
  }

  public Telemetry telemetry() {
    return telemetry;
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
    telemetry.opened(connection.transport());
    if (CONNECTIONS.isInfoEnabled()) {
      CONNECTIONS.info("connection opened: session={} transport={} address={}", sid, connection.transport(), connection.address());
    }
    if (access.mode() == Access.Mode.TOKEN && vertx != null) {
      session.authTimer = vertx.setTimer(access.authTimeoutMs(), t -> {
        session.authTimer = -1;
        if (!session.isClosed() && !session.identity().verified()) {
          session.connection().close(CloseCode.UNAUTHORIZED, "no token within " + access.authTimeoutMs() + " ms");
        }
      });
    }
    return session;
  }

  /**
   * Verifies a token and makes it the session's identity. A first token counts the session against the
   * user's connection limit; a later one (a refresh) must be for the same user and only moves the expiry:
   * rooms stay joined. When the identity expires without a refresh, the connection is closed with
   * {@link CloseCode#TOKEN_EXPIRED}.
   */
  public Future<Identity> authenticate(Session session, String token) {
    if (!access.acceptsTokens()) {
      return Future.failedFuture(new ChatException(ErrorCode.BAD_REQUEST, "this server takes no tokens (auth.mode is anonymous)"));
    }
    return access.authenticator().verify(token).compose(identity -> {
      if (session.isClosed()) {
        return Future.failedFuture(new ChatException(ErrorCode.BAD_REQUEST, "connection is closed"));
      }
      Identity before = session.identity();
      if (before.verified() && !before.user().equals(identity.user())) {
        return Future.failedFuture(new ChatException(ErrorCode.UNAUTHORIZED,
          "the token is for another user; open a new connection to change users"));
      }
      if (!before.verified()) {
        if (!session.rooms().isEmpty()) {
          return Future.failedFuture(new ChatException(ErrorCode.BAD_REQUEST,
            "authenticate before joining rooms (leave them first)"));
        }
        if (!access.acquire(identity.user())) {
          return Future.failedFuture(new ChatException(ErrorCode.TOO_MANY_CONNECTIONS,
            "user " + identity.user() + " already holds " + access.maxConnectionsPerUser() + " connections"));
        }
        session.countedUser = identity.user();
        if (session.authTimer >= 0 && vertx != null) {
          vertx.cancelTimer(session.authTimer);
          session.authTimer = -1;
        }
      }
      session.identity(identity);
      scheduleExpiry(session, identity);
      return Future.succeededFuture(identity);
    });
  }

  private void scheduleExpiry(Session session, Identity identity) {
    if (vertx == null) {
      return;
    }
    if (session.expiryTimer >= 0) {
      vertx.cancelTimer(session.expiryTimer);
      session.expiryTimer = -1;
    }
    if (identity.expiresAtMs() > 0) {
      long delay = Math.max(1, identity.expiresAtMs() - System.currentTimeMillis());
      session.expiryTimer = vertx.setTimer(delay, t -> {
        session.expiryTimer = -1;
        if (!session.isClosed() && session.identity() == identity) {
          session.connection().close(CloseCode.TOKEN_EXPIRED, "token expired");
        }
      });
    }
  }

  /**
   * Joins a room under a name. Completes with the room's presence (every node) once the session is a
   * member and its {@code joined} event has been written to the room. Joining a room again is harmless:
   * it answers the presence and announces nothing.
   */
  public Future<ChatEvent.Presence> join(Session session, String room, String rawName) {
    return join(session, room, rawName, null);
  }

  /**
   * Joins a room, first catching up on what the client asks for ({@code recovery}, may be null): the
   * messages after its last position, or the room's last messages. They are written to the joiner after
   * its own {@code joined} and before any live message, with none missing or doubled in between.
   */
  public Future<ChatEvent.Presence> join(Session session, String room, String rawName, Recovery recovery) {
    return joinWith(session, room, rawName, recovery).map(Joining::presence);
  }

  /**
   * Joins a room again after a cut (Socket.IO connection state recovery): everything after {@code since}
   * is replayed first. Completes with whether that was possible (false: the joiner has a gap).
   */
  public Future<Boolean> rejoin(Session session, String room, String rawName, StreamPosition since) {
    return joinWith(session, room, rawName, new Recovery(since, 0)).map(j -> Boolean.TRUE.equals(j.recovered()));
  }

  /** A join's presence, and how the recovery it asked for went (null: it asked for none). */
  private record Joining(ChatEvent.Presence presence, Boolean recovered) {
  }

  private Future<Joining> joinWith(Session session, String room, String rawName, Recovery recovery) {
    Rules.checkRoom(room);
    Identity identity = session.identity();
    String name;
    if (identity.verified()) {
      name = identity.name(); // a verified user is shown under the token's name, whatever the join says
    } else {
      if (rawName == null) {
        throw new ChatException(ErrorCode.BAD_REQUEST, "name is required");
      }
      Rules.checkName(rawName);
      name = Rules.normalizeName(rawName);
    }
    if (!session.rooms().containsKey(room)) {
      access.checkJoin(identity, room);
    }
    boolean visible = access.presenceVisible(room);
    if (session.isClosed()) {
      return Future.failedFuture(new ChatException(ErrorCode.BAD_REQUEST, "connection is closed"));
    }
    if (session.rooms().containsKey(room)) {
      return members(room, visible).map(p -> new Joining(p, null));
    }
    if (session.rooms().size() >= limits.maxRoomsPerConnection()) {
      return Future.failedFuture(new ChatException(ErrorCode.TOO_MANY_ROOMS,
        "a connection may join at most " + limits.maxRoomsPerConnection() + " rooms"));
    }
    Room r = rooms.computeIfAbsent(room, this::openRoom);
    r.pendingJoins++;
    Member member = Member.connection(session.id(), name, identity.user());
    return r.subscribed
      .compose(v -> visible ? presence.add(room, member) : Future.succeededFuture(false))
      .transform(ar -> {
        r.pendingJoins--;
        if (ar.failed()) {
          dropIfEmpty(r);
          LOG.warn("join failed: room={} session={} hub={}", room, session.id(), id, ar.cause());
          return Future.failedFuture(new ChatException(ErrorCode.UNAVAILABLE, "could not join, try again"));
        }
        r.pendingJoins++;
        return catchUp(r, recovery).transform(caught -> {
          r.pendingJoins--;
          if (session.isClosed() || caught.failed()) {
            // The connection ended while we waited; undo the presence entry nobody will remove.
            if (visible) {
              presence.remove(room, session.id(), identity.user());
            }
            dropIfEmpty(r);
            if (caught.failed()) {
              LOG.warn("join failed reading history: room={} session={}", room, session.id(), caught.cause());
              return Future.failedFuture(new ChatException(ErrorCode.UNAVAILABLE, "could not join, try again"));
            }
            return Future.failedFuture(new ChatException(ErrorCode.BAD_REQUEST, "connection is closed"));
          }
          become(session, r, name, caught.result(), ar.result());
          telemetry.joined();
          Boolean recovered = caught.result().recovered();
          return members(room, visible).map(p -> new Joining(p, recovered));
        });
      });
  }

  /** The room's presence as a member sees it: nobody listed where the room's rule hides presence. */
  private Future<ChatEvent.Presence> members(String room, boolean visible) {
    return visible ? presence.members(room, limits.maxPresenceMembers()) : Future.succeededFuture(new ChatEvent.Presence(room, List.of()));
  }

  /** What a joiner asks to catch up on: the messages after {@code since}, else (or also) the last {@code last}. */
  public record Recovery(StreamPosition since, int last) {
  }

  /** What a joiner is given before it goes live: messages up to {@code top}, and how recovery went. */
  private record CatchUp(List<ChatEvent.Message> replay, StreamPosition top, Boolean recovered, String reason) {
  }

  /**
   * Reads what the joiner asked for, then extends it until it reaches what this hub has already delivered
   * to the room (messages may arrive while the store is read), so replay and live meet without a gap.
   */
  private Future<CatchUp> catchUp(Room r, Recovery recovery) {
    return readCatchUp(r, recovery).recover(err -> {
      // the store is away: the joiner goes live from here and is told it did not recover
      LOG.debug("history unavailable for a joiner: room={}", r.name, err);
      boolean asked = recovery != null && recovery.since() != null;
      return Future.succeededFuture(new CatchUp(List.of(), new StreamPosition(r.epoch, r.delivered),
        asked ? false : null, asked ? HistoryStore.Replay.UNAVAILABLE : null));
    });
  }

  private Future<CatchUp> readCatchUp(Room r, Recovery recovery) {
    if (!history.keeps(r.name)) {
      boolean asked = recovery != null && recovery.since() != null;
      return Future.succeededFuture(new CatchUp(List.of(), null, asked ? false : null, asked ? HistoryStore.Replay.HISTORY_OFF : null));
    }
    if (recovery == null || recovery.since() == null && recovery.last() <= 0) {
      return Future.succeededFuture(new CatchUp(List.of(), new StreamPosition(r.epoch, r.delivered), null, null));
    }
    if (recovery.since() != null) {
      return history.since(r.name, recovery.since()).compose(replay -> {
        if (replay.recovered()) {
          return extend(r, new CatchUp(replay.messages(), replay.top(), true, null));
        }
        Future<HistoryStore.Replay> fallback = recovery.last() > 0
          ? history.before(r.name, 0, recovery.last())
          : Future.succeededFuture(HistoryStore.Replay.of(List.of(), replay.top()));
        return fallback.compose(last -> extend(r, new CatchUp(last.messages(), last.top(), false, replay.failure())));
      });
    }
    return history.before(r.name, 0, recovery.last())
      .compose(last -> extend(r, new CatchUp(last.messages(), last.top(), null, null)));
  }

  private Future<CatchUp> extend(Room r, CatchUp c) {
    if (c.top() == null || !c.top().epoch().equals(r.epoch) || c.top().offset() >= r.delivered) {
      return Future.succeededFuture(c);
    }
    return history.since(r.name, c.top()).compose(more -> {
      if (!more.recovered()) {
        return Future.succeededFuture(c);
      }
      List<ChatEvent.Message> all = new ArrayList<>(c.replay());
      all.addAll(more.messages());
      return extend(r, new CatchUp(all, more.top(), c.recovered(), c.reason()));
    });
  }

  /**
   * Makes the session a member, on the loop and in one step: others get {@code joined}, the joiner its own
   * copy, then the replay, then live messages (none of which it already got from the replay).
   */
  private void become(Session session, Room r, String name, CatchUp caught, boolean first) {
    String room = r.name;
    if (r.watchers.remove(session.id()) != null) {
      session.unwatch(room);
    }
    session.mutableRooms().put(room, name);
    ChatEvent.Joined joined = new ChatEvent.Joined(room, session.id(), name, clock.getAsLong(), session.identity().user());
    if (first && announces(r, 1)) {
      emit(r, joined); // to the others: the joiner is not a member yet
    }
    StreamPosition top = caught.top();
    long replayedTo = -1;
    if (top != null && history.keeps(room)) {
      replayedTo = top.epoch().equals(r.epoch) ? top.offset() : -1;
      top = r.delivered >= 0 && (replayedTo < 0 || r.delivered > replayedTo)
        ? new StreamPosition(r.epoch, r.delivered) : top;
    }
    session.connection().deliver(new Envelope(id, joined.forJoiner(top, caught.recovered(), caught.reason())));
    for (ChatEvent.Message m : caught.replay()) {
      session.connection().deliver(new Envelope(id, m));
    }
    if (replayedTo > r.delivered && r.delivered >= 0) {
      // the replay went past what this hub has delivered: skip those when they come live
      if (r.floors == null) {
        r.floors = new HashMap<>();
      }
      r.floors.put(session.id(), replayedTo);
    }
    r.members.put(session.id(), session);
    memberships++;
  }

  /** Publishes a text to a joined room; completes with the message as members receive it. */
  public Future<ChatEvent.Message> publish(Session session, String room, String text) {
    return publish(session, room, text, null);
  }

  /**
   * Publishes a text to a joined room. With a client message id ({@code cid}) that the room's history
   * already holds, nothing is posted again: the original message is the answer.
   */
  public Future<ChatEvent.Message> publish(Session session, String room, String text, String cid) {
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
    Identity identity = session.identity();
    access.checkPublish(identity, room);
    if (identity.verified() && !access.tryPublish(identity.user())) {
      throw new ChatException(ErrorCode.RATE_LIMITED, "user " + identity.user() + " publishes too fast, slow down");
    }
    ChatEvent.Message m = new ChatEvent.Message(room, session.id(), name, text, clock.getAsLong(),
      id + "-" + Long.toString(++messageSeq, 36), null, null, cid, identity.user());
    return post(r, m, cid);
  }

  /** Appends to the room's history (which positions the message), then fans it out. */
  private Future<ChatEvent.Message> post(Room r, ChatEvent.Message m, String cid) {
    telemetry.published();
    if (!history.keeps(m.room())) {
      emit(r, m);
      return Future.succeededFuture(m);
    }
    return history.append(m, cid).transform(ar -> {
      if (ar.failed()) {
        // the store is away: the chat goes on, this message is not kept and carries no position (the
        // store gives the room a new epoch when it is back, so nobody recovers across the hole)
        LOG.debug("history append failed, message goes out unkept: room={}", m.room(), ar.cause());
        emit(r == null || r.dropped ? rooms.get(m.room()) : r, m);
        return Future.succeededFuture(m);
      }
      if (!ar.result().duplicate()) {
        emit(r == null || r.dropped ? rooms.get(m.room()) : r, ar.result().message());
      }
      return Future.succeededFuture(ar.result().message());
    });
  }

  /** The session id outside producers publish under (HTTP publish API). */
  public static final String API_SESSION = "api";

  /**
   * Publishes a message on behalf of a producer that is not a connection (the HTTP publish API): members
   * on every node get a normal {@code message} whose session is {@value #API_SESSION}.
   */
  public Future<ChatEvent.Message> publishAs(String room, String rawName, String text) {
    return publishAs(room, rawName, text, null);
  }

  /** {@link #publishAs(String, String, String)} for a verified {@code user} (null: none). */
  public Future<ChatEvent.Message> publishAs(String room, String rawName, String text, String user) {
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
      id + "-" + Long.toString(++messageSeq, 36), null, null, null, user);
    return post(rooms.get(room), m, null);
  }

  /** Most messages one history page returns. */
  public static final int MAX_HISTORY_PAGE = 100;

  /**
   * A page of a room's history: up to {@code limit} (1 to {@value #MAX_HISTORY_PAGE}) messages before offset
   * {@code before} (0: the newest), oldest first. A session must be a member of the room; {@code session}
   * null is a trusted caller (the HTTP API).
   */
  public Future<HistoryStore.Replay> history(Session session, String room, long before, int limit) {
    Rules.checkRoom(room);
    if (session != null && !session.rooms().containsKey(room)) {
      throw new ChatException(ErrorCode.NOT_JOINED, "join " + room + " before reading its history");
    }
    if (limit < 1 || limit > MAX_HISTORY_PAGE || before < 0) {
      throw new ChatException(ErrorCode.BAD_REQUEST, "limit must be 1 to " + MAX_HISTORY_PAGE + " and before >= 0");
    }
    return history.before(room, before, limit).recover(err -> Future.failedFuture(
      new ChatException(ErrorCode.UNAVAILABLE, "history is unavailable, try again")));
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

  /**
   * Closes every connection with {@link CloseCode#GOING_AWAY}, spread evenly over {@code windowMs} in steps of
   * {@value #DRAIN_STEP_MS} ms (0: all at once); members are announced as left. Completes when the last
   * connection is closed and the presence store has forgotten them all.
   */
  public Future<Void> drain(long windowMs) {
    checkLoop();
    List<Session> all = new ArrayList<>(sessions.values());
    java.util.Collections.shuffle(all);
    List<Future<Void>> removals = new ArrayList<>();
    io.vertx.core.Promise<Void> done = io.vertx.core.Promise.promise();
    long steps = Math.max(1, windowMs / DRAIN_STEP_MS);
    int perStep = (int) Math.max(1, (all.size() + steps - 1) / steps);
    drainStep(all, 0, perStep, removals, done);
    return done.future();
  }

  static final long DRAIN_STEP_MS = 100;

  private void drainStep(List<Session> all, int from, int perStep, List<Future<Void>> removals, io.vertx.core.Promise<Void> done) {
    int to = Math.min(all.size(), from + perStep);
    for (int i = from; i < to; i++) {
      Session s = all.get(i);
      if (!s.isClosed()) {
        s.connection().close(CloseCode.GOING_AWAY, "server shutting down");
        removals.addAll(disconnectAll(s));
      }
    }
    if (to >= all.size() || vertx == null) {
      // anything opened meanwhile (before the node stopped admitting) goes now
      for (Session s : new ArrayList<>(sessions.values())) {
        s.connection().close(CloseCode.GOING_AWAY, "server shutting down");
        removals.addAll(disconnectAll(s));
      }
      Future.join(removals).<Void>mapEmpty().onComplete(ar -> done.complete());
      return;
    }
    vertx.setTimer(DRAIN_STEP_MS, t -> drainStep(all, to, perStep, removals, done));
  }

  private List<Future<Void>> disconnectAll(Session session) {
    List<Future<Void>> removals = new ArrayList<>();
    if (!session.isClosed()) {
      session.markClosed();
      sessions.remove(session.id());
      telemetry.closed(session.connection().transport(), session.closeCode());
      if (CONNECTIONS.isInfoEnabled()) {
        CONNECTIONS.info("connection closed: session={} transport={} address={} user={} duration={}s code={}", session.id(),
          session.connection().transport(), session.connection().address(), session.identity().user(),
          String.format(java.util.Locale.ROOT, "%.1f", (System.nanoTime() - session.openedAt) / 1e9),
          session.closeCode() == 0 ? "client" : session.closeCode());
      }
      if (vertx != null) {
        if (session.expiryTimer >= 0) {
          vertx.cancelTimer(session.expiryTimer);
        }
        if (session.authTimer >= 0) {
          vertx.cancelTimer(session.authTimer);
        }
      }
      if (session.countedUser != null) {
        access.release(session.countedUser);
        session.countedUser = null;
      }
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
        String name = s.identity().verified() ? s.identity().name()
          : s.rooms().isEmpty() ? s.id() : s.rooms().values().iterator().next();
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
    telemetry.left();
    String user = session.identity().user();
    boolean visible = access.presenceVisible(room);
    Room r = rooms.get(room);
    if (r != null) {
      if (r.members.remove(session.id()) != null) {
        memberships--;
      }
      if (r.floors != null) {
        r.floors.remove(session.id());
      }
      if (visible && user == null && announces(r)) {
        emit(r, new ChatEvent.Left(room, session.id(), name, clock.getAsLong()));
      }
      dropIfEmpty(r);
    }
    if (!visible) {
      return Future.succeededFuture();
    }
    Future<Boolean> removed = presence.remove(room, session.id(), user);
    if (user == null) {
      return removed.mapEmpty();
    }
    // a user leaves when its last connection in the room (on any node) does
    return removed.map(last -> {
      Room now = rooms.get(room);
      if (last && (now == null || announces(now))) {
        ChatEvent.Left left = new ChatEvent.Left(room, session.id(), name, clock.getAsLong(), user);
        if (now != null) {
          emit(now, left);
        } else {
          broker.publish(new Envelope(id, left));
        }
      }
      return null;
    });
  }

  /**
   * Whether joins and leaves are announced to the room: always, unless {@code limits.maxAnnouncedRoomSize}
   * is set and the room has more members than that on this node (announcing every join to every member
   * of a huge room costs members squared frames).
   */
  private boolean announces(Room r) {
    return announces(r, 0);
  }

  /** {@link #announces(Room)} once {@code joining} more members are in. */
  private boolean announces(Room r, int joining) {
    int max = limits.maxAnnouncedRoomSize();
    return max == 0 || r.members.size() + joining <= max;
  }

  private Room openRoom(String room) {
    Room r = new Room(room);
    roomCount = rooms.size() + 1;
    r.subscribed = broker.subscribe(room, this::onBrokerEvent)
      .compose(sub -> {
        r.subscription = sub;
        if (r.dropped) {
          sub.unsubscribe();
        }
        if (!history.keeps(room)) {
          return Future.succeededFuture();
        }
        // messages are delivered in offset order from the stream's current top on
        return history.top(room).recover(err -> {
          // the store is away: take the position of the first message that comes (an epoch change)
          LOG.debug("history top unavailable: room={}", room, err);
          return Future.succeededFuture(new StreamPosition("", 0));
        }).map(top -> {
          r.epoch = top.epoch();
          r.delivered = top.offset();
          drain(r);
          return null;
        });
      });
    return r;
  }

  private void dropIfEmpty(Room r) {
    if (r.members.isEmpty() && r.watchers.isEmpty() && r.pendingJoins == 0 && !r.dropped) {
      r.dropped = true;
      rooms.remove(r.name, r);
      roomCount = rooms.size();
      if (r.gapTimer >= 0 && vertx != null) {
        vertx.cancelTimer(r.gapTimer);
        r.gapTimer = -1;
      }
      if (r.subscription != null) {
        r.subscription.unsubscribe();
      }
    }
  }

  private void emit(Room r, ChatEvent event) {
    Envelope envelope = new Envelope(id, event);
    if (r != null) {
      route(r, envelope);
    }
    broker.publish(envelope);
  }

  /** Fans an event out: a positioned message in offset order (see {@link #sequence}), anything else at once. */
  private void route(Room r, Envelope envelope) {
    if (envelope.event() instanceof ChatEvent.Message m && m.offset() != null) {
      sequence(r, envelope, m);
    } else {
      fanOut(r, envelope, -1);
    }
  }

  /** How long a hub waits for a missing offset before reading it from the store. */
  static final long GAP_WAIT_MS = 1_000;
  /** Messages held behind a missing offset beyond which the hub reads the store at once. */
  static final int MAX_PENDING = 10_000;

  /**
   * Positioned messages reach members in offset order, so a client's last offset is never newer than a
   * message it has not received: appends on different hubs and nodes may reach this hub out of order, and
   * one that comes early waits for the ones before it (a missing one is read from the store after
   * {@link #GAP_WAIT_MS}).
   */
  private void sequence(Room r, Envelope envelope, ChatEvent.Message m) {
    if (r.delivered >= 0 && !m.epoch().equals(r.epoch)) {
      // the room's stream started afresh (its history was lost): follow the new one from here
      r.epoch = m.epoch();
      r.delivered = m.offset() - 1;
      if (r.pending != null) {
        r.pending.clear();
      }
    }
    if (r.delivered >= 0 && m.offset() <= r.delivered) {
      return; // delivered already (a replayed or doubled copy)
    }
    if (m.offset() == r.delivered + 1 && (r.pending == null || r.pending.isEmpty())) {
      r.delivered = m.offset(); // the usual case: next in line, nothing waiting
      fanOut(r, envelope, m.offset());
      return;
    }
    if (r.pending == null) {
      r.pending = new java.util.TreeMap<>();
    }
    r.pending.putIfAbsent(m.offset(), envelope);
    drain(r);
  }

  private void drain(Room r) {
    if (r.delivered < 0 || r.pending == null) {
      return;
    }
    while (!r.pending.isEmpty()) {
      long first = r.pending.firstKey();
      if (first <= r.delivered) {
        r.pending.pollFirstEntry();
      } else if (first == r.delivered + 1) {
        Envelope next = r.pending.pollFirstEntry().getValue();
        r.delivered = first;
        fanOut(r, next, first);
      } else {
        break;
      }
    }
    if (r.pending.isEmpty()) {
      if (r.gapTimer >= 0 && vertx != null) {
        vertx.cancelTimer(r.gapTimer);
      }
      r.gapTimer = -1;
    } else if (r.pending.size() > MAX_PENDING) {
      fillGap(r);
    } else if (r.gapTimer < 0 && vertx != null) {
      r.gapTimer = vertx.setTimer(GAP_WAIT_MS, t -> {
        r.gapTimer = -1;
        fillGap(r);
      });
    }
  }

  /** Reads a missing stretch from the store; what the store no longer has is skipped. */
  private void fillGap(Room r) {
    if (r.dropped || r.pending == null || r.pending.isEmpty()) {
      return;
    }
    history.since(r.name, new StreamPosition(r.epoch, r.delivered)).onComplete(ar -> {
      if (r.pending == null || r.pending.isEmpty()) {
        return;
      }
      if (ar.succeeded() && ar.result().recovered()) {
        for (ChatEvent.Message m : ar.result().messages()) {
          if (m.offset() > r.delivered && m.epoch().equals(r.epoch)) {
            r.pending.putIfAbsent(m.offset(), new Envelope(id, m));
          }
        }
      }
      if (!r.pending.isEmpty() && r.pending.firstKey() > r.delivered + 1) {
        LOG.warn("room {}: offsets {} to {} never arrived; going on without them", r.name, r.delivered + 1,
          r.pending.firstKey() - 1);
        r.delivered = r.pending.firstKey() - 1;
      }
      drain(r);
    });
  }

  private void onBrokerEvent(Envelope envelope) {
    if (id.equals(envelope.origin())) {
      return;
    }
    Room r = rooms.get(envelope.room());
    if (r != null) {
      route(r, envelope);
    }
  }

  private void fanOut(Room r, Envelope envelope, long offset) {
    // Connections never close themselves synchronously inside deliver() (the Connection rule); should one
    // do it anyway, disconnect() defers its removal until this loop is done. One connection failing must
    // not cost the others their event.
    fanOutDepth++;
    try {
      int count = r.members.size() + r.watchers.size();
      if (r.floors == null || offset < 0) {
        for (Session member : r.members.values()) {
          deliver(member, envelope, r);
        }
      } else {
        // some members replayed past this hub's last delivery: they skip what they already have
        for (Session member : r.members.values()) {
          Long floor = r.floors.get(member.id());
          if (floor == null || offset > floor) {
            deliver(member, envelope, r);
          }
        }
        r.floors.values().removeIf(floor -> floor <= offset);
        if (r.floors.isEmpty()) {
          r.floors = null;
        }
      }
      if (!r.watchers.isEmpty()) {
        for (Session watcher : r.watchers.values()) {
          deliver(watcher, envelope, r);
        }
      }
      telemetry.delivered(count);
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
    session.watch(room);
  }

  /** Stops watching a room (see {@link #watch}). */
  public void unwatch(Session session, String room) {
    session.unwatch(room);
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
    /** Offset of the last message fanned out; -1 until the stream's top is known (history on). */
    long delivered = -1;
    String epoch;
    /** Positioned messages that came ahead of an earlier offset. */
    java.util.TreeMap<Long, Envelope> pending;
    long gapTimer = -1;
    /** Members whose replay went past {@link #delivered}: session to the offset they have up to. */
    Map<String, Long> floors;

    Room(String name) {
      this.name = name;
    }
  }

  /** This hub's {@code n} rooms with the most members here, biggest first (for the admin view). */
  public List<Map.Entry<String, Integer>> busiestRooms(int n) {
    return rooms.values().stream().filter(r -> !r.members.isEmpty())
      .sorted((a, b) -> Integer.compare(b.members.size(), a.members.size()))
      .limit(n).map(r -> Map.entry(r.name, r.members.size())).toList();
  }

  private volatile int memberships;
  private volatile int roomCount;

  /** Members here, counting each connection once per room (readable from any thread, for metrics). */
  public int memberships() {
    return memberships;
  }

  /** Rooms this hub holds (readable from any thread, for metrics). */
  public int roomCount() {
    return roomCount;
  }

  /**
   * An operator's notice: an {@code event} named {@code notice} with {@code {"text"}}, to the members of
   * {@code room}, or to every connection of the hub when {@code room} is null.
   */
  public void notice(String room, String text) {
    com.fasterxml.jackson.databind.node.ArrayNode args = Json.MAPPER.createArrayNode();
    args.addObject().put("text", text);
    deliverOutside(new Envelope(id, new ChatEvent.External("notice", args, room)), room == null ? Set.of() : Set.of(room), Set.of());
  }

  /**
   * Closes a room: its members here get the notice, then leave it: the others hear {@code left}, and each
   * member gets its own {@code left} too, so that it knows it is out.
   */
  public void closeRoom(String room, String text) {
    notice(room, text);
    for (Session s : match(Set.of(room), Set.of())) {
      String name = s.rooms().get(room);
      if (name == null) {
        continue; // a watcher, not a member
      }
      s.submit(() -> leave(s, room)).onSuccess(v -> s.connection().deliver(new Envelope(id,
        new ChatEvent.Left(room, s.id(), name, clock.getAsLong(), s.identity().user()))));
    }
  }

  /** For tests and health: rooms this hub currently holds. */
  public List<String> roomNames() {
    return List.copyOf(rooms.keySet());
  }
}
