package dev.parley.conformance;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.WebSocket;
import io.vertx.core.http.WebSocketClientOptions;
import io.vertx.core.http.WebSocketConnectOptions;

import java.util.ArrayDeque;
import java.util.Deque;

/**
 * Raw HTTP and WebSocket access for the protocol tests, at the level the official suites work at
 * ({@code fetch} and {@code new WebSocket}): no Engine.IO or Socket.IO client in between.
 */
final class Wire {

  static final String SEP = "\u001e";

  private Wire() {
  }

  /** An HTTP answer read to the end. */
  record Answer(int status, String body) {
  }

  static Future<Answer> get(HttpClient http, int port, String uri) {
    return send(http, port, HttpMethod.GET, uri, null);
  }

  static Future<Answer> post(HttpClient http, int port, String uri, String body) {
    return send(http, port, HttpMethod.POST, uri, body);
  }

  /**
   * One request read to the end. A request the server leaves unanswered fails after 10 s, naming itself
   * (Vert.x's idle timeout), instead of hanging the test until its 30 s timeout with no clue which one it was.
   */
  static Future<Answer> send(HttpClient http, int port, HttpMethod method, String uri, String body) {
    return http.request(new io.vertx.core.http.RequestOptions().setMethod(method).setPort(port).setHost("127.0.0.1")
        .setURI(uri).setIdleTimeout(10_000))
      .compose(req -> body == null ? req.send() : req.send(Buffer.buffer(body)))
      .compose(resp -> resp.body().map(b -> new Answer(resp.statusCode(), b.toString())));
  }

  /** Opens and closes WebSocket sessions until one handshake completes, at most {@code attempts} times. */
  static Future<Void> warmUp(Vertx vertx, int port, String uri, int attempts) {
    return Ws.open(vertx, port, uri).compose(ws -> ws.autoPong().next().map(open -> {
      ws.socket.close();
      return (Void) null;
    })).recover(err -> attempts > 1 ? warmUp(vertx, port, uri, attempts - 1) : Future.succeededFuture());
  }

  /** A WebSocket whose frames queue up until a test takes them; {@link #closed()} completes on close. */
  static final class Ws {
    final WebSocket socket;
    io.vertx.core.http.WebSocketClient client;
    private final Vertx vertx;
    private final Deque<Object> frames = new ArrayDeque<>();
    private final Deque<Promise<Object>> waiting = new ArrayDeque<>();
    private final Promise<Void> closed = Promise.promise();
    private boolean autoPong;

    private Ws(Vertx vertx, WebSocket socket) {
      this.vertx = vertx;
      this.socket = socket;
      socket.textMessageHandler(t -> arrive(t));
      socket.binaryMessageHandler(b -> arrive(b));
      socket.closeHandler(v -> closed.tryComplete());
    }

    static Future<Ws> open(Vertx vertx, int port, String uri) {
      io.vertx.core.http.WebSocketClient client =
        vertx.createWebSocketClient(new WebSocketClientOptions().setMaxMessageSize(2_000_000).setMaxFrameSize(2_000_000));
      // handlers before connecting: an Engine.IO open packet follows the 101 at once
      io.vertx.core.http.ClientWebSocket ws = client.webSocket();
      Ws w = new Ws(vertx, ws);
      w.client = client; // Vert.x closes a client once it is garbage collected: keep it referenced
      return ws.connect(new WebSocketConnectOptions().setHost("127.0.0.1").setPort(port).setURI(uri)).map(w);
    }

    /** Answers the server's pings from now on (a live client that just does nothing else). */
    Ws autoPong() {
      autoPong = true;
      return this;
    }

    private void arrive(Object frame) {
      if (autoPong && "2".equals(frame)) {
        socket.writeTextMessage("3");
        return;
      }
      Promise<Object> w = waiting.poll();
      if (w != null) {
        w.tryComplete(frame);
      } else {
        frames.add(frame);
      }
    }

    /** The next frame (text as String, binary as Buffer), within 5 s. */
    Future<Object> next() {
      Promise<Object> p = Promise.promise();
      vertx.runOnContext(v -> {
        Object f = frames.poll();
        if (f != null) {
          p.complete(f);
          return;
        }
        waiting.add(p);
        vertx.setTimer(5_000, t -> {
          if (waiting.remove(p)) {
            p.tryFail("no frame within 5 s");
          }
        });
      });
      return p.future();
    }

    /** The next frame that is not an Engine.IO ping ("2"). */
    Future<Object> nextNotPing() {
      return next().compose(f -> "2".equals(f) ? nextNotPing() : Future.succeededFuture(f));
    }

    Future<String> nextText() {
      return nextNotPing().map(f -> {
        if (!(f instanceof String s)) {
          throw new AssertionError("expected a text frame, got binary");
        }
        return s;
      });
    }

    void send(String text) {
      socket.writeTextMessage(text);
    }

    void send(Buffer data) {
      socket.writeBinaryMessage(data);
    }

    Future<Void> closed() {
      return closed.future();
    }
  }

}
