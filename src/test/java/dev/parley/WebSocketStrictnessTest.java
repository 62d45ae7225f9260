package dev.parley;

import dev.parley.support.RawWsClient;
import dev.parley.support.TestServer;
import io.vertx.core.Vertx;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** RFC 6455 strictness on {@code /ws}: invalid UTF-8 in a text frame closes with 1007, RSV bits without an extension with 1002. */
@ExtendWith(VertxExtension.class)
@Timeout(value = 30, timeUnit = TimeUnit.SECONDS)
class WebSocketStrictnessTest {

  @AfterEach
  void stop(Vertx vertx, VertxTestContext ctx) {
    TestServer.stop(vertx).onComplete(ar -> ctx.completeNow());
  }

  @Test
  void invalidUtf8ClosesWith1007(Vertx vertx, VertxTestContext ctx) {
    TestServer.start(vertx).compose(port -> RawWsClient.connect(vertx, port)).compose(c -> {
      c.sendFrame(0x1, new byte[] {'{', (byte) 0xC3, (byte) 0x28, '}'});
      return c.closed();
    }).onComplete(ctx.succeeding(code -> ctx.verify(() -> {
      assertEquals(1007, code);
      ctx.completeNow();
    })));
  }

  @Test
  void reservedBitsWithoutAnExtensionCloseWith1002(Vertx vertx, VertxTestContext ctx) {
    TestServer.start(vertx).compose(port -> RawWsClient.connect(vertx, port)).compose(c -> {
      c.sendFrameRaw(true, 0x40 | 0x1, "{\"type\":\"ping\"}".getBytes()); // RSV1 set, no extension negotiated
      return c.closed();
    }).onComplete(ctx.succeeding(code -> ctx.verify(() -> {
      assertEquals(1002, code);
      ctx.completeNow();
    })));
  }
}
