package dev.parley.transport.contract;

import dev.parley.support.ChatClient;
import dev.parley.support.SioChatClient;
import dev.parley.support.SioClient;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;

/** The transport contract on Socket.IO in the chat's native vocabulary; subclasses pick the Engine.IO transport. */
abstract class SocketIoContract extends TransportContractTest {

  protected abstract SioClient.Mode mode();

  @Override
  protected Future<ChatClient> connect(Vertx vertx, int port) {
    return SioClient.connect(vertx, port, mode(), RECEIVE_BUFFER).map(SioChatClient::new);
  }

  /** A packet over {@code socketio.maxPayload} ends the Engine.IO connection. */
  @Override
  protected Future<Void> sendOversized(Vertx vertx, int port, ChatClient client) {
    SioClient c = ((SioChatClient) client).client();
    c.send("42[\"publish\",{\"room\":\"big\",\"text\":\"" + "x".repeat(MAX_FRAME_BYTES) + "\"}]");
    return c.closed().mapEmpty();
  }

  /** A binary event announcing two attachments, of which only one ever comes. */
  @Override
  protected Future<Void> leaveUnfinished(Vertx vertx, int port, ChatClient client) {
    SioClient c = ((SioChatClient) client).client();
    c.send("452-[\"upload\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]");
    c.sendBinary(Buffer.buffer(new byte[1000]));
    return c.closed().mapEmpty();
  }
}
