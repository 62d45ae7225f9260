package dev.parley.support;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.WebSocket;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketClientOptions;
import io.vertx.core.http.WebSocketConnectOptions;

/** A real Vert.x WebSocket client on {@code /ws}. */
public final class WsClient extends TestClient {

  private final WebSocketClient client;
  private WebSocket ws;

  private WsClient(Vertx vertx, WebSocketClient client) {
    super(vertx);
    this.client = client;
  }

  /** Connects and waits for the {@code welcome} frame. */
  public static Future<WsClient> connect(Vertx vertx, int port) {
    return connect(vertx, port, new WebSocketConnectOptions());
  }

  public static Future<WsClient> connect(Vertx vertx, int port, WebSocketConnectOptions options) {
    return connect(vertx, port, options, 0);
  }

  /**
   * With {@code receiveBuffer > 0} the client's TCP receive buffer is fixed at that size (no autotuning), so
   * a client that stops reading backs up into the server after little data.
   */
  public static Future<WsClient> connect(Vertx vertx, int port, WebSocketConnectOptions options, int receiveBuffer) {
    WebSocketClientOptions clientOptions = new WebSocketClientOptions().setMaxFrameSize(4 << 20).setMaxMessageSize(4 << 20);
    if (receiveBuffer > 0) {
      clientOptions.setReceiveBufferSize(receiveBuffer);
    }
    WebSocketClient client = vertx.createWebSocketClient(clientOptions);
    WsClient c = new WsClient(vertx, client);
    options.setHost("127.0.0.1").setPort(port).setURI("/ws");
    // Handlers are set before connecting: the server writes welcome right after the 101, and a handler
    // set once connect's future completes (a hop to the caller's context) could miss it.
    io.vertx.core.http.ClientWebSocket ws = client.webSocket();
    c.ws = ws;
    ws.textMessageHandler(c::received);
    ws.closeHandler(v -> c.ended(ws.closeStatusCode() == null ? -1 : ws.closeStatusCode()));
    return ws.connect(options).compose(connected -> c.expect("welcome").map(c));
  }

  public WebSocket socket() {
    return ws;
  }

  @Override
  public void sendText(String text) {
    ws.writeTextMessage(text);
  }

  @Override
  public void pauseReading() {
    ws.pause();
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
