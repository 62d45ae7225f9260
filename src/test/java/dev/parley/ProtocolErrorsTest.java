package dev.parley;

import dev.parley.support.TestServer;
import dev.parley.support.WsClient;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/**
 * Every error code of the native protocol, each on a live connection that must stay usable afterwards.
 * Runs with small limits so they are cheap to reach.
 */
@ExtendWith(VertxExtension.class)
@Timeout(value = 30, timeUnit = TimeUnit.SECONDS)
class ProtocolErrorsTest {

  private int port;

  @BeforeEach
  void start(Vertx vertx, VertxTestContext ctx) {
    JsonObject limits = new JsonObject().put("limits", new JsonObject()
      .put("maxTextLength", 10).put("maxRoomsPerConnection", 2).put("ratePerSecond", 1).put("rateBurst", 40));
    TestServer.start(vertx, limits, 1).onComplete(ctx.succeeding(p -> {
      port = p;
      ctx.completeNow();
    }));
  }

  /** Sends a raw frame and checks the error it gets back (matched by ref when the frame carries one). */
  private static Future<JsonObject> expectError(WsClient c, String frame, String code) {
    c.sendText(frame);
    return c.expect("error").map(err -> {
      assertEquals(code, err.getString("code"), "for " + frame + ": " + err);
      assertFalse(err.getString("message").isBlank());
      return err;
    });
  }

  @Test
  void malformedInputGetsBadRequestAndTheConnectionStaysUsable(Vertx vertx, VertxTestContext ctx) {
    WsClient.connect(vertx, port).compose(c -> expectError(c, "{not json", "bad_request")
        .compose(v -> expectError(c, "[1,2,3]", "bad_request"))
        .compose(v -> expectError(c, "\"just a string\"", "bad_request"))
        .compose(v -> expectError(c, "{}", "bad_request"))
        .compose(v -> expectError(c, "{\"type\":\"dance\",\"ref\":\"x\"}", "bad_request"))
        .compose(err -> {
          assertEquals("x", err.getString("ref"), "error echoes the ref");
          return expectError(c, "{\"type\":\"join\",\"name\":\"a\"}", "bad_request");
        })
        .compose(v -> expectError(c, "{\"type\":\"join\",\"room\":\"r\",\"name\":5}", "bad_request"))
        .compose(v -> expectError(c, "{\"type\":\"publish\",\"room\":\"r\"}", "bad_request"))
        .compose(v -> expectError(c, "{\"type\":\"leave\"}", "bad_request"))
        .compose(v -> expectError(c, "{\"type\":\"ping\",\"ref\":{\"x\":1}}", "bad_request"))
        .compose(v -> {
          c.socket().writeBinaryMessage(io.vertx.core.buffer.Buffer.buffer("{\"type\":\"ping\"}"));
          return c.expect("error");
        })
        .compose(err -> {
          assertEquals("bad_request", err.getString("code"), "binary frames are refused");
          return c.join("still-works", "alice");
        }))
      .onComplete(ctx.succeedingThenComplete());
  }

  @Test
  void invalidRoomsAndNames(Vertx vertx, VertxTestContext ctx) {
    String longRoom = "r".repeat(65);
    String longName = "n".repeat(33);
    WsClient.connect(vertx, port).compose(c -> expectError(c, join("has space", "a"), "invalid_room")
        .compose(v -> expectError(c, join("", "a"), "invalid_room"))
        .compose(v -> expectError(c, join(longRoom, "a"), "invalid_room"))
        .compose(v -> expectError(c, join("ok", ""), "invalid_name"))
        .compose(v -> expectError(c, join("ok", longName), "invalid_name"))
        .compose(v -> expectError(c, join("ok", "bell\u0007"), "invalid_name"))
        .compose(v -> expectError(c, join("ok", "line\nbreak"), "invalid_name"))
        // invisible and direction-changing characters let one member pass for another
        .compose(v -> expectError(c, join("ok", "ali\u200bce"), "invalid_name"))
        .compose(v -> expectError(c, join("ok", "ali\u200dce"), "invalid_name"))
        .compose(v -> expectError(c, join("ok", "\u202eecila"), "invalid_name"))
        .compose(v -> expectError(c, join("ok", "bob\u2066"), "invalid_name"))
        .compose(v -> expectError(c, join("ok", "\u3164"), "invalid_name"))
        .compose(v -> expectError(c, join("ok", "   "), "invalid_name"))
        .compose(v -> expectError(c, new JsonObject().put("type", "publish").put("room", "bad room").put("text", "x").encode(), "invalid_room"))
        // the limits are inclusive
        .compose(v -> c.join("r".repeat(64), "n".repeat(32)))
        .compose(v -> c.join("emoji", "👩‍💻 zoë")))
      .onComplete(ctx.succeedingThenComplete());
  }

  @Test
  void namesAreStoredInOneNormalForm(Vertx vertx, VertxTestContext ctx) {
    // "e" + combining acute accent is shown, and announced, as the single character "é"
    WsClient.connect(vertx, port).compose(c -> c.join("accents", "Jose\u0301"))
      .onComplete(ctx.succeeding(presence -> ctx.verify(() -> {
        assertEquals("Jos\u00e9", presence.getJsonArray("members").getJsonObject(0).getString("name"));
        ctx.completeNow();
      })));
  }

  @Test
  void notJoinedTooLargeAndTooManyRooms(Vertx vertx, VertxTestContext ctx) {
    WsClient.connect(vertx, port).compose(c -> expectError(c, publish("nowhere", "hi"), "not_joined")
        .compose(v -> expectError(c, leave("nowhere"), "not_joined"))
        .compose(v -> c.join("one", "a"))
        .compose(v -> expectError(c, publish("one", "12345678901"), "too_large"))
        .compose(v -> c.publish("one", "1234567890"))
        .compose(ack -> {
          assertEquals("ack", ack.getString("type"));
          return c.join("two", "a");
        })
        .compose(v -> expectError(c, join("three", "a"), "too_many_rooms"))
        .compose(v -> c.leave("two"))
        .compose(v -> c.join("three", "a")))
      .onComplete(ctx.succeedingThenComplete());
  }

  @Test
  void floodsAreRateLimitedWithoutAffectingOthers(Vertx vertx, VertxTestContext ctx) {
    // burst 40, then 1 per second: 60 pings back to back must see some rate_limited errors
    Future.all(WsClient.connect(vertx, port), WsClient.connect(vertx, port)).compose(all -> {
      WsClient flooder = all.resultAt(0);
      WsClient calm = all.resultAt(1);
      for (int i = 0; i < 60; i++) {
        flooder.send(new JsonObject().put("type", "ping").put("ref", i));
      }
      return flooder.expect(f -> "error".equals(f.getString("type")) && "rate_limited".equals(f.getString("code")), "rate_limited")
        .compose(v -> calm.join("calm", "c"))
        .compose(v -> calm.publish("calm", "fine"));
    }).onComplete(ctx.succeeding(ack -> {
      ctx.verify(() -> assertEquals("ack", ack.getString("type")));
      ctx.completeNow();
    }));
  }

  private static String join(String room, String name) {
    return new JsonObject().put("type", "join").put("room", room).put("name", name).encode();
  }

  private static String publish(String room, String text) {
    return new JsonObject().put("type", "publish").put("room", room).put("text", text).encode();
  }

  private static String leave(String room) {
    return new JsonObject().put("type", "leave").put("room", room).encode();
  }
}
