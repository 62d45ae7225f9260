package dev.parley.transport.contract;

import dev.parley.support.ChatClient;
import dev.parley.support.NativeChatClient;
import dev.parley.support.WsClient;
import io.vertx.core.Future;
import io.vertx.core.Vertx;

/** The transport contract on {@code /ws}: oversized frames close with 1009, unfinished messages with 1008. */
class WebSocketContractTest extends TransportContractTest {

  @Override
  protected Future<ChatClient> connect(Vertx vertx, int port) {
    return WsClient.connect(vertx, port, new io.vertx.core.http.WebSocketConnectOptions(), RECEIVE_BUFFER).map(NativeChatClient::new);
  }

  @Override
  protected Future<Void> sendOversized(Vertx vertx, int port, ChatClient client) {
    WsClient c = (WsClient) ((NativeChatClient) client).client();
    c.sendText(ContractInputs.bigFrame(MAX_FRAME_BYTES));
    return c.closed().map(code -> {
      if (code != 1009) {
        throw new AssertionError("closed with " + code + ", not 1009");
      }
      return null;
    });
  }

  @Override
  protected Future<Void> leaveUnfinished(Vertx vertx, int port, ChatClient client) {
    WsClient c = (WsClient) ((NativeChatClient) client).client();
    return ContractInputs.unfinishedFragment(c.socket()).compose(v -> {
      Short code = c.socket().closeStatusCode();
      return code != null && code == 1008 ? Future.succeededFuture()
        : Future.failedFuture(new AssertionError("closed with " + code + ", not 1008"));
    });
  }
}
