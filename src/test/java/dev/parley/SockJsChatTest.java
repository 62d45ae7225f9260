package dev.parley;

import dev.parley.support.SockJsWsClient;
import dev.parley.support.SockJsXhrClient;
import dev.parley.support.TestClient;
import dev.parley.support.TestServer;
import dev.parley.support.WsClient;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.concurrent.TimeUnit;
import java.util.function.BiFunction;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The native protocol over SockJS at {@code /sockjs}, each real transport chatting with a raw
 * WebSocket client in the same room.
 */
@ExtendWith(VertxExtension.class)
@Timeout(value = 30, timeUnit = TimeUnit.SECONDS)
class SockJsChatTest {

  private int port;

  @BeforeEach
  void start(Vertx vertx, VertxTestContext ctx) {
    // A polling client that goes away between two polls is noticed only when its session times out: 3 s,
    // short for the tests that wait for it, long enough that a live client's next poll is never late (1 s
    // lost a session once on a loaded machine)
    JsonObject cfg = new JsonObject().put("sockjs", new JsonObject().put("sessionTimeoutMs", 3_000));
    TestServer.start(vertx, cfg, 1).onComplete(ctx.succeeding(p -> {
      port = p;
      ctx.completeNow();
    }));
  }

  @AfterEach
  void stop(Vertx vertx, VertxTestContext ctx) {
    TestServer.stop(vertx).onComplete(ctx.succeedingThenComplete());
  }

  @Test
  void websocketTransportChatsWithWs(Vertx vertx, VertxTestContext ctx) {
    chatBothWays(vertx, ctx, (v, p) -> SockJsWsClient.connect(v, p).map(c -> c));
  }

  @Test
  void xhrPollingChatsWithWs(Vertx vertx, VertxTestContext ctx) {
    chatBothWays(vertx, ctx, (v, p) -> SockJsXhrClient.polling(v, p).map(c -> c));
  }

  @Test
  void xhrStreamingChatsWithWs(Vertx vertx, VertxTestContext ctx) {
    chatBothWays(vertx, ctx, (v, p) -> SockJsXhrClient.streaming(v, p).map(c -> c));
  }

  @Test
  void eventSourceChatsWithWs(Vertx vertx, VertxTestContext ctx) {
    chatBothWays(vertx, ctx, (v, p) -> SockJsXhrClient.connect(v, p, SockJsXhrClient.Mode.EVENTSOURCE).map(c -> c));
  }

  @Test
  void htmlFileChatsWithWs(Vertx vertx, VertxTestContext ctx) {
    chatBothWays(vertx, ctx, (v, p) -> SockJsXhrClient.connect(v, p, SockJsXhrClient.Mode.HTMLFILE).map(c -> c));
  }

  @Test
  void jsonpPollingChatsWithWs(Vertx vertx, VertxTestContext ctx) {
    chatBothWays(vertx, ctx, (v, p) -> SockJsXhrClient.connect(v, p, SockJsXhrClient.Mode.JSONP_POLLING).map(c -> c));
  }

  @Test
  void concurrentHttpTransportSessionsAreDistinct(Vertx vertx, VertxTestContext ctx) {
    // Regression: an earlier pathRegex route set "param0", which SockJS reads as the session id, so
    // every HTTP-transport session got the same id and two at once broke each other.
    TestClient[] c = new TestClient[3];
    Future.all(SockJsXhrClient.streaming(vertx, port), SockJsXhrClient.polling(vertx, port),
        SockJsXhrClient.connect(vertx, port, SockJsXhrClient.Mode.EVENTSOURCE))
      .compose(all -> {
        for (int i = 0; i < 3; i++) {
          c[i] = all.resultAt(i);
        }
        ctx.verify(() -> {
          assertEquals(3, java.util.Set.of(c[0].session(), c[1].session(), c[2].session()).size());
        });
        return c[0].join("twins", "one").compose(v -> c[1].join("twins", "two")).compose(v -> c[2].join("twins", "three"));
      })
      .compose(presence -> {
        ctx.verify(() -> assertEquals(3, presence.getJsonArray("members").size()));
        return c[0].publish("twins", "hello twins");
      })
      .compose(v -> Future.all(c[1].expect(f -> "hello twins".equals(f.getString("text")), "at two"),
        c[2].expect(f -> "hello twins".equals(f.getString("text")), "at three")))
      .onComplete(ctx.succeedingThenComplete());
  }

  private void chatBothWays(Vertx vertx, VertxTestContext ctx, BiFunction<Vertx, Integer, Future<TestClient>> connect) {
    TestClient[] c = new TestClient[2];
    Future.all(connect.apply(vertx, port), WsClient.connect(vertx, port))
      .compose(all -> {
        c[0] = all.resultAt(0);
        c[1] = all.resultAt(1);
        return c[0].join("mixed", "sockjs-user");
      })
      .compose(v -> c[1].join("mixed", "ws-user"))
      .compose(presence -> {
        ctx.verify(() -> assertEquals(2, presence.getJsonArray("members").size()));
        return c[0].expect(f -> "joined".equals(f.getString("type")) && "ws-user".equals(f.getString("name")), "ws joined");
      })
      .compose(v -> c[0].publish("mixed", "from sockjs"))
      .compose(v -> c[1].expect(f -> "from sockjs".equals(f.getString("text")), "message from sockjs"))
      .compose(v -> c[1].publish("mixed", "from ws"))
      .compose(v -> c[0].expect(f -> "from ws".equals(f.getString("text")), "message from ws"))
      .compose(m -> {
        ctx.verify(() -> assertEquals("ws-user", m.getString("name")));
        // errors come back over SockJS too
        c[0].send(new JsonObject().put("type", "publish").put("room", "elsewhere").put("text", "x").put("ref", "e1"));
        return c[0].reply("e1");
      })
      .compose(err -> {
        ctx.verify(() -> assertEquals("not_joined", err.getString("code")));
        c[0].close();
        return c[1].expect(f -> "left".equals(f.getString("type")) && "mixed".equals(f.getString("room")), "left in mixed", 10_000);
      })
      .onComplete(ctx.succeeding(left -> {
        ctx.verify(() -> assertEquals("sockjs-user", left.getString("name")));
        ctx.completeNow();
      }));
  }

  @Test
  void oversizedSockJsMessageClosesWith1009(Vertx vertx, VertxTestContext ctx) {
    vertx.undeploy(vertx.deploymentIDs().iterator().next())
      .compose(v -> TestServer.start(vertx, new JsonObject().put("limits",
        new JsonObject().put("maxFrameBytes", 1024).put("maxTextLength", 512)), 1))
      .compose(p -> SockJsWsClient.connect(vertx, p))
      .compose(c -> {
        c.sendText("{\"type\":\"ping\",\"pad\":\"" + "z".repeat(2000) + "\"}");
        return c.expect("close").compose(notice -> c.closed().map(transportCode -> notice));
      })
      .onComplete(ctx.succeeding(notice -> {
        ctx.verify(() -> assertEquals(1009, notice.getInteger("code")));
        ctx.completeNow();
      }));
  }

  @Test
  void aSendBodyWithANonStringElementIsRefusedWholeAndTheSessionCarriesOn(Vertx vertx, VertxTestContext ctx) {
    Future.all(SockJsXhrClient.polling(vertx, port), WsClient.connect(vertx, port))
      .compose(all -> {
        SockJsXhrClient x = all.resultAt(0);
        WsClient w = all.resultAt(1);
        String publish = new JsonObject().put("type", "publish").put("room", "bodies").put("text", "half of a bad body").encode();
        io.vertx.core.http.HttpClient raw = vertx.createHttpClient();
        return x.join("bodies", "xavier").compose(p -> w.join("bodies", "wendy"))
          .compose(p -> raw.request(HttpMethod.POST, port, "127.0.0.1", x.base() + "/xhr_send")
            .compose(req -> req.send(new JsonArray().add(publish).addNull().encode()))
            .compose(resp -> resp.body().map(body -> {
              ctx.verify(() -> {
                assertEquals(500, resp.statusCode());
                assertTrue(body.toString().contains("array of strings"), body.toString());
              });
              return null;
            })))
          .compose(v -> x.publish("bodies", "after the bad body"))
          .compose(ack -> w.expect(f -> "message".equals(f.getString("type")) && "xavier".equals(f.getString("name")),
            "xavier's next message"))
          .map(m -> {
            ctx.verify(() -> assertEquals("after the bad body", m.getString("text"), "nothing of the refused body was delivered"));
            return null;
          })
          .eventually(raw::close);
      }).onComplete(ctx.succeedingThenComplete());
  }

  @Test
  void jsonpSendCarriesAMessageOfTheFullTextLength(Vertx vertx, VertxTestContext ctx) {
    // every character is two UTF-8 bytes and six once URL-encoded: far past Vert.x's default form field limit
    String text = "é".repeat(4000);
    Future.all(SockJsXhrClient.connect(vertx, port, SockJsXhrClient.Mode.JSONP_POLLING), WsClient.connect(vertx, port))
      .compose(all -> {
        SockJsXhrClient x = all.resultAt(0);
        WsClient w = all.resultAt(1);
        return x.join("long-jsonp", "xavier").compose(p -> w.join("long-jsonp", "wendy"))
          .compose(p -> x.publish("long-jsonp", text))
          .compose(ack -> {
            ctx.verify(() -> assertEquals("ack", ack.getString("type"), ack.encode()));
            return w.expect(f -> text.equals(f.getString("text")), "the long message");
          });
      }).onComplete(ctx.succeedingThenComplete());
  }
}
