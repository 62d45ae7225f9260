package dev.parley;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.parley.support.BridgeClient;
import dev.parley.support.TestServer;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.slf4j.LoggerFactory;

import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Bad client input is the client's problem, not the log's: thousands of malformed bridge frames (headers
 * that are not an object, unknown types, arrays, addresses that are not strings) write almost nothing to
 * the server log and no stack trace, and the socket still works afterwards.
 */
@ExtendWith(VertxExtension.class)
@Timeout(value = 30, timeUnit = TimeUnit.SECONDS)
class BridgeLogFloodTest {

  private final ListAppender<ILoggingEvent> log = new ListAppender<>();
  private final Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);

  @BeforeEach
  void capture() {
    log.start();
    root.addAppender(log);
  }

  @AfterEach
  void release(Vertx vertx, VertxTestContext ctx) {
    root.detachAppender(log);
    TestServer.stop(vertx).onComplete(ar -> ctx.completeNow());
  }

  @Test
  void malformedBridgeFramesDoNotFloodTheLog(Vertx vertx, VertxTestContext ctx) {
    TestServer.start(vertx).compose(port -> BridgeClient.open(vertx, port)).compose(c -> {
      int before = log.list.size();
      for (int i = 0; i < 750; i++) {
        c.sendText("{\"type\":\"send\",\"address\":\"parley.join\",\"headers\":\"x\",\"body\":{}}");
        c.sendText("{\"type\":5}");
        c.sendText("[1,2]");
        c.sendText("{\"type\":\"register\",\"address\":7}");
      }
      return c.request("parley.join", new JsonObject().put("room", "after").put("name", "still-ok")).map(reply -> {
        int lines = log.list.size() - before;
        ctx.verify(() -> {
          assertEquals("rec", reply.getString("type"), "the socket still works: " + reply);
          assertTrue(lines <= 10, lines + " log lines for 3000 bad frames: " + log.list);
          assertTrue(log.list.stream().allMatch(e -> e.getThrowableProxy() == null), "no stack traces");
        });
        return null;
      });
    }).onComplete(ctx.succeedingThenComplete());
  }
}
