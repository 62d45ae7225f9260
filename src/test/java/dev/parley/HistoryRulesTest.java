package dev.parley;

import dev.parley.support.ChatFlows;
import dev.parley.support.NativeChatClient;
import dev.parley.support.TestServer;
import dev.parley.support.WsClient;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/** {@code history.rooms}: rooms matching a rule keep what it says (nothing at all, or a few messages). */
@ExtendWith(VertxExtension.class)
@Timeout(value = 60, timeUnit = TimeUnit.SECONDS)
class HistoryRulesTest {

  @AfterEach
  void stop(Vertx vertx, VertxTestContext ctx) {
    TestServer.stop(vertx).onComplete(ar -> ctx.completeNow());
  }

  @Test
  void roomsFollowTheirPatternsRule(Vertx vertx, VertxTestContext ctx) {
    JsonObject cfg = new JsonObject().put("history", new JsonObject().put("rooms", new JsonArray()
      .add(new JsonObject().put("match", "quiet-*").put("size", 0))
      .add(new JsonObject().put("match", "short-*").put("size", 3))));
    TestServer.start(vertx, cfg, 1).compose(port -> WsClient.connect(vertx, port).map(NativeChatClient::new)).compose(c ->
      c.join("quiet-1", "q").compose(p -> c.publish("quiet-1", "not kept"))
        .compose(id -> c.event("message", m -> "not kept".equals(m.getString("text")), "quiet message"))
        .compose(m -> {
          ctx.verify(() -> assertFalse(m.containsKey("offset"), "no position where nothing is kept: " + m));
          return c.join("short-1", "s");
        })
        .compose(p -> ChatFlows.publishAll(c, "short-1", List.of("a", "b", "c", "d", "e")))
        .compose(v -> c.history("short-1", new JsonObject().put("limit", 10)))
        .map(page -> {
          ctx.verify(() -> {
            JsonArray m = page.getJsonArray("messages");
            assertEquals(3, m.size(), "short-* keeps 3: " + page);
            assertEquals("e", m.getJsonObject(2).getString("text"));
            assertEquals(5L, page.getLong("offset"));
          });
          return null;
        }))
      .onComplete(ctx.succeedingThenComplete());
  }
}
