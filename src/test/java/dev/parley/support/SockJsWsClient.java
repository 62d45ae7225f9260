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

  protected SockJsWsClient(Vertx vertx) {
    super(vertx);
  }

  /** Native protocol over {@code /sockjs}; completes after the {@code welcome} frame. */
  public static Future<SockJsWsClient> connect(Vertx vertx, int port) {
    SockJsWsClient c = new SockJsWsClient(vertx);
    return c.open(port, "/sockjs", null).compose(v -> c.expect("welcome")).map(c);
  }

  /** Opens the SockJS session under a prefix; completes on the {@code o} frame. */
  protected Future<Void> open(int port, String prefix, String origin) {
    Promise<Void> opened = Promise.promise();
    WebSocketConnectOptions options = new WebSocketConnectOptions().setHost("127.0.0.1").setPort(port)
      .setURI(prefix + "/000/" + UUID.randomUUID().toString().substring(0, 8) + "/websocket");
    if (origin != null) {
      options.addHeader("Origin", origin);
    }
    return vertx.createWebSocketClient(new WebSocketClientOptions().setMaxFrameSize(4 << 20).setMaxMessageSize(4 << 20))
      .connect(options)
      .compose(ws -> {
        this.ws = ws;
        ws.textMessageHandler(frame -> SockJsFrames.decode(frame, opened::tryComplete, this::received, this::ended));
        ws.closeHandler(v -> ended(-1));
        return opened.future();
      });
  }

  @Override
  public void sendText(String text) {
    ws.writeTextMessage(SockJsFrames.encode(text));
  }

  @Override
  public void close() {
    ws.close();
  }
}
