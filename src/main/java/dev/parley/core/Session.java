package dev.parley.core;

import io.vertx.core.Future;
import io.vertx.core.Promise;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;

/**
 * One client connection inside a {@link Hub}: its cluster-unique id, its transport {@link Connection},
 * the rooms it joined (with the name it joined each under), and its per-connection limits. Confined to
 * the hub's event loop; transports never touch it from another thread.
 */
public final class Session {

  private static final Logger LOG = LoggerFactory.getLogger(Session.class);

  private final String id;
  private final Hub hub;
  private final Connection connection;
  // sized for the common case (a few rooms, usually none watched): an idle connection's memory counts
  private final Map<String, String> rooms = new LinkedHashMap<>(4);
  private java.util.Set<String> watching;
  private final TokenBucket rate;
  private final int maxPending;
  private int pending;
  private static final Future<?> IDLE = Future.succeededFuture();
  private Future<?> tail = IDLE;
  private boolean closed;
  private Identity identity = Identity.ANONYMOUS;
  /** The user counted in {@link Access#acquire} for this session (null: none). */
  String countedUser;
  long expiryTimer = -1;
  long authTimer = -1;
  /** When the session opened ({@link System#nanoTime}), for the close log line. */
  final long openedAt = System.nanoTime();
  /** The close code the server gave (0: the client or the network ended the connection). */
  private int closeCode;

  Session(String id, Hub hub, Connection connection, TokenBucket rate, int maxPending) {
    this.id = id;
    this.hub = hub;
    this.connection = connection;
    this.rate = rate;
    this.maxPending = maxPending;
  }

  public String id() {
    return id;
  }

  public Connection connection() {
    return connection;
  }

  /** Rooms joined, each with the name used there, in join order. Read-only view. */
  public Map<String, String> rooms() {
    return Collections.unmodifiableMap(rooms);
  }

  public boolean isClosed() {
    return closed;
  }

  /** Who the session is: anonymous until a token is accepted. */
  public Identity identity() {
    return identity;
  }

  void identity(Identity identity) {
    this.identity = identity;
  }

  /** Records the code the server closes this connection with (transports call it from their close). */
  public void closingWith(CloseCode code) {
    if (closeCode == 0) {
      closeCode = code.code();
    }
  }

  int closeCode() {
    return closeCode;
  }

  /** Rooms watched (presence only, not joined); read-only. */
  java.util.Set<String> watching() {
    return watching == null ? java.util.Set.of() : Collections.unmodifiableSet(watching);
  }

  void watch(String room) {
    if (watching == null) {
      watching = new java.util.LinkedHashSet<>(4);
    }
    watching.add(room);
  }

  void unwatch(String room) {
    if (watching != null) {
      watching.remove(room);
    }
  }

  Map<String, String> mutableRooms() {
    return rooms;
  }

  void markClosed() {
    closed = true;
  }

  /**
   * Runs one client command: the single place where every transport's commands are checked and done.
   * It counts against the rate limit (every frame, well-formed or not), runs in arrival order after the
   * session's earlier commands (so membership is checked after a pipelined join has completed), and
   * answers through {@link Connection#reply} with {@code ref}. Must be called on the hub's event loop.
   */
  public void handle(Command command, Object ref) {
    hub.checkLoop();
    if (closed) {
      return;
    }
    Future<Outcome> result;
    // in token mode nothing but a token (or a ping) is taken before the session is verified; the refusal
    // closes the connection (after its error is written)
    boolean gate = hub.access().mode() == Access.Mode.TOKEN && !identity.verified()
      && !(command instanceof Command.Auth || command instanceof Command.Ping || command instanceof Command.Invalid);
    try {
      admit();
      if (gate && tail.isComplete()) {
        throw new ChatException(ErrorCode.UNAUTHORIZED, "authenticate first: send a token");
      }
      // a command sent right behind its token waits for the token's answer before it is judged
      result = gate ? tail.transform(ignored -> identity.verified() ? run(command)
        : Future.failedFuture(new ChatException(ErrorCode.UNAUTHORIZED, "authenticate first: send a token"))) : run(command);
    } catch (ChatException e) {
      result = Future.failedFuture(e);
    }
    boolean firstAuth = command instanceof Command.Auth && !identity.verified();
    result.onComplete(ar -> {
      if (closed) {
        return;
      }
      Outcome outcome;
      if (ar.succeeded()) {
        outcome = ar.result();
      } else if (ar.cause() instanceof ChatException e) {
        outcome = new Outcome.Failed(e);
        hub.telemetry().refused(e.code());
      } else {
        LOG.error("command failed: session={} transport={} command={}", id, connection.transport(),
          command.getClass().getSimpleName(), ar.cause());
        outcome = new Outcome.Failed(new ChatException(ErrorCode.INTERNAL, "internal error"));
      }
      connection.reply(ref, outcome);
      if (outcome instanceof Outcome.Failed f && (gate || firstAuth)) {
        // a connection that never got an identity and was refused one ends here
        ErrorCode code = f.error().code();
        if (code == ErrorCode.UNAUTHORIZED) {
          connection.close(CloseCode.UNAUTHORIZED, f.error().getMessage());
        } else if (code == ErrorCode.TOO_MANY_CONNECTIONS) {
          connection.close(CloseCode.TOO_MANY_CONNECTIONS, f.error().getMessage());
        }
      }
    });
  }

  private Future<Outcome> run(Command command) {
    if (command instanceof Command.Invalid invalid) {
      throw invalid.error();
    } else if (command instanceof Command.Auth auth) {
      return submit(() -> hub.authenticate(this, auth.token())).map(Outcome.Authed::new);
    } else if (command instanceof Command.Ping) {
      return Future.succeededFuture(new Outcome.Pong());
    } else if (command instanceof Command.Join join) {
      Hub.Recovery recovery = join.since() == null && join.history() <= 0 ? null : new Hub.Recovery(join.since(), join.history());
      return submit(() -> hub.join(this, join.room(), join.name(), recovery)).map(Outcome.Joined::new);
    } else if (command instanceof Command.Publish publish) {
      // A publish holds the session's later commands only until it is issued, not until the history store
      // has answered: the store takes appends in the order they are issued, and a client that pipelines
      // publishes must not run into limits.maxPendingCommands while a remote store answers.
      Future<Future<ChatEvent.Message>> issued = submit(() -> publish.joinAs() == null || rooms.containsKey(publish.room())
        ? Future.succeededFuture(hub.publish(this, publish.room(), publish.text(), publish.cid()))
        : hub.join(this, publish.room(), publish.joinAs()).map(p -> hub.publish(this, publish.room(), publish.text(), publish.cid())));
      return issued.compose(message -> message).map(Outcome.Published::new);
    } else if (command instanceof Command.History h) {
      return submit(() -> hub.history(this, h.room(), h.before(), h.limit()))
        .map(page -> new Outcome.History(h.room(), page.messages(), page.top()));
    } else if (command instanceof Command.Leave leave) {
      return submit(() -> hub.leave(this, leave.room())).map(v -> new Outcome.Left(leave.room()));
    }
    throw new IllegalArgumentException("unknown command " + command);
  }

  /**
   * Counts one inbound frame against {@code limits.ratePerSecond} / {@code limits.rateBurst}; throws
   * {@link ErrorCode#RATE_LIMITED} when it fails.
   */
  void admit() {
    if (!rate.tryTake()) {
      throw new ChatException(ErrorCode.RATE_LIMITED, "too many frames, slow down");
    }
  }

  /**
   * Runs the client's commands one after the other, in arrival order, even when one of them waits on
   * the broker (a join waits for its room subscription). Refuses a command, rather than queueing without
   * bound, when {@code limits.maxPendingCommands} are already waiting.
   */
  <T> Future<T> submit(Supplier<Future<T>> command) {
    if (closed) {
      return Future.failedFuture(new ChatException(ErrorCode.BAD_REQUEST, "connection is closed"));
    }
    if (pending >= maxPending) {
      return Future.failedFuture(new ChatException(ErrorCode.RATE_LIMITED, "too many commands waiting"));
    }
    pending++;
    Future<T> result;
    if (tail.isComplete()) {
      result = run(command);
    } else {
      Promise<T> promise = Promise.promise();
      tail.onComplete(ignored -> run(command).onComplete(promise));
      result = promise.future();
    }
    tail = result;
    return result.andThen(ignored -> {
      pending--;
      if (tail == result) {
        // nothing waits behind it: let go of its result (a presence reply lists up to
        // limits.maxPresenceMembers members, kept for the connection's life otherwise)
        tail = IDLE;
      }
    });
  }

  private static <T> Future<T> run(Supplier<Future<T>> command) {
    try {
      return command.get();
    } catch (ChatException e) {
      return Future.failedFuture(e);
    } catch (RuntimeException e) {
      return Future.failedFuture(e);
    }
  }
}
