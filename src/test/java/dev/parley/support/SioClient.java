package dev.parley.support;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.WebSocket;
import io.vertx.core.http.WebSocketClientOptions;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.util.HashMap;
import java.util.Map;

/**
 * A Socket.IO v5 / Engine.IO v4 client on the wire, over a real Vert.x WebSocket or HTTP long-polling
 * client: open, the main namespace's CONNECT, pings answered, events with acks. Room events of the
 * chat's native vocabulary ({@code joined}, {@code presence}, {@code message}, {@code left}) land in the
 * {@link TestClient} inbox as native JSON. Unlike the stock clients it can stop reading on demand and
 * send packets a stock client never would (the transport contract suite needs both).
 */
public final class SioClient extends TestClient {

  /** How the client talks to Engine.IO: WebSocket only, or long-polling only. */
  public enum Mode { WEBSOCKET, POLLING }

  private static final String SEP = "\u001e";

  private final Mode mode;
  private final int port;
  /** Polling over several nodes, a request to each in turn (a load balancer without affinity); else null. */
  private int[] ports;
  private int turn;
  private final Map<Long, Promise<JsonArray>> acks = new HashMap<>();
  private final Promise<Void> connected = Promise.promise();
  private WebSocket ws;
  /** Kept referenced: Vert.x closes a client that is garbage collected, with its connections. */
  private io.vertx.core.http.WebSocketClient wsClient;
  private HttpClient http;
  private String sid;
  private long ackSeq;
  private boolean paused;
  private boolean ended;
  private Future<Void> posts = Future.succeededFuture();

  private final int receiveBuffer;
  private String connectPacket = "40";
  /** The socket's id from the CONNECT answer: its hub session id. */
  private String socketId;

  /** The hub session of the main namespace's socket (the {@code sid} of its CONNECT answer). */
  @Override
  public String session() {
    return socketId != null ? socketId : super.session();
  }

  private SioClient(Vertx vertx, int port, Mode mode, int receiveBuffer) {
    super(vertx);
    this.port = port;
    this.mode = mode;
    this.receiveBuffer = receiveBuffer;
  }

  /**
   * Opens the Engine.IO connection and the main namespace; completes once the namespace is connected.
   * With {@code receiveBuffer > 0} the TCP receive buffer is fixed at that size.
   */
  public static Future<SioClient> connect(Vertx vertx, int port, Mode mode, int receiveBuffer) {
    return connect(vertx, port, mode, receiveBuffer, null);
  }

  /**
   * {@link #connect(Vertx, int, Mode, int)} with a CONNECT payload ({@code {"token": ...}}); a refusal fails
   * the future with {@code connect_error: <payload>}.
   */
  public static Future<SioClient> connect(Vertx vertx, int port, Mode mode, int receiveBuffer, JsonObject auth) {
    SioClient c = new SioClient(vertx, port, mode, receiveBuffer);
    c.connectPacket = auth == null ? "40" : "40" + auth.encode();
    Future<Void> open = mode == Mode.WEBSOCKET ? c.openWebSocket() : c.openPolling();
    return open.compose(v -> c.connected.future()).map(c);
  }

  private Future<Void> openWebSocket() {
    WebSocketClientOptions options = new WebSocketClientOptions().setMaxFrameSize(4 << 20).setMaxMessageSize(4 << 20);
    if (receiveBuffer > 0) {
      options.setReceiveBufferSize(receiveBuffer);
    }
    wsClient = vertx.createWebSocketClient(options);
    // handlers before connecting: the Engine.IO open packet follows the 101 at once
    io.vertx.core.http.ClientWebSocket socket = wsClient.webSocket();
    ws = socket;
    socket.textMessageHandler(this::onPacket);
    socket.closeHandler(v -> end());
    return socket.connect(new WebSocketConnectOptions().setHost("127.0.0.1").setPort(port)
        .setURI("/socket.io/?EIO=4&transport=websocket"))
      .mapEmpty();
  }

  /**
   * Long-polling with each HTTP request sent to the next of {@code ports} in turn, as a round-robin load
   * balancer without session affinity would.
   */
  public static Future<SioClient> roundRobin(Vertx vertx, int... ports) {
    SioClient c = new SioClient(vertx, ports[0], Mode.POLLING, 0);
    c.ports = ports;
    return c.openPolling().compose(v -> c.connected.future()).map(c);
  }

  private int port() {
    return ports == null ? port : ports[turn++ % ports.length];
  }

  /** From now on, sends every polling request to the next of {@code ports} in turn. */
  public void pollThrough(int... ports) {
    vertx.runOnContext(v -> {
      this.ports = ports;
      this.turn = 0;
    });
  }

  private Future<Void> openPolling() {
    http = vertx.createHttpClient(new HttpClientOptions().setKeepAlive(true), new PoolOptions().setHttp1MaxSize(4));
    return http.request(HttpMethod.GET, port(), "127.0.0.1", "/socket.io/?EIO=4&transport=polling")
      .compose(req -> req.send()).compose(resp -> resp.body()).map(body -> {
        String open = body.toString();
        if (!open.startsWith("0")) {
          throw new IllegalStateException("no Engine.IO open packet: " + open);
        }
        sid = new JsonObject(open.substring(1)).getString("sid");
        send(connectPacket);
        poll();
        return null;
      });
  }

  private String pollingUri() {
    return "/socket.io/?EIO=4&transport=polling&sid=" + sid;
  }

  private void poll() {
    if (ended || paused) {
      return;
    }
    http.request(HttpMethod.GET, port(), "127.0.0.1", pollingUri())
      .compose(req -> req.send())
      .compose(resp -> resp.body().map(b -> resp.statusCode() == 200 ? b.toString() : null))
      .onComplete(ar -> {
        if (ar.failed() || ar.result() == null) {
          end();
          return;
        }
        for (String packet : ar.result().split(SEP)) {
          onPacket(packet);
        }
        poll();
      });
  }

  private void onPacket(String p) {
    if (p.isEmpty()) {
      return;
    }
    switch (p.charAt(0)) {
      case '0' -> send(connectPacket); // WebSocket-only: the open packet came over the socket
      case '1' -> end();
      case '2' -> send("3" + p.substring(1));
      case '4' -> onSocketIo(p.substring(1));
      default -> {
      }
    }
  }

  private void onSocketIo(String s) {
    char type = s.charAt(0);
    int i = 1;
    while (i < s.length() && Character.isDigit(s.charAt(i))) {
      i++;
    }
    String id = s.substring(1, i);
    String data = s.substring(i);
    switch (type) {
      case '0' -> {
        if (data.startsWith("{")) {
          socketId = new JsonObject(data).getString("sid");
        }
        connected.tryComplete();
      }
      case '1' -> end();
      case '2' -> {
        JsonArray event = new JsonArray(data);
        Object first = event.size() > 1 ? event.getValue(1) : null;
        if ("error".equals(event.getString(0)) && first instanceof JsonObject e) {
          received(e.copy().put("type", "error").encode());
        } else if (first instanceof JsonObject o && o.getString("type") != null) {
          received(o.encode());
        }
      }
      case '3' -> {
        Promise<JsonArray> ack = acks.remove(Long.parseLong(id));
        if (ack != null) {
          ack.complete(new JsonArray(data));
        }
      }
      case '4' -> connected.tryFail("connect_error: " + data);
      default -> {
      }
    }
  }

  private void end() {
    if (!ended) {
      ended = true;
      connected.tryFail("connection ended");
      ended(-1);
    }
  }

  /** Emits an event and completes with the ack's arguments. */
  public Future<JsonArray> emit(String event, Object... args) {
    Promise<JsonArray> ack = Promise.promise();
    vertx.runOnContext(v -> {
      long id = ++ackSeq;
      acks.put(id, ack);
      JsonArray data = new JsonArray().add(event);
      for (Object a : args) {
        data.add(a);
      }
      send("42" + id + data.encode());
    });
    return ack.future();
  }

  /** Sends one Engine.IO packet as text ({@code "40"}, {@code "42[...]"}...). */
  public void send(String packet) {
    if (mode == Mode.WEBSOCKET) {
      if (!ws.isClosed()) {
        ws.writeTextMessage(packet); // a write the server no longer reads fails quietly, as in a browser
      }
    } else {
      post(packet);
    }
  }

  /** Sends one binary Engine.IO message (a Socket.IO attachment). */
  public void sendBinary(Buffer data) {
    if (mode == Mode.WEBSOCKET) {
      if (!ws.isClosed()) {
        ws.writeBinaryMessage(data);
      }
    } else {
      post("b" + java.util.Base64.getEncoder().encodeToString(data.getBytes()));
    }
  }

  /** One POST at a time, so packets arrive in the order sent, as the stock client does. */
  private void post(String body) {
    posts = posts.eventually(() -> http.request(HttpMethod.POST, port(), "127.0.0.1", pollingUri())
      .compose(req -> req.putHeader("Content-Type", "text/plain;charset=UTF-8").send(Buffer.buffer(body)))
      .compose(resp -> resp.body())
      .mapEmpty());
  }

  @Override
  public void sendText(String text) {
    throw new UnsupportedOperationException("Socket.IO clients emit events: use emit()");
  }

  @Override
  public void pauseReading() {
    vertx.runOnContext(v -> {
      paused = true;
      if (ws != null) {
        ws.pause();
      }
    });
  }

  @Override
  public void resumeReading() {
    vertx.runOnContext(v -> {
      paused = false;
      if (ws != null) {
        ws.resume();
      } else {
        poll();
      }
    });
  }

  /**
   * WebSocket: the TCP connection is reset, no close packet or frame. Polling: no more polls or posts, the
   * poll in flight dropped with its TCP connection; the server learns it only when its ping goes unanswered.
   */
  @Override
  public void cut() {
    if (mode == Mode.WEBSOCKET) {
      resetTcp(ws);
    } else {
      vertx.runOnContext(v -> {
        ended = true;
        http.close();
      });
    }
  }

  /** Leaves the namespace and closes the Engine.IO connection, as {@code socket.disconnect()} does. */
  @Override
  public void close() {
    send("41");
    if (mode == Mode.WEBSOCKET) {
      ws.close();
    } else {
      post("1");
    }
  }
}
