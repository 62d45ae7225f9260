package dev.parley.support;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;

/**
 * A test DSL over a real client connection that speaks the native JSON protocol: frames land in an
 * inbox, {@code expect(...)} takes the first matching frame (waiting up to a bound), and commands are
 * sent with {@code join/publish/leave}. Subclasses supply the transport (raw WebSocket, SockJS).
 */
public abstract class TestClient {

  public static final long WAIT_MS = 5_000;

  protected final Vertx vertx;
  private final List<JsonObject> inbox = new ArrayList<>();
  private final List<Waiter> waiters = new ArrayList<>();
  private final Promise<Integer> closed = Promise.promise();
  private final AtomicInteger refs = new AtomicInteger();
  private String session;

  protected TestClient(Vertx vertx) {
    this.vertx = vertx;
  }

  /** Writes one text frame of the native protocol. */
  public abstract void sendText(String text);

  /** Closes the client side. */
  public abstract void close();

  /**
   * Drops the connection the way a network cut does, with no goodbye of any protocol: a WebSocket's TCP
   * connection is reset (no close frame), a polling client simply stops polling and drops its requests.
   */
  public abstract void cut();

  /** Resets a Vert.x WebSocket's TCP connection (SO_LINGER 0, then close): no close frame, no FIN handshake. */
  protected static void resetTcp(io.vertx.core.http.WebSocket ws) {
    io.netty.channel.Channel channel = ((io.vertx.core.internal.http.WebSocketInternal) ws).channelHandlerContext().channel();
    channel.eventLoop().execute(() -> {
      channel.config().setOption(io.netty.channel.ChannelOption.SO_LINGER, 0);
      channel.close();
    });
  }

  /** Stops reading from the server, the transport's own way (a paused socket, or no more polls). */
  public void pauseReading() {
    throw new UnsupportedOperationException(getClass().getSimpleName() + " cannot pause");
  }

  /** Reads again after {@link #pauseReading}. */
  public void resumeReading() {
    throw new UnsupportedOperationException(getClass().getSimpleName() + " cannot pause");
  }

  public String session() {
    return session;
  }

  /** The close code the server sent, once the connection has ended. */
  public Future<Integer> closed() {
    return closed.future();
  }

  protected final void received(String text) {
    vertx.runOnContext(v -> {
      JsonObject frame = new JsonObject(text);
      if ("welcome".equals(frame.getString("type")) && session == null) {
        session = frame.getString("session");
      }
      for (Iterator<Waiter> it = waiters.iterator(); it.hasNext(); ) {
        Waiter w = it.next();
        if (w.predicate.test(frame)) {
          it.remove();
          vertx.cancelTimer(w.timer);
          w.promise.complete(frame);
          return;
        }
      }
      inbox.add(frame);
    });
  }

  protected final void ended(int code) {
    closed.tryComplete(code);
  }

  /** Completes with the first frame (already received or coming) that matches; fails after {@link #WAIT_MS}. */
  public Future<JsonObject> expect(Predicate<JsonObject> predicate, String what) {
    return expect(predicate, what, WAIT_MS);
  }

  /** Like {@link #expect(Predicate, String)} with a longer bound, for events that come after a timeout. */
  public Future<JsonObject> expect(Predicate<JsonObject> predicate, String what, long waitMs) {
    Promise<JsonObject> promise = Promise.promise();
    vertx.runOnContext(v -> {
      for (Iterator<JsonObject> it = inbox.iterator(); it.hasNext(); ) {
        JsonObject f = it.next();
        if (predicate.test(f)) {
          it.remove();
          promise.complete(f);
          return;
        }
      }
      Waiter w = new Waiter(predicate, promise);
      w.timer = vertx.setTimer(waitMs, t -> {
        waiters.remove(w);
        promise.tryFail(new AssertionError("timed out waiting for " + what + "; inbox: " + inbox));
      });
      waiters.add(w);
    });
    return promise.future();
  }

  public Future<JsonObject> expect(String type) {
    return expect(f -> type.equals(f.getString("type")), type);
  }

  public Future<JsonObject> expect(String type, String room) {
    return expect(f -> type.equals(f.getString("type")) && room.equals(f.getString("room")), type + " in " + room);
  }

  /** The {@code ack} or {@code error} answering the command with this ref. */
  public Future<JsonObject> reply(String ref) {
    return expect(f -> ref.equals(f.getValue("ref") == null ? null : String.valueOf(f.getValue("ref"))), "reply to " + ref);
  }

  /** Frames received and not yet taken by an expectation (for asserting that nothing else arrived). */
  public Future<List<JsonObject>> unread() {
    Promise<List<JsonObject>> p = Promise.promise();
    vertx.runOnContext(v -> p.complete(List.copyOf(inbox)));
    return p.future();
  }

  public String nextRef() {
    return "r" + refs.incrementAndGet();
  }

  public void send(JsonObject frame) {
    sendText(frame.encode());
  }

  /** Sends a join and waits for its ack, checking that {@code joined} and {@code presence} came first. */
  public Future<JsonObject> join(String room, String name) {
    String ref = nextRef();
    send(new JsonObject().put("type", "join").put("room", room).put("name", name).put("ref", ref));
    return expect(f -> "joined".equals(f.getString("type")) && room.equals(f.getString("room"))
      && session != null && session.equals(f.getString("session")), "own joined in " + room)
      .compose(j -> expect("presence", room))
      .compose(p -> reply(ref).map(ack -> {
        if (!"ack".equals(ack.getString("type"))) {
          throw new AssertionError("join " + room + " answered " + ack);
        }
        return p;
      }));
  }

  /** Sends a publish and completes with its ack (which carries the message id). */
  public Future<JsonObject> publish(String room, String text) {
    String ref = nextRef();
    send(new JsonObject().put("type", "publish").put("room", room).put("text", text).put("ref", ref));
    return reply(ref);
  }

  public Future<JsonObject> leave(String room) {
    String ref = nextRef();
    send(new JsonObject().put("type", "leave").put("room", room).put("ref", ref));
    return reply(ref);
  }

  private static final class Waiter {
    final Predicate<JsonObject> predicate;
    final Promise<JsonObject> promise;
    long timer;

    Waiter(Predicate<JsonObject> predicate, Promise<JsonObject> promise) {
      this.predicate = predicate;
      this.promise = promise;
    }
  }
}
