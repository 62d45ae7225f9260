package dev.parley.support;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;

import java.util.UUID;

/** A Vert.x event bus bridge client speaking the bridge frame protocol over SockJS's websocket transport. */
public final class BridgeClient extends SockJsWsClient {

  private BridgeClient(Vertx vertx) {
    super(vertx);
  }

  public static Future<BridgeClient> open(Vertx vertx, int port) {
    return open(vertx, port, 0);
  }

  /** With a fixed TCP receive buffer of {@code receiveBuffer} bytes when it is above 0. */
  public static Future<BridgeClient> open(Vertx vertx, int port, int receiveBuffer) {
    BridgeClient c = new BridgeClient(vertx);
    return c.open(port, "/eventbus", null, receiveBuffer).map(c);
  }

  /** {@code send} with a reply address; completes with the {@code rec} or {@code err} frame answering it. */
  public Future<JsonObject> request(String address, Object body) {
    String replyAddress = UUID.randomUUID().toString();
    send(new JsonObject().put("type", "send").put("address", address).put("body", body).put("replyAddress", replyAddress));
    return expect(f -> replyAddress.equals(f.getString("address")), "reply on " + address);
  }

  /** A bridge frame without reply address ({@code publish}, {@code register}, {@code unregister}, {@code send}). */
  public void frame(String type, String address, Object body) {
    JsonObject f = new JsonObject().put("type", type).put("address", address);
    if (body != null) {
      f.put("body", body);
    }
    send(f);
  }

  /** The next bridge-level error frame ({@code {"type":"err","body":"access_denied"}} and the like). */
  public Future<JsonObject> expectError() {
    return expect(f -> "err".equals(f.getString("type")) && f.getString("address") == null, "bridge err frame");
  }

  /** The next {@code rec} frame on an address whose body has this {@code type}. */
  public Future<JsonObject> expectRec(String address, String type) {
    return expect(f -> "rec".equals(f.getString("type")) && address.equals(f.getString("address"))
      && f.getJsonObject("body") != null && type.equals(f.getJsonObject("body").getString("type")),
      type + " on " + address).map(f -> f.getJsonObject("body"));
  }
}
