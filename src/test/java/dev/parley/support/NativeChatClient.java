package dev.parley.support;

import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;

/** {@link ChatClient} over the native JSON protocol: {@code /ws} and every SockJS transport of {@code /sockjs}. */
public final class NativeChatClient extends DelegatingChatClient<TestClient> {

  public NativeChatClient(TestClient client) {
    super(client);
  }

  private Future<JsonObject> command(JsonObject frame) {
    String ref = client.nextRef();
    client.send(frame.put("ref", ref));
    return client.reply(ref).map(reply -> {
      if ("error".equals(reply.getString("type"))) {
        throw new ChatError(reply.getString("code"), reply.getString("message"));
      }
      return reply;
    });
  }

  @Override
  public Future<JsonObject> join(String room, String name, JsonObject options) {
    // the presence frame comes before the ack, so once the ack is here it is in the inbox
    return command(options.copy().put("type", "join").put("room", room).put("name", name))
      .compose(ack -> client.expect("presence", room));
  }

  @Override
  public Future<String> publish(String room, String text) {
    return command(new JsonObject().put("type", "publish").put("room", room).put("text", text))
      .map(ack -> ack.getString("id"));
  }

  @Override
  public Future<JsonObject> history(String room, JsonObject options) {
    return command(options.copy().put("type", "history").put("room", room));
  }

  @Override
  public Future<JsonObject> auth(String token) {
    return command(new JsonObject().put("type", "auth").put("token", token));
  }

  @Override
  public Future<Void> leave(String room) {
    return command(new JsonObject().put("type", "leave").put("room", room)).mapEmpty();
  }
}
