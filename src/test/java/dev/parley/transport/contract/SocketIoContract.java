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

  /** The token goes in the CONNECT packet's payload, {@code auth: {token}}. */
  @Override
  protected Future<ChatClient> connectWithToken(Vertx vertx, int port, String token) {
    return SioClient.connect(vertx, port, mode(), RECEIVE_BUFFER, new io.vertx.core.json.JsonObject().put("token", token))
      .map(SioChatClient::new);
  }

  /** A refused CONNECT is a CONNECT_ERROR {@code {"message": code, "data": {"code", "message"}}}; nothing closes. */
  @Override
  protected Future<io.vertx.core.json.JsonObject> refusal(Vertx vertx, int port, String token) {
    return SioClient.connect(vertx, port, mode(), RECEIVE_BUFFER,
        token == null ? null : new io.vertx.core.json.JsonObject().put("token", token))
      .transform(ar -> {
        String prefix = "connect_error: ";
        if (ar.succeeded() || ar.cause().getMessage() == null || !ar.cause().getMessage().startsWith(prefix)) {
          return Future.failedFuture(new AssertionError("expected a CONNECT_ERROR, got " + (ar.succeeded() ? "a connection" : ar.cause())));
        }
        io.vertx.core.json.JsonObject error = new io.vertx.core.json.JsonObject(ar.cause().getMessage().substring(prefix.length()));
        io.vertx.core.json.JsonObject data = error.getJsonObject("data");
        return Future.succeededFuture(new io.vertx.core.json.JsonObject().put("code", data.getString("code"))
          .put("message", data.getString("message")).put("close", -1));
      });
  }

  @Override
  protected int refusalClose() {
    return -1;
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
