package dev.parley.transport.contract;

import dev.parley.support.ChatClient;
import dev.parley.support.NativeChatClient;
import dev.parley.support.SockJsXhrClient;
import io.vertx.core.Future;
import io.vertx.core.Vertx;

/** The transport contract on a SockJS HTTP transport (messages go up with {@code xhr_send}); subclasses pick it. */
abstract class SockJsXhrContract extends TransportContractTest {

  protected abstract SockJsXhrClient.Mode mode();

  @Override
  protected Future<ChatClient> connect(Vertx vertx, int port) {
    return SockJsXhrClient.connect(vertx, port, mode()).map(NativeChatClient::new);
  }

  @Override
  protected Future<Void> sendOversized(Vertx vertx, int port, ChatClient client) {
    ((NativeChatClient) client).client().sendText(ContractInputs.bigFrame(MAX_FRAME_BYTES));
    return ContractInputs.expectCloseNotice(client);
  }

  /** An {@code xhr_send} for the client's session whose body stops after three bytes. */
  @Override
  protected Future<Void> leaveUnfinished(Vertx vertx, int port, ChatClient client) {
    String base = ((SockJsXhrClient) ((NativeChatClient) client).client()).base();
    return ContractInputs.unfinishedBody(vertx, port, base + "/xhr_send");
  }
}
