package dev.parley.conformance;

import dev.parley.conformance.Wire.Answer;
import dev.parley.conformance.Wire.Ws;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The behaviours the official Engine.IO v4 conformance suite (socketio/engine.io-protocol
 * {@code test-suite/}) checks, against the echo endpoint of the {@link ConformanceServer}.
 */
@ExtendWith(VertxExtension.class)
@Timeout(value = 30, timeUnit = TimeUnit.SECONDS)
class EngineIoProtocolTest {

  private int port;
  private HttpClient http;

  @BeforeEach
  void start(Vertx vertx, VertxTestContext ctx) {
    http = vertx.createHttpClient();
    ConformanceServer server = new ConformanceServer(0);
    vertx.deployVerticle(server).compose(id -> {
      port = server.actualPort();
      // throwaway connections first (see SocketIoProtocolTest#warmUp)
      return Wire.warmUp(vertx, port, BASE + "websocket", 5);
    }).onComplete(ctx.succeedingThenComplete());
  }

  private static final String BASE = "/engine.io/?EIO=4&transport=";

  private Future<String> openPolling() {
    return Wire.get(http, port, BASE + "polling").map(a -> new JsonObject(a.body().substring(1)).getString("sid"));
  }

  private String poll(String sid) {
    return BASE + "polling&sid=" + sid;
  }

  @Test
  void pollingHandshake(VertxTestContext ctx) {
    Wire.get(http, port, BASE + "polling").onComplete(ctx.succeeding(a -> {
      ctx.verify(() -> {
        assertEquals(200, a.status());
        assertTrue(a.body().startsWith("0"));
        JsonObject open = new JsonObject(a.body().substring(1));
        assertEquals(Set.of("sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"), open.fieldNames());
        assertEquals(List.of("websocket"), open.getJsonArray("upgrades").getList());
        assertEquals(300, open.getInteger("pingInterval"));
        assertEquals(200, open.getInteger("pingTimeout"));
        assertEquals(1_000_000, open.getInteger("maxPayload"));
      });
      ctx.completeNow();
    }));
  }

  @Test
  void badHandshakesAre400(VertxTestContext ctx) {
    Future.all(List.of(
        Wire.get(http, port, "/engine.io/?transport=polling"),
        Wire.get(http, port, "/engine.io/?EIO=abc&transport=polling"),
        Wire.get(http, port, "/engine.io/?EIO=3&transport=polling"),
        Wire.get(http, port, "/engine.io/?EIO=4"),
        Wire.get(http, port, "/engine.io/?EIO=4&transport=abc"),
        Wire.post(http, port, BASE + "polling", ""),
        Wire.send(http, port, HttpMethod.PUT, BASE + "polling", ""),
        Wire.get(http, port, BASE + "polling&sid=unknown")))
      .onComplete(ctx.succeeding(all -> {
        ctx.verify(() -> {
          for (int i = 0; i < all.size(); i++) {
            Answer a = all.resultAt(i);
            assertEquals(400, a.status(), "request " + i + ": " + a.body());
            JsonObject error = new JsonObject(a.body());
            assertTrue(error.containsKey("code") && error.containsKey("message"), a.body());
          }
          assertEquals(5, new JsonObject(all.<Answer>resultAt(2).body()).getInteger("code"), "unsupported version");
          assertEquals(0, new JsonObject(all.<Answer>resultAt(4).body()).getInteger("code"), "transport unknown");
          assertEquals(2, new JsonObject(all.<Answer>resultAt(5).body()).getInteger("code"), "bad handshake method");
          assertEquals(1, new JsonObject(all.<Answer>resultAt(7).body()).getInteger("code"), "session id unknown");
        });
        ctx.completeNow();
      }));
  }

  @Test
  void webSocketHandshakeAndBadParameters(Vertx vertx, VertxTestContext ctx) {
    Ws.open(vertx, port, BASE + "websocket").compose(ws -> ws.nextText())
      .compose(open -> {
        ctx.verify(() -> {
          assertTrue(open.startsWith("0"));
          JsonObject o = new JsonObject(open.substring(1));
          assertEquals(List.of(), o.getJsonArray("upgrades").getList());
          assertEquals(300, o.getInteger("pingInterval"));
        });
        return Ws.open(vertx, port, "/engine.io/?transport=websocket").transform(ar -> {
          ctx.verify(() -> assertTrue(ar.failed(), "missing EIO refused"));
          return Ws.open(vertx, port, "/engine.io/?EIO=4&transport=abc");
        }).transform(ar -> {
          ctx.verify(() -> assertTrue(ar.failed(), "bad transport refused"));
          return Future.succeededFuture();
        });
      })
      .onComplete(ctx.succeedingThenComplete());
  }

  @Test
  void pollingCarriesTextSeveralPacketsAndBinary(VertxTestContext ctx) {
    openPolling().compose(sid -> Wire.post(http, port, poll(sid), "4hello")
        .compose(a -> {
          assertEquals(200, a.status());
          assertEquals("ok", a.body());
          return Wire.get(http, port, poll(sid));
        })
        .compose(a -> {
          assertEquals("4hello", a.body());
          return Wire.post(http, port, poll(sid), "4test1" + Wire.SEP + "4test2" + Wire.SEP + "4test3");
        })
        .compose(a -> Wire.get(http, port, poll(sid)))
        .compose(a -> {
          assertEquals("4test1" + Wire.SEP + "4test2" + Wire.SEP + "4test3", a.body());
          return Wire.post(http, port, poll(sid), "4hello" + Wire.SEP + "bAQIDBA==");
        })
        .compose(a -> Wire.get(http, port, poll(sid)))
        .map(a -> {
          assertEquals("4hello" + Wire.SEP + "bAQIDBA==", a.body());
          return null;
        }))
      .onComplete(ctx.succeedingThenComplete());
  }

  @Test
  void invalidPacketClosesThePollingSession(VertxTestContext ctx) {
    openPolling().compose(sid -> Wire.post(http, port, poll(sid), "abc")
        .compose(a -> {
          assertEquals(400, a.status());
          return Wire.get(http, port, poll(sid));
        }))
      .onComplete(ctx.succeeding(a -> {
        ctx.verify(() -> assertEquals(400, a.status(), "the session is gone"));
        ctx.completeNow();
      }));
  }

  @Test
  void duplicatePollClosesTheSession(VertxTestContext ctx) {
    openPolling().compose(sid -> {
        Future<Answer> first = Wire.get(http, port, poll(sid));
        // the second GET is sent once the first is waiting on the server
        return Wire.post(http, port, poll(sid), "6")
          .compose(x -> Future.all(first, Wire.get(http, port, poll(sid) + "&t=burst")))
          .compose(both -> {
            assertEquals(200, both.<Answer>resultAt(0).status());
            assertEquals("1", both.<Answer>resultAt(0).body());
            assertEquals(400, both.<Answer>resultAt(1).status());
            return Wire.get(http, port, poll(sid));
          });
      })
      .onComplete(ctx.succeeding(a -> {
        ctx.verify(() -> assertEquals(400, a.status()));
        ctx.completeNow();
      }));
  }

  @Test
  void webSocketCarriesTextAndBinaryAndClosesOnBadPackets(Vertx vertx, VertxTestContext ctx) {
    Ws.open(vertx, port, BASE + "websocket").compose(ws -> ws.nextText().compose(open -> {
        ws.send("4hello");
        return ws.nextText();
      }).compose(echo -> {
        assertEquals("4hello", echo);
        ws.send(Buffer.buffer(new byte[] {1, 2, 3, 4}));
        return ws.nextNotPing();
      }).compose(bin -> {
        assertInstanceOf(Buffer.class, bin);
        assertEquals(Buffer.buffer(new byte[] {1, 2, 3, 4}), bin);
        ws.send("abc");
        return ws.closed();
      }))
      .onComplete(ctx.succeedingThenComplete());
  }

  @Test
  void pollingHeartbeatAndPingTimeout(VertxTestContext ctx) {
    openPolling().compose(sid -> heartbeats(sid, 3)
        // now stay silent: the session must close after pingTimeout; the waiting poll learns it
        .compose(v -> Wire.get(http, port, poll(sid)))
        .compose(ping -> {
          assertEquals("2", ping.body());
          return Wire.get(http, port, poll(sid));
        })
        .compose(closing -> {
          assertEquals("1", closing.body(), "a pending poll ends with a close packet");
          return Wire.get(http, port, poll(sid));
        }))
      .onComplete(ctx.succeeding(a -> {
        ctx.verify(() -> assertEquals(400, a.status()));
        ctx.completeNow();
      }));
  }

  /** The server pings every pingInterval; answering keeps the session alive. */
  private Future<Void> heartbeats(String sid, int n) {
    if (n == 0) {
      return Future.succeededFuture();
    }
    return Wire.get(http, port, poll(sid)).compose(a -> {
      assertEquals("2", a.body());
      return Wire.post(http, port, poll(sid), "3");
    }).compose(a -> {
      assertEquals("ok", a.body());
      return heartbeats(sid, n - 1);
    });
  }

  @Test
  void webSocketHeartbeatAndPingTimeout(Vertx vertx, VertxTestContext ctx) {
    Ws.open(vertx, port, BASE + "websocket").compose(ws -> ws.next().compose(open -> wsHeartbeats(ws, 3))
        .compose(v -> ws.closed()))
      .onComplete(ctx.succeedingThenComplete());
  }

  private Future<Void> wsHeartbeats(Ws ws, int n) {
    if (n == 0) {
      return Future.succeededFuture();
    }
    return ws.next().compose(f -> {
      assertEquals("2", f);
      ws.send("3");
      return wsHeartbeats(ws, n - 1);
    });
  }

  @Test
  void clientCloseEndsTheSession(Vertx vertx, VertxTestContext ctx) {
    openPolling().compose(sid -> {
        Future<Answer> waiting = Wire.get(http, port, poll(sid));
        return Wire.post(http, port, poll(sid), "1").compose(x -> waiting).compose(a -> {
          assertEquals("6", a.body(), "the pending poll ends with a noop");
          return Wire.get(http, port, poll(sid));
        });
      })
      .compose(a -> {
        assertEquals(400, a.status());
        return Ws.open(vertx, port, BASE + "websocket");
      })
      .compose(ws -> ws.next().compose(open -> {
        ws.send("1");
        return ws.closed();
      }))
      .onComplete(ctx.succeedingThenComplete());
  }

  @Test
  void upgradeFromPollingToWebSocket(Vertx vertx, VertxTestContext ctx) {
    openPolling().compose(sid -> Ws.open(vertx, port, BASE + "websocket&sid=" + sid).compose(ws -> {
        ws.send("2probe");
        return ws.nextText().compose(probe -> {
          assertEquals("3probe", probe);
          return Wire.get(http, port, poll(sid));
        }).compose(a -> {
          assertEquals("6", a.body(), "a noop ends polling");
          ws.send("5");
          ws.send("4hello");
          return ws.nextText();
        }).compose(echo -> {
          assertEquals("4hello", echo);
          return Wire.get(http, port, poll(sid));
        }).compose(a -> {
          assertEquals(400, a.status(), "polling is over for this session");
          return Ws.open(vertx, port, BASE + "websocket&sid=" + sid);
        }).compose(second -> second.closed()).compose(v -> {
          ws.send("4still here");
          return ws.nextText();
        }).map(echo -> {
          assertEquals("4still here", echo, "a second WebSocket for the sid is refused, the first goes on");
          return null;
        });
      }))
      .onComplete(ctx.succeedingThenComplete());
  }

  /**
   * The official suite's variant: {@code 2probe} and {@code 5} sent back to back, then a poll at once,
   * without waiting for {@code 3probe}. The poll comes on another connection, which the server may read
   * first; it must still find the upgrade done. Twenty times, since it is about ordering.
   */
  @Test
  void aPollRightAfterTheUpgradeFramesIsRefused(Vertx vertx, VertxTestContext ctx) {
    Future<Void> runs = Future.succeededFuture();
    for (int i = 0; i < 20; i++) {
      runs = runs.compose(v -> openPolling().compose(sid -> Ws.open(vertx, port, BASE + "websocket&sid=" + sid).compose(ws -> {
        ws.send("2probe");
        ws.send("5");
        return Wire.get(http, port, poll(sid)).compose(a -> {
          assertEquals(400, a.status(), "polling is over once 5 was sent: " + a.body());
          ws.send("4hello");
          return ws.nextText().compose(probe -> ws.nextText());
        }).map(echo -> {
          assertEquals("4hello", echo);
          ws.socket.close();
          return null;
        });
      })));
    }
    runs.onComplete(ctx.succeedingThenComplete());
  }

  /**
   * The official suite's other variant: {@code 2probe} and {@code 5} back to back, then a second WebSocket
   * for the same sid at once. The second is refused, whether it reaches the session before or after the
   * first's frames, and the first goes on: {@code 3probe}, then the echo of what it sends next.
   */
  @Test
  void aSecondWebSocketRightAfterTheUpgradeFramesIsRefused(Vertx vertx, VertxTestContext ctx) {
    Future<Void> runs = Future.succeededFuture();
    for (int i = 0; i < 10; i++) {
      runs = runs.compose(v -> openPolling().compose(sid -> Ws.open(vertx, port, BASE + "websocket&sid=" + sid).compose(ws -> {
        ws.send("2probe");
        ws.send("5");
        return Ws.open(vertx, port, BASE + "websocket&sid=" + sid).compose(second -> second.closed()).compose(closed -> {
          ws.send("4hello");
          return ws.nextText();
        }).compose(probe -> {
          assertEquals("3probe", probe);
          return ws.nextText();
        }).map(echo -> {
          assertEquals("4hello", echo, "the first WebSocket carries the session");
          ws.socket.close();
          return null;
        });
      })));
    }
    runs.onComplete(ctx.succeedingThenComplete());
  }

  @Test
  void oversizedPollingPayloadIsRefused(VertxTestContext ctx) {
    openPolling().compose(sid -> Wire.post(http, port, poll(sid), "4" + "x".repeat(1_000_001)))
      .onComplete(ctx.succeeding(a -> {
        ctx.verify(() -> assertEquals(413, a.status()));
        ctx.completeNow();
      }));
  }
}
