package dev.parley;

import dev.parley.support.JarProcess;
import dev.parley.support.SockJsWsClient;
import dev.parley.support.WsClient;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** SIGTERM on the packaged jar: every client is told 1001 the way its transport can say it. */
@ExtendWith(VertxExtension.class)
@Timeout(value = 60, timeUnit = TimeUnit.SECONDS)
class GracefulStopIT {

  private JarProcess node;

  @BeforeAll
  static void jar() {
    assertTrue(JarProcess.jarBuilt(), "integration tests run after `mvn package`");
  }

  @AfterEach
  void stop() {
    if (node != null) {
      node.close();
    }
  }

  @Test
  void sigtermTellsWebSocketAndSockJsClients1001(Vertx vertx, VertxTestContext ctx) throws IOException {
    node = JarProcess.start("sigterm", List.of("-conf", "conf/config.json"), Map.of());
    node.ready(vertx, 30_000)
      .compose(n -> Future.all(WsClient.connect(vertx, n.port()), SockJsWsClient.connect(vertx, n.port())))
      .compose(all -> {
        WsClient ws = all.resultAt(0);
        SockJsWsClient sockjs = all.resultAt(1);
        return ws.join("bye", "ws").compose(p -> sockjs.join("bye", "sockjs")).compose(p -> {
          node.terminate();
          return Future.all(ws.closed(),
            sockjs.expect(f -> "close".equals(f.getString("type")), "the SockJS close notice", 15_000)
              .compose(notice -> sockjs.closed().map(notice)));
        });
      })
      .onComplete(ctx.succeeding(all -> ctx.verify(() -> {
        assertEquals(1001, (Integer) all.resultAt(0), "/ws close code");
        assertEquals(1001, ((io.vertx.core.json.JsonObject) all.resultAt(1)).getInteger("code"), "SockJS close notice");
        ctx.completeNow();
      })));
  }
}
