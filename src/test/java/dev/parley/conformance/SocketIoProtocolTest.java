package dev.parley.conformance;

import dev.parley.conformance.Wire.Ws;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The behaviours the official Socket.IO v5 conformance suite (socketio/socket.io-protocol
 * {@code test-suite/}) checks, against the {@link ConformanceServer}'s handlers.
 */
@ExtendWith(VertxExtension.class)
@Timeout(value = 30, timeUnit = TimeUnit.SECONDS)
class SocketIoProtocolTest {

  private static final String WS = "/socket.io/?EIO=4&transport=websocket";
  private int port;

  @BeforeEach
  void start(Vertx vertx, VertxTestContext ctx) {
    ConformanceServer server = new ConformanceServer(0);
    vertx.deployVerticle(server).compose(id -> {
      port = server.actualPort();
      return warmUp(vertx);
    }).onComplete(ctx.succeedingThenComplete());
  }

  /**
   * One throwaway connection first. The suites' 300 ms / 200 ms heartbeat is shorter than the first,
   * cold-JVM WebSocket handshake of the in-process client can take on a busy 2-core machine: without
   * this the very first test of a JVM may see its connection closed by a ping timeout mid-handshake.
   * Retried until one handshake completes (at most 5 times).
   */
  private Future<Void> warmUp(Vertx vertx) {
    return Wire.warmUp(vertx, port, WS, 5);
  }

  /** Engine.IO open, then CONNECT to the main namespace; past the handshake and the "auth" event. */
  private Future<Ws> connected(Vertx vertx) {
    return Ws.open(vertx, port, WS).compose(ws -> ws.nextText().compose(open -> {
      ws.send("40");
      return ws.nextText();
    }).compose(connect -> ws.nextText()).map(auth -> ws));
  }

  @Test
  void connectToTheMainNamespaceWithAndWithoutPayload(Vertx vertx, VertxTestContext ctx) {
    Ws.open(vertx, port, WS).compose(ws -> ws.nextText().compose(open -> {
        ws.send("40");
        return ws.nextText();
      }).compose(connect -> {
        assertTrue(connect.startsWith("40"));
        assertEquals(Set.of("sid"), new JsonObject(connect.substring(2)).fieldNames());
        return ws.nextText();
      }).map(auth -> {
        assertEquals("42[\"auth\",{}]", auth);
        return null;
      }))
      .compose(v -> Ws.open(vertx, port, WS))
      .compose(ws -> ws.nextText().compose(open -> {
        ws.send("40{\"token\":\"123\"}");
        return ws.nextText();
      }).compose(connect -> ws.nextText()).map(auth -> {
        assertEquals("42[\"auth\",{\"token\":\"123\"}]", auth);
        return null;
      }))
      .onComplete(ctx.succeedingThenComplete());
  }

  @Test
  void connectToACustomNamespace(Vertx vertx, VertxTestContext ctx) {
    Ws.open(vertx, port, WS).compose(ws -> ws.nextText().compose(open -> {
        ws.send("40/custom,");
        return ws.nextText();
      }).compose(connect -> {
        assertTrue(connect.startsWith("40/custom,"), connect);
        assertEquals(Set.of("sid"), new JsonObject(connect.substring(10)).fieldNames());
        return ws.nextText();
      }).compose(auth -> {
        assertEquals("42/custom,[\"auth\",{}]", auth);
        ws.send("40/custom,{\"token\":\"abc\"}");
        return Future.succeededFuture();
      }))
      .compose(v -> Ws.open(vertx, port, WS))
      .compose(ws -> ws.nextText().compose(open -> {
        ws.send("40/custom,{\"token\":\"abc\"}");
        return ws.nextText();
      }).compose(connect -> ws.nextText()).map(auth -> {
        assertEquals("42/custom,[\"auth\",{\"token\":\"abc\"}]", auth);
        return null;
      }))
      .onComplete(ctx.succeedingThenComplete());
  }

  @Test
  void unknownNamespaceAndInvalidHandshake(Vertx vertx, VertxTestContext ctx) {
    Ws.open(vertx, port, WS).compose(ws -> ws.nextText().compose(open -> {
        ws.send("40/random");
        return ws.nextText();
      }).map(error -> {
        assertEquals("44/random,{\"message\":\"Invalid namespace\"}", error);
        return null;
      }))
      .compose(v -> Ws.open(vertx, port, WS))
      .compose(ws -> ws.nextText().compose(open -> {
        ws.send("4abc");
        return ws.closed();
      }))
      .onComplete(ctx.succeedingThenComplete());
  }

  @Test
  void connectTimeoutClosesTheConnection(Vertx vertx, VertxTestContext ctx) {
    long start = System.nanoTime();
    // answering pings, so only the connect timeout can end it
    Ws.open(vertx, port, WS).compose(ws -> ws.autoPong().closed())
      .onComplete(ctx.succeeding(v -> {
        long ms = (System.nanoTime() - start) / 1_000_000;
        ctx.verify(() -> assertTrue(ms >= 900, "closed after the 1 s connect timeout, not before: " + ms));
        ctx.completeNow();
      }));
  }

  @Test
  void disconnectFromMainKeepsTheConnectionAndFromCustomKeepsMain(Vertx vertx, VertxTestContext ctx) {
    // after 41 the Engine.IO connection stays open and goes on pinging, as the reference server does;
    // the client may connect the namespace again
    connected(vertx).compose(ws -> {
        ws.autoPong();
        ws.send("41");
        // several heartbeats (300 ms + 200 ms) later the connection is still there
        io.vertx.core.Promise<Void> later = io.vertx.core.Promise.promise();
        vertx.setTimer(1_200, t -> later.complete());
        return later.future().compose(v -> {
          ws.send("40");
          return ws.nextText();
        }).map(again -> {
          assertTrue(again.startsWith("40{\"sid\":"), "connected again: " + again);
          ws.socket.close();
          return null;
        });
      })
      .compose(v -> connected(vertx))
      .compose(ws -> {
        ws.send("40/custom");
        return ws.nextText().compose(c -> ws.nextText()).compose(auth -> {
          ws.send("41/custom");
          ws.send("42[\"message\",\"message to main namespace\"]");
          return ws.nextText();
        });
      })
      .onComplete(ctx.succeeding(back -> {
        ctx.verify(() -> assertEquals("42[\"message-back\",\"message to main namespace\"]", back));
        ctx.completeNow();
      }));
  }

  @Test
  void plainAndBinaryEvents(Vertx vertx, VertxTestContext ctx) {
    connected(vertx).compose(ws -> {
        ws.send("42[\"message\",1,\"2\",{\"3\":[true]}]");
        return ws.nextText().compose(back -> {
          assertEquals("42[\"message-back\",1,\"2\",{\"3\":[true]}]", back);
          ws.send("452-[\"message\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]");
          ws.send(Buffer.buffer(new byte[] {1, 2, 3}));
          ws.send(Buffer.buffer(new byte[] {4, 5, 6}));
          return ws.nextText();
        }).compose(header -> {
          assertEquals("452-[\"message-back\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]", header);
          return ws.nextNotPing();
        }).compose(first -> {
          assertEquals(Buffer.buffer(new byte[] {1, 2, 3}), first);
          return ws.nextNotPing();
        }).map(second -> {
          assertEquals(Buffer.buffer(new byte[] {4, 5, 6}), second);
          return null;
        });
      })
      .onComplete(ctx.succeedingThenComplete());
  }

  @Test
  void acksPlainAndBinary(Vertx vertx, VertxTestContext ctx) {
    connected(vertx).compose(ws -> {
        ws.send("42456[\"message-with-ack\",1,\"2\",{\"3\":[false]}]");
        return ws.nextText().compose(ack -> {
          assertEquals("43456[1,\"2\",{\"3\":[false]}]", ack);
          ws.send("452-789[\"message-with-ack\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]");
          ws.send(Buffer.buffer(new byte[] {1, 2, 3}));
          ws.send(Buffer.buffer(new byte[] {4, 5, 6}));
          return ws.nextText();
        }).compose(header -> {
          assertEquals("462-789[{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]", header);
          return ws.nextNotPing();
        }).compose(first -> {
          assertEquals(Buffer.buffer(new byte[] {1, 2, 3}), first);
          return ws.nextNotPing();
        }).map(second -> {
          assertEquals(Buffer.buffer(new byte[] {4, 5, 6}), second);
          return null;
        });
      })
      .onComplete(ctx.succeedingThenComplete());
  }

  @Test
  void malformedPacketsCloseTheConnection(Vertx vertx, VertxTestContext ctx) {
    connected(vertx).compose(ws -> {
        ws.send("42{\"not\":\"an array\"}");
        return ws.closed();
      })
      .compose(v -> connected(vertx))
      .compose(ws -> {
        ws.send("42[\"message\"");
        return ws.closed();
      })
      .compose(v -> connected(vertx))
      .compose(ws -> {
        ws.send("49");
        return ws.closed();
      })
      .compose(v -> connected(vertx))
      .compose(ws -> {
        ws.send(Buffer.buffer(new byte[] {9}));
        return ws.closed();
      })
      .onComplete(ctx.succeedingThenComplete());
  }
}
