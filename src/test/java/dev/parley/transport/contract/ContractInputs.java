package dev.parley.transport.contract;

import dev.parley.support.ChatClient;
import dev.parley.support.NativeChatClient;
import dev.parley.support.TestClient;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.http.WebSocket;
import io.vertx.core.http.WebSocketFrame;
import io.vertx.core.json.JsonObject;

/** The oversized and unfinished inputs the transport adapters share. */
final class ContractInputs {

  private ContractInputs() {
  }

  /** A native {@code publish} frame of about {@code bytes} bytes. */
  static String bigFrame(int bytes) {
    return new JsonObject().put("type", "publish").put("room", "big").put("text", "x".repeat(bytes)).encode();
  }

  /** SockJS cannot carry a close code: the last frame before the close says 1009. */
  static Future<Void> expectCloseNotice(ChatClient client) {
    TestClient c = ((NativeChatClient) client).client();
    return c.expect(f -> "close".equals(f.getString("type")) && f.getInteger("code") == 1009, "close notice 1009")
      .compose(notice -> c.closed()).mapEmpty();
  }

  /** The first fragment of a text message whose last fragment never comes; completes when the server closed. */
  static Future<Void> unfinishedFragment(WebSocket ws) {
    Promise<Void> closed = Promise.promise();
    ws.closeHandler(v -> closed.tryComplete());
    ws.writeFrame(WebSocketFrame.textFrame("[\"{\\\"type\\\":", false));
    return closed.future();
  }

  /**
   * An HTTP request whose body stops arriving, on a TCP connection of its own; completes when the server
   * closed that connection.
   */
  static Future<Void> unfinishedBody(Vertx vertx, int port, String path) {
    Promise<Void> closed = Promise.promise();
    return vertx.createNetClient().connect(port, "127.0.0.1").compose(socket -> {
      socket.closeHandler(v -> closed.tryComplete());
      socket.handler(data -> {
      });
      socket.write("POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + port + "\r\nContent-Type: text/plain\r\n"
        + "Content-Length: 100\r\n\r\n[\"{");
      return closed.future();
    });
  }
}
