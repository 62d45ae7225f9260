package dev.parley.transport.contract;

import dev.parley.support.ChatClient;
import dev.parley.support.NativeChatClient;
import dev.parley.support.SockJsWsClient;
import io.vertx.core.Future;
import io.vertx.core.Vertx;

/** The transport contract on SockJS's websocket transport. */
class SockJsWebSocketContractTest extends TransportContractTest {

  @Override
  protected Future<ChatClient> connect(Vertx vertx, int port) {
    return SockJsWsClient.connect(vertx, port, RECEIVE_BUFFER).map(NativeChatClient::new);
  }

  @Override
  protected Future<Void> sendOversized(Vertx vertx, int port, ChatClient client) {
    ((NativeChatClient) client).client().sendText(ContractInputs.bigFrame(MAX_FRAME_BYTES));
    return ContractInputs.expectCloseNotice(client);
  }

  @Override
  protected Future<Void> leaveUnfinished(Vertx vertx, int port, ChatClient client) {
    return ContractInputs.unfinishedFragment(((SockJsWsClient) ((NativeChatClient) client).client()).socket());
  }
}
