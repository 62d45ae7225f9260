package dev.parley;

import dev.parley.support.RawWsClient;
import dev.parley.support.TestServer;
import dev.parley.support.WsClient;
import io.vertx.core.Future;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.Vertx;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * RFC 6455 on {@code /ws}: invalid UTF-8 in a text frame closes with 1007, RSV bits without an extension with
 * 1002, and a close code reaches a client that is still sending.
 */
@ExtendWith(VertxExtension.class)
@Timeout(value = 60, timeUnit = TimeUnit.SECONDS)
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

  /**
   * A close code must reach the peer (RFC 6455 section 7): a client still sending a 2.2 MB frame when the
   * server refuses it learns 1009, not an abrupt 1006. Ten clients, since it is about timing.
   */
  @Test
  void aHugeFrameIsAnsweredWith1009ThatTheClientReceives(Vertx vertx, VertxTestContext ctx) {
    String huge = "{\"type\":\"ping\",\"pad\":\"" + "x".repeat(2_200_000) + "\"}";
    TestServer.start(vertx).compose(port -> {
      List<Future<Integer>> codes = new ArrayList<>();
      Future<Void> chain = Future.succeededFuture();
      for (int i = 0; i < 10; i++) {
        chain = chain.compose(v -> WsClient.connect(vertx, port, new WebSocketConnectOptions()).compose(c -> {
          c.sendText(huge);
          Future<Integer> code = c.closed();
          codes.add(code);
          return code.mapEmpty();
        }));
      }
      return chain.map(v -> codes);
    }).onComplete(ctx.succeeding(codes -> ctx.verify(() -> {
      List<Integer> got = codes.stream().map(Future::result).toList();
      assertEquals(java.util.Collections.nCopies(10, 1009), got);
      ctx.completeNow();
    })));
  }
}
