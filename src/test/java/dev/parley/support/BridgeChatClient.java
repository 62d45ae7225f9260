package dev.parley.support;

import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;

import java.util.function.Predicate;

/**
 * {@link ChatClient} over the event bus bridge: commands are {@code send}s with a reply address, room
 * events arrive as {@code rec} frames on {@code parley.room.<room>}, registered right after each join.
 */
public final class BridgeChatClient extends DelegatingChatClient<BridgeClient> {

  public BridgeChatClient(BridgeClient client) {
    super(client);
  }

  /** Requests in flight at most: the bridge refuses more reply handlers per socket than it allows. */
  private static final int WINDOW = 16;
  private int inFlight;
  private final java.util.ArrayDeque<Runnable> waiting = new java.util.ArrayDeque<>();

  private Future<JsonObject> request(String address, JsonObject body) {
    io.vertx.core.Promise<JsonObject> reply = io.vertx.core.Promise.promise();
    Runnable send = () -> {
      inFlight++;
      client.request(address, body).onComplete(ar -> {
        inFlight--;
        Runnable next = waiting.poll();
        if (next != null) {
          next.run();
        }
        reply.handle(ar);
      });
    };
    if (inFlight < WINDOW) {
      send.run();
    } else {
      waiting.add(send);
    }
    return reply.future();
  }

  private Future<JsonObject> command(String address, JsonObject body) {
    return request(address, body).map(reply -> {
      if ("err".equals(reply.getString("type"))) {
        throw new ChatError(reply.getString("message"), "bridge failure code " + reply.getInteger("failureCode"));
      }
      return reply.getJsonObject("body");
    });
  }

  /**
   * Joins, then registers for the room's events. The bridge handles one socket's frames in order, so
   * once a later request is answered the registration is in place (the refused probe costs one frame
   * of the rate limit).
   */
  @Override
  public Future<JsonObject> join(String room, String name, JsonObject options) {
    return command("parley.join", options.copy().put("room", room).put("name", name)).compose(presence -> {
      client.frame("register", "parley.room." + room, null);
      return request("parley.leave", new JsonObject()).map(probe -> presence);
    });
  }

  @Override
  public Future<String> publish(String room, String text) {
    return command("parley.publish", new JsonObject().put("room", room).put("text", text)).map(b -> b.getString("id"));
  }

  @Override
  public Future<JsonObject> history(String room, JsonObject options) {
    return command("parley.history", options.copy().put("room", room));
  }

  @Override
  public Future<JsonObject> auth(String token) {
    return command("parley.auth", new JsonObject().put("token", token));
  }

  @Override
  public Future<Void> leave(String room) {
    return command("parley.leave", new JsonObject().put("room", room)).mapEmpty();
  }

  @Override
  public Future<JsonObject> event(String type, Predicate<JsonObject> match, String what) {
    return client.expect(f -> "rec".equals(f.getString("type")) && f.getString("address", "").startsWith("parley.room.")
      && f.getJsonObject("body") != null && type.equals(f.getJsonObject("body").getString("type"))
      && match.test(f.getJsonObject("body")), what).map(f -> f.getJsonObject("body"));
  }
}
