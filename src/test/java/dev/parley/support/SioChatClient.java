package dev.parley.support;

import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

/** {@link ChatClient} over Socket.IO in the chat's native vocabulary: events with acks. */
public final class SioChatClient extends DelegatingChatClient<SioClient> {

  public SioChatClient(SioClient client) {
    super(client);
  }

  private Future<JsonObject> command(String event, JsonObject args) {
    return client.emit(event, args).map((JsonArray ack) -> {
      JsonObject answer = ack.getJsonObject(0);
      JsonObject error = answer.getJsonObject("error");
      if (error != null) {
        throw new ChatError(error.getString("code"), error.getString("message"));
      }
      return answer;
    });
  }

  @Override
  public Future<JsonObject> join(String room, String name, JsonObject options) {
    return command("join", options.copy().put("room", room).put("name", name));
  }

  @Override
  public Future<String> publish(String room, String text) {
    return command("publish", new JsonObject().put("room", room).put("text", text)).map(a -> a.getString("id"));
  }

  @Override
  public Future<JsonObject> history(String room, JsonObject options) {
    return command("history", options.copy().put("room", room));
  }

  @Override
  public Future<JsonObject> auth(String token) {
    return command("auth", new JsonObject().put("token", token));
  }

  /** Socket.IO has no close codes: the server's {@code error} event before its DISCONNECT carries it. */
  @Override
  public Future<Integer> closeCode() {
    return client.closed().compose(v -> client.expect(f -> "error".equals(f.getString("type")) && f.containsKey("close"),
      "error event with a close code", 1000).map(f -> f.getInteger("close")).otherwise(-1));
  }

  @Override
  public Future<Void> leave(String room) {
    return command("leave", new JsonObject().put("room", room)).mapEmpty();
  }
}
