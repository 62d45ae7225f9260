package dev.parley.transport.contract;

import dev.parley.support.BridgeChatClient;
import dev.parley.support.BridgeClient;
import dev.parley.support.ChatClient;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.vertx.core.Vertx;

/** The transport contract on the event bus bridge (SockJS websocket transport). */
class BridgeTransportContractTest extends TransportContractTest {

  @Override
  protected Future<ChatClient> connect(Vertx vertx, int port) {
    return BridgeClient.open(vertx, port, RECEIVE_BUFFER).map(BridgeChatClient::new);
  }

  @Override
  protected boolean refusalsSayWhy() {
    return false;
  }

  /** A frame over the limit gets the bridge error {@code too_big}, then the socket closes. */
  @Override
  protected Future<Void> sendOversized(Vertx vertx, int port, ChatClient client) {
    BridgeClient c = ((BridgeChatClient) client).client();
    c.send(new JsonObject().put("type", "send").put("address", "parley.publish")
      .put("body", new JsonObject().put("room", "big").put("text", "x".repeat(MAX_FRAME_BYTES))).put("replyAddress", "r1"));
    return c.expect(f -> "err".equals(f.getString("type")) && "too_big".equals(f.getString("body")), "too_big error")
      .compose(err -> c.closed()).mapEmpty();
  }

  @Override
  protected Future<Void> leaveUnfinished(Vertx vertx, int port, ChatClient client) {
    return ContractInputs.unfinishedFragment(((BridgeChatClient) client).client().socket());
  }
}
