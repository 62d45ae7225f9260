package dev.parley;

import dev.parley.support.RawWsClient;
import dev.parley.support.SockJsWsClient;
import dev.parley.support.TestServer;
import dev.parley.support.WsClient;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What happens to a connection that breaks a limit: too big, silent, too slow, one too many. */
@ExtendWith(VertxExtension.class)
@Timeout(value = 60, timeUnit = TimeUnit.SECONDS)
class ConnectionLimitsTest {

  @Test
  void oversizedFrameClosesWith1009AndOthersCarryOn(Vertx vertx, VertxTestContext ctx) {
    JsonObject cfg = new JsonObject().put("limits", new JsonObject().put("maxFrameBytes", 1024).put("maxTextLength", 512));
    TestServer.start(vertx, cfg, 1).compose(port -> Future.all(RawWsClient.connect(vertx, port), WsClient.connect(vertx, port))
      .compose(all -> {
        RawWsClient big = all.resultAt(0);
        WsClient other = all.resultAt(1);
        return big.join("room", "big").compose(v -> other.join("room", "other")).compose(v -> {
          String text = "x".repeat(2000);
          big.sendText(new JsonObject().put("type", "publish").put("room", "room").put("text", text).encode());
          return big.closed();
        }).compose(code -> {
          ctx.verify(() -> assertEquals(1009, code));
          return other.expect("left", "room");
        }).compose(left -> {
          ctx.verify(() -> assertEquals(big.session(), left.getString("session")));
          return other.publish("room", "still fine");
        });
      }))
      .onComplete(ctx.succeeding(ack -> {
        ctx.verify(() -> assertEquals("ack", ack.getString("type")));
        ctx.completeNow();
      }));
  }

  @Test
  void fragmentedMessageOverTheLimitClosesWith1009(Vertx vertx, VertxTestContext ctx) {
    JsonObject cfg = new JsonObject().put("limits", new JsonObject().put("maxFrameBytes", 1024).put("maxTextLength", 512));
    TestServer.start(vertx, cfg, 1).compose(port -> RawWsClient.connect(vertx, port)).compose(c -> {
      // three 600-byte fragments of one text message: each frame fits, the message does not
      byte[] part = "x".repeat(600).getBytes(StandardCharsets.UTF_8);
      c.sendFrameRaw(false, 0x1, part);
      c.sendFrameRaw(false, 0x0, part);
      c.sendFrameRaw(true, 0x0, part);
      return c.closed();
    }).onComplete(ctx.succeeding(code -> {
      ctx.verify(() -> assertEquals(1009, code));
      ctx.completeNow();
    }));
  }

  @Test
  void silentPeerIsClosedByHeartbeatAndAnnouncedLeft(Vertx vertx, VertxTestContext ctx) {
    JsonObject cfg = new JsonObject().put("heartbeat", new JsonObject().put("intervalMs", 100).put("timeoutMs", 300));
    TestServer.start(vertx, cfg, 1).compose(port -> Future.all(RawWsClient.connect(vertx, port), RawWsClient.connect(vertx, port))
      .compose(all -> {
        RawWsClient dead = all.resultAt(0);
        RawWsClient alive = all.resultAt(1);
        long start = System.nanoTime();
        return dead.join("hb", "dead").compose(v -> alive.join("hb", "alive")).compose(v -> {
          dead.silent();
          return alive.expect("left", "hb");
        }).compose(left -> {
          long elapsedMs = (System.nanoTime() - start) / 1_000_000;
          ctx.verify(() -> {
            assertEquals(dead.session(), left.getString("session"));
            assertTrue(elapsedMs >= 300, "closed only after the timeout: " + elapsedMs + " ms");
            assertTrue(dead.pings() >= 1, "the server pinged first");
          });
          return dead.closed();
        }).compose(code -> {
          ctx.verify(() -> assertEquals(4000, code));
          // the peer that answers pings has outlived several heartbeat periods and still chats
          ctx.verify(() -> assertTrue(alive.pings() >= 2, "alive was pinged " + alive.pings() + " times"));
          return alive.publish("hb", "still here");
        });
      }))
      .onComplete(ctx.succeeding(ack -> {
        ctx.verify(() -> assertEquals("ack", ack.getString("type")));
        ctx.completeNow();
      }));
  }

  @Test
  void slowConsumerIsClosedWhileOthersReceiveEverything(Vertx vertx, VertxTestContext ctx) {
    // 2500 x 32 KB = 80 MB: more than the loopback socket buffers of the stalled client (the receive
    // buffer autotunes up to 32 MB here) plus its 1 MB outbound queue, so the server must give up on it;
    // the fast reader must get every message.
    int messages = 2500;
    String text = "y".repeat(32_000);
    JsonObject cfg = new JsonObject().put("limits", new JsonObject()
      .put("outboundQueueBytes", 1 << 20).put("maxTextLength", 32_000).put("maxFrameBytes", 65_536));
    boolean[] slowLeft = {false};
    TestServer.start(vertx, cfg, 1).compose(port -> Future.all(WsClient.connect(vertx, port), WsClient.connect(vertx, port),
        WsClient.connect(vertx, port))
      .compose(all -> {
        WsClient slow = all.resultAt(0);
        WsClient fast = all.resultAt(1);
        WsClient publisher = all.resultAt(2);
        return slow.join("flood", "slow").compose(v -> fast.join("flood", "fast"))
          .compose(v -> publisher.join("flood", "pub"))
          .compose(v -> {
            slow.socket().pause(); // stops reading: the server's queue for it fills up
            // The publisher sends in batches and waits until the fast reader has the whole batch, so
            // the fast reader is never more than one batch (640 KB) behind: it must never be dropped.
            int batch = 20;
            Promise<Integer> received = Promise.promise();
            int[] count = {0};
            fast.socket().textMessageHandler(frame -> {
              if (frame.startsWith("{\"type\":\"message\"")) {
                count[0]++;
                String mid = new JsonObject(frame).getString("id");
                String id = mid.substring(mid.lastIndexOf('-') + 1);
                if (Long.parseLong(id, 36) != count[0] || frame.length() < text.length()) {
                  received.tryFail("message " + count[0] + " arrived out of order or altered: id " + id);
                } else if (count[0] == messages) {
                  received.tryComplete(count[0]);
                } else if (count[0] % batch == 0) {
                  sendBatch(publisher, text, batch);
                }
              } else if (frame.startsWith("{\"type\":\"left\"") && frame.contains(slow.session())) {
                slowLeft[0] = true;
              }
            });
            fast.socket().closeHandler(x -> received.tryFail("the fast reader was closed: " + fast.socket().closeStatusCode()));
            publisher.socket().textMessageHandler(frame -> { });
            publisher.socket().closeHandler(x -> received.tryFail("the publisher was closed: " + publisher.socket().closeStatusCode()));
            sendBatch(publisher, text, batch);
            return received.future();
          })
          .compose(n -> {
            ctx.verify(() -> assertTrue(slowLeft[0], "the slow consumer was dropped and announced left"));
            slow.socket().resume();
            return slow.closed();
          });
      }))
      .onComplete(ctx.succeeding(code -> {
        ctx.verify(() -> assertEquals(4001, code));
        ctx.completeNow();
      }));
  }

  @Test
  void underMemoryPressureBackloggedConnectionsAreShed(Vertx vertx, VertxTestContext ctx) {
    // outboundMemoryBytes 1: the node is always "under pressure", so any connection with more than
    // 64 KB waiting is shed, long before its own 8 MB queue bound; readers that keep up are not.
    int messages = 5_000;
    String text = "z".repeat(1_000);
    JsonObject cfg = new JsonObject().put("limits", new JsonObject()
      .put("outboundQueueBytes", 8 << 20).put("outboundMemoryBytes", 1).put("maxTextLength", 1_000));
    TestServer.start(vertx, cfg, 1).compose(port -> Future.all(WsClient.connect(vertx, port), WsClient.connect(vertx, port),
        WsClient.connect(vertx, port))
      .compose(all -> {
        WsClient slow = all.resultAt(0);
        WsClient fast = all.resultAt(1);
        WsClient publisher = all.resultAt(2);
        return slow.join("mem", "slow").compose(v -> fast.join("mem", "fast")).compose(v -> publisher.join("mem", "pub"))
          .compose(v -> {
            slow.socket().pause();
            Promise<Void> done = Promise.promise();
            int[] count = {0};
            boolean[] slowLeft = {false};
            fast.socket().textMessageHandler(frame -> {
              if (frame.startsWith("{\"type\":\"message\"")) {
                if (++count[0] == messages) {
                  if (slowLeft[0]) {
                    done.tryComplete();
                  } else {
                    done.tryFail("all delivered but the stalled reader was never shed");
                  }
                } else if (count[0] % 10 == 0) {
                  sendBatch(publisher, "mem", text, 10);
                }
              } else if (frame.startsWith("{\"type\":\"left\"") && frame.contains(slow.session())) {
                slowLeft[0] = true;
              }
            });
            fast.socket().closeHandler(x -> done.tryFail("the reader that keeps up was shed"));
            publisher.socket().textMessageHandler(frame -> { });
            publisher.socket().closeHandler(x -> done.tryFail("the publisher was shed"));
            sendBatch(publisher, "mem", text, 10);
            return done.future().compose(x -> {
              slow.socket().resume();
              return slow.closed();
            });
          });
      }))
      .onComplete(ctx.succeeding(code -> {
        ctx.verify(() -> assertEquals(4001, code));
        ctx.completeNow();
      }));
  }

  @Test
  void bigRoomsStopAnnouncingJoinsAndLeaves(Vertx vertx, VertxTestContext ctx) {
    // maxAnnouncedRoomSize 2: the third member's join is not announced, a leave back to 2 is
    TestServer.start(vertx, new JsonObject().put("limits", new JsonObject().put("maxAnnouncedRoomSize", 2)), 1)
      .compose(p -> Future.all(WsClient.connect(vertx, p), WsClient.connect(vertx, p), WsClient.connect(vertx, p)))
      .compose(all -> {
        WsClient a = all.resultAt(0);
        WsClient b = all.resultAt(1);
        WsClient c = all.resultAt(2);
        return a.join("big", "a").compose(v -> b.join("big", "b"))
          .compose(v -> a.expect(f -> "joined".equals(f.getString("type")) && "b".equals(f.getString("name")), "b announced"))
          .compose(v -> c.join("big", "c")) // c still gets its own joined, then presence with everyone
          .compose(presence -> {
            ctx.verify(() -> assertEquals(3, presence.getJsonArray("members").size()));
            b.close();
            return a.expect(f -> "left".equals(f.getString("type")) && "b".equals(f.getString("name")), "b left announced");
          })
          .compose(v -> a.unread())
          .map(unread -> {
            ctx.verify(() -> assertTrue(unread.stream().noneMatch(f -> "joined".equals(f.getString("type"))
              && "c".equals(f.getString("name"))), "c's join was not announced: " + unread));
            return null;
          });
      })
      .onComplete(ctx.succeedingThenComplete());
  }

  @Test
  void bigRoomPresenceListsTheFirstMembersAndTheTotal(Vertx vertx, VertxTestContext ctx) {
    // maxPresenceMembers 2: the third joiner gets two members and total 3; below the cap there is no total
    TestServer.start(vertx, new JsonObject().put("limits", new JsonObject().put("maxPresenceMembers", 2)), 1)
      .compose(p -> Future.all(WsClient.connect(vertx, p), WsClient.connect(vertx, p), WsClient.connect(vertx, p)))
      .compose(all -> {
        WsClient a = all.resultAt(0);
        WsClient b = all.resultAt(1);
        WsClient c = all.resultAt(2);
        return a.join("crowd", "a").compose(v -> b.join("crowd", "b"))
          .compose(presence -> {
            ctx.verify(() -> {
              assertEquals(2, presence.getJsonArray("members").size());
              assertTrue(!presence.containsKey("total"), "a complete list has no total: " + presence);
            });
            return c.join("crowd", "c");
          })
          .map(presence -> {
            ctx.verify(() -> {
              assertEquals(2, presence.getJsonArray("members").size(), presence.encode());
              assertEquals(3, presence.getInteger("total"), presence.encode());
            });
            return null;
          });
      })
      .onComplete(ctx.succeedingThenComplete());
  }

  @Test
  void connectionsBeyondMaxAreRefused(Vertx vertx, VertxTestContext ctx) {
    JsonObject cfg = new JsonObject().put("http", new JsonObject().put("maxConnections", 2));
    TestServer.start(vertx, cfg, 1).compose(port -> Future.all(WsClient.connect(vertx, port), WsClient.connect(vertx, port))
      .compose(two -> WsClient.connect(vertx, port).transform(ar -> {
        ctx.verify(() -> assertTrue(ar.failed(), "third connection must be refused"));
        ctx.verify(() -> assertTrue(ar.cause().getMessage().contains("503"), ar.cause().getMessage()));
        // closing one makes room again
        ((WsClient) two.resultAt(0)).close();
        return ((WsClient) two.resultAt(0)).closed();
      }))
      .compose(v -> retry(() -> WsClient.connect(vertx, port), 50)))
      .onComplete(ctx.succeedingThenComplete());
  }

  @Test
  void aSockJsSessionBeyondMaxConnectionsIsToldWhyBeforeItCloses(Vertx vertx, VertxTestContext ctx) {
    JsonObject cfg = new JsonObject().put("http", new JsonObject().put("maxConnections", 1));
    TestServer.start(vertx, cfg, 1).compose(port -> WsClient.connect(vertx, port)
      .compose(first -> SockJsWsClient.openWithoutWelcome(vertx, port))
      .compose(second -> second.expect("close").compose(notice -> second.closed().map(notice))))
      .onComplete(ctx.succeeding(notice -> ctx.verify(() -> {
        assertEquals(4002, notice.getInteger("code"));
        ctx.completeNow();
      })));
  }

  @Test
  void oneAddressCannotTakeEveryPlace(Vertx vertx, VertxTestContext ctx) {
    JsonObject cfg = new JsonObject().put("http", new JsonObject().put("maxConnectionsPerAddress", 3));
    io.vertx.core.http.HttpClient local = vertx.createHttpClient();
    io.vertx.core.http.HttpClient other = vertx.createHttpClient(new io.vertx.core.http.HttpClientOptions().setLocalAddress("127.0.0.2"));
    TestServer.start(vertx, cfg, 1).compose(port -> {
      java.util.List<Future<Integer>> handshakes = new java.util.ArrayList<>();
      for (int i = 0; i < 3; i++) {
        handshakes.add(handshake(local, port));
      }
      return Future.all(handshakes)
        .compose(three -> handshake(local, port))
        .compose(fourth -> {
          ctx.verify(() -> assertEquals(429, fourth, "a fourth session from 127.0.0.1"));
          return WsClient.connect(vertx, port).transform(ar -> {
            ctx.verify(() -> assertTrue(ar.failed() && ar.cause().getMessage().contains("429"), "a /ws connection from it too"));
            return handshake(other, port);
          });
        })
        .map(fromOther -> {
          ctx.verify(() -> assertEquals(200, fromOther, "another address still gets in"));
          return null;
        });
    }).eventually(() -> Future.join(local.close(), other.close())).onComplete(ctx.succeedingThenComplete());
  }

  @Test
  void aPollingHandshakeWithoutAnyFollowUpIsDropped(Vertx vertx, VertxTestContext ctx) {
    JsonObject cfg = new JsonObject().put("socketio", new JsonObject().put("pingTimeoutMs", 300));
    io.vertx.core.http.HttpClient http = vertx.createHttpClient();
    TestServer.start(vertx, cfg, 1).compose(port -> handshake(http, port))
      .compose(status -> {
        ctx.verify(() -> assertEquals(1, dev.parley.ParleyNode.of(vertx).connections()));
        return dev.parley.support.Polling.until(vertx, () -> dev.parley.ParleyNode.of(vertx).connections() == 0,
          "the idle handshake gave its place back");
      })
      .eventually(http::close).onComplete(ctx.succeedingThenComplete());
  }

  /** An Engine.IO polling handshake; completes with the HTTP status. */
  private static Future<Integer> handshake(io.vertx.core.http.HttpClient http, int port) {
    return http.request(io.vertx.core.http.HttpMethod.GET, port, "127.0.0.1", "/socket.io/?EIO=4&transport=polling")
      .compose(req -> req.send()).compose(resp -> resp.body().map(b -> resp.statusCode()));
  }

  private static void sendBatch(WsClient publisher, String text, int n) {
    sendBatch(publisher, "flood", text, n);
  }

  private static void sendBatch(WsClient publisher, String room, String text, int n) {
    for (int i = 0; i < n; i++) {
      publisher.send(new JsonObject().put("type", "publish").put("room", room).put("text", text));
    }
  }

  /** Bounded polling: retries an attempt every 20 ms, at most {@code attempts} times. */
  static <T> Future<T> retry(java.util.function.Supplier<Future<T>> attempt, int attempts) {
    return attempt.get().recover(err -> {
      if (attempts <= 1) {
        return Future.failedFuture(err);
      }
      Promise<T> p = Promise.promise();
      Vertx.currentContext().owner().setTimer(20, t -> retry(attempt, attempts - 1).onComplete(p));
      return p.future();
    });
  }
}
