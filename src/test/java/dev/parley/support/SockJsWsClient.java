package dev.parley.support;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.http.WebSocket;
import io.vertx.core.http.WebSocketClientOptions;
import io.vertx.core.http.WebSocketConnectOptions;

import java.util.UUID;

/** The SockJS {@code websocket} transport ({@code /<prefix>/<server>/<session>/websocket}), driven by a real WebSocket. */
public class SockJsWsClient extends TestClient {

  private WebSocket ws;
  /** Kept referenced: Vert.x closes a client that is garbage collected, with its connections. */
  private io.vertx.core.http.WebSocketClient client;

  protected SockJsWsClient(Vertx vertx) {
    super(vertx);
  }

  /** Native protocol over {@code /sockjs}; completes after the {@code welcome} frame. */
  public static Future<SockJsWsClient> connect(Vertx vertx, int port) {
    return connect(vertx, port, 0);
  }

  /** With a fixed TCP receive buffer of {@code receiveBuffer} bytes when it is above 0. */
  public static Future<SockJsWsClient> connect(Vertx vertx, int port, int receiveBuffer) {
    SockJsWsClient c = new SockJsWsClient(vertx);
    return c.open(port, "/sockjs", null, receiveBuffer).compose(v -> c.expect("welcome")).map(c);
  }

  /** A SockJS session on {@code /sockjs} that is open (the {@code o} frame came), without waiting for {@code welcome}. */
  public static Future<SockJsWsClient> openWithoutWelcome(Vertx vertx, int port) {
    SockJsWsClient c = new SockJsWsClient(vertx);
    return c.open(port, "/sockjs", null).map(c);
  }

  /** Opens the SockJS session under a prefix; completes on the {@code o} frame. */
  protected Future<Void> open(int port, String prefix, String origin) {
    return open(port, prefix, origin, 0);
  }

  protected Future<Void> open(int port, String prefix, String origin, int receiveBuffer) {
    Promise<Void> opened = Promise.promise();
    WebSocketConnectOptions options = new WebSocketConnectOptions().setHost("127.0.0.1").setPort(port)
      .setURI(prefix + "/000/" + UUID.randomUUID().toString().substring(0, 8) + "/websocket");
    if (origin != null) {
      options.addHeader("Origin", origin);
    }
    WebSocketClientOptions clientOptions = new WebSocketClientOptions().setMaxFrameSize(4 << 20).setMaxMessageSize(4 << 20);
    if (receiveBuffer > 0) {
      clientOptions.setReceiveBufferSize(receiveBuffer);
    }
    client = vertx.createWebSocketClient(clientOptions);
    // handlers before connecting: the open frame follows the 101 at once
    io.vertx.core.http.ClientWebSocket socket = client.webSocket();
    this.ws = socket;
    socket.textMessageHandler(frame -> SockJsFrames.decode(frame, opened::tryComplete, this::received, this::ended));
    socket.closeHandler(v -> ended(-1));
    return socket.connect(options).compose(connected -> opened.future());
  }

  @Override
  public void sendText(String text) {
    ws.writeTextMessage(SockJsFrames.encode(text));
  }

  @Override
  public void pauseReading() {
    ws.pause();
  }

  /** The WebSocket under the SockJS session. */
  public WebSocket socket() {
    return ws;
  }

  @Override
  public void resumeReading() {
    ws.resume();
  }

  @Override
  public void close() {
    ws.close();
  }

  @Override
  public void cut() {
    resetTcp(ws);
  }
}
