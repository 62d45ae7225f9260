package dev.parley;

import dev.parley.support.ChatFlows;
import dev.parley.support.NativeChatClient;
import dev.parley.support.TestRedis;
import dev.parley.support.TestServer;
import dev.parley.support.SockJsXhrClient;
import dev.parley.support.WsClient;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.io.IOException;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

/**
 * Two separate (non-clustered) Parley nodes sharing rooms through a real redis-server: chat and
 * presence across nodes, a Redis outage that leaves local rooms working, recovery, and the members of
 * a node that vanished announced as left.
 */
@ExtendWith(VertxExtension.class)
@Timeout(value = 90, timeUnit = TimeUnit.SECONDS)
class RedisChatTest {

  private static TestRedis redis;
  private Vertx nodeA;
  private Vertx nodeB;
  private int portA;
  private int portB;

  @BeforeAll
  static void startRedis() throws IOException {
    redis = TestRedis.start();
  }

  @AfterAll
  static void stopRedis() throws IOException {
    redis.close();
  }

  /** Redis nodes in mixed auth mode (every room open to anyone), so tokens and anonymous clients meet. */
  static JsonObject redisConfig(String uri) {
    return ChatFlows.mixedAuth().put("broker", new JsonObject().put("type", "redis").put("redisUri", uri).put("nodeTimeoutMs", 600));
  }

  @Test
  void oneUserWithConnectionsOnBothNodesIsOneMember(Vertx vertx, VertxTestContext ctx) {
    ChatFlows.oneUserOnTwoNodes(vertx, portA, portB).onComplete(ctx.succeedingThenComplete());
  }

  @BeforeEach
  void start(VertxTestContext ctx) {
    nodeA = Vertx.vertx();
    nodeB = Vertx.vertx();
    Future.all(TestServer.start(nodeA, redisConfig(redis.uri()), 2), TestServer.start(nodeB, redisConfig(redis.uri()), 1))
      .onComplete(ctx.succeeding(all -> {
        portA = all.resultAt(0);
        portB = all.resultAt(1);
        ctx.completeNow();
      }));
  }

  @AfterEach
  void stop(VertxTestContext ctx) {
    Future.join(nodeA.close(), nodeB.close()).onComplete(ar -> ctx.completeNow());
  }

  @Test
  void nodesShareRoomsPresenceAndOrder(Vertx vertx, VertxTestContext ctx) {
    WsClient[] c = new WsClient[2];
    Future.all(WsClient.connect(vertx, portA), WsClient.connect(vertx, portB))
      .compose(all -> {
        c[0] = all.resultAt(0);
        c[1] = all.resultAt(1);
        return c[0].join("shared", "on-a");
      })
      .compose(v -> c[1].join("shared", "on-b"))
      .compose(presence -> {
        ctx.verify(() -> assertEquals(List.of("on-a", "on-b"), names(presence)));
        return c[0].expect(f -> "joined".equals(f.getString("type")) && "on-b".equals(f.getString("name")), "b joined");
      })
      .compose(v -> {
        for (int i = 0; i < 100; i++) {
          c[1].send(new JsonObject().put("type", "publish").put("room", "shared").put("text", "m" + i));
        }
        Future<Void> chain = Future.succeededFuture();
        for (int i = 0; i < 100; i++) {
          String expected = "m" + i;
          chain = chain.compose(x -> c[0].expect("message", "shared").map(m -> {
            assertEquals(expected, m.getString("text"));
            return null;
          }));
        }
        return chain;
      })
      .compose(v -> {
        c[1].close();
        return c[0].expect("left", "shared");
      })
      .onComplete(ctx.succeeding(left -> {
        ctx.verify(() -> assertEquals("on-b", left.getString("name")));
        ctx.completeNow();
      }));
  }

  @Test
  void redisOutageKeepsLocalRoomsAndRecovers(Vertx vertx, VertxTestContext ctx) {
    WsClient[] c = new WsClient[3];
    // two clients on node A (its two instances), one on node B
    Future.all(WsClient.connect(vertx, portA), WsClient.connect(vertx, portA), WsClient.connect(vertx, portB))
      .compose(all -> {
        for (int i = 0; i < 3; i++) {
          c[i] = all.resultAt(i);
        }
        return c[0].join("r", "a1").compose(v -> c[1].join("r", "a2")).compose(v -> c[2].join("r", "b1"));
      })
      .compose(v -> blocking(vertx, () -> {
        redis.stop();
        return null;
      }))
      .compose(v -> brokerStateUntil(vertx, portA, "down"))
      .compose(v -> c[0].publish("r", "during outage"))
      .compose(ack -> {
        ctx.verify(() -> assertEquals("ack", ack.getString("type"), "publishing still works"));
        return c[1].expect(f -> "during outage".equals(f.getString("text")), "local delivery during the outage");
      })
      .compose(v -> WsClient.connect(vertx, portA).compose(newcomer -> newcomer.join("r", "a3")))
      .compose(presence -> {
        ctx.verify(() -> assertEquals(List.of("a1", "a2", "a3"), names(presence), "presence falls back to this node's members"));
        return blocking(vertx, () -> {
          redis.restart();
          return null;
        });
      })
      .compose(v -> probeUntilReceived(vertx, c[0], c[2], 60))
      .compose(v -> brokerStateUntil(vertx, portA, "up"))
      // node A writes its members back just after reconnecting: poll (bounded) until B sees them
      .compose(v -> WsClient.connect(vertx, portB).compose(late -> presenceUntil(vertx, late, List.of("a1", "a2", "b1", "a3", "b2"), 25)))
      .onComplete(ctx.succeeding(presence -> {
        ctx.verify(() -> assertEquals(List.of("a1", "a2", "b1", "a3", "b2"), names(presence),
          "after recovery presence again spans both nodes"));
        ctx.completeNow();
      }));
  }

  @Test
  void membersOfAVanishedNodeAreAnnouncedLeft(Vertx vertx, VertxTestContext ctx) {
    // A node "ghost" that wrote its members and then vanished: no liveness key left behind.
    Redis client = Redis.createClient(vertx, redis.uri());
    WsClient[] c = new WsClient[1];
    WsClient.connect(vertx, portA)
      .compose(w -> {
        c[0] = w;
        return w.join("haunted", "alive");
      })
      .compose(v -> client.send(Request.cmd(Command.HSET).arg("parley:presence:haunted").arg("ghost.1-1")
        .arg("{\"n\":\"casper\",\"t\":1,\"q\":1}")))
      .compose(v -> client.send(Request.cmd(Command.SADD).arg("parley:node:ghost:members").arg("haunted\nghost.1-1")))
      .compose(v -> client.send(Request.cmd(Command.SADD).arg("parley:nodes").arg("ghost")))
      .compose(v -> c[0].expect(f -> "left".equals(f.getString("type")) && "casper".equals(f.getString("name")), "ghost left", 10_000))
      .compose(left -> {
        ctx.verify(() -> assertEquals("ghost.1-1", left.getString("session")));
        return WsClient.connect(vertx, portB).compose(w -> w.join("haunted", "visitor"));
      })
      .onComplete(ctx.succeeding(presence -> {
        ctx.verify(() -> assertEquals(List.of("alive", "visitor"), names(presence)));
        ctx.completeNow();
      }));
  }

  /**
   * History in Redis across nodes: a client of node A is cut off while members of both nodes post 100
   * messages; it comes back on node B and receives exactly what it missed, then the live messages.
   */
  @Test
  void aClientCutOffOnOneNodeRecoversOnTheOther(Vertx vertx, VertxTestContext ctx) {
    ChatFlows.cutOffAndRecoverOnAnotherNode(
        () -> WsClient.connect(vertx, portA).map(NativeChatClient::new),
        () -> WsClient.connect(vertx, portB).map(NativeChatClient::new), 50)
      .onComplete(ctx.succeedingThenComplete());
  }

  /**
   * The same over three nodes of their own (one instance each): cut off on the first while the second and
   * third post, back on the third; over SockJS this time, the cut client polling (it simply stops) and back
   * on another SockJS transport, xhr-streaming.
   */
  @Test
  void aClientCutOffRecoversAcrossThreeNodes(Vertx vertx, VertxTestContext ctx) {
    List<Vertx> nodes = List.of(Vertx.vertx(), Vertx.vertx(), Vertx.vertx());
    Future.all(nodes.stream().map(n -> TestServer.start(n, redisConfig(redis.uri()), 1)).toList())
      .compose(all -> {
        int p1 = all.resultAt(0);
        int p2 = all.resultAt(1);
        int p3 = all.resultAt(2);
        return ChatFlows.cutOffAndRecoverOnAnotherNode(
          () -> SockJsXhrClient.polling(vertx, p1).map(NativeChatClient::new),
          () -> WsClient.connect(vertx, p2).map(NativeChatClient::new),
          () -> WsClient.connect(vertx, p3).map(NativeChatClient::new),
          () -> SockJsXhrClient.streaming(vertx, p3).map(NativeChatClient::new), 50);
      })
      .eventually(() -> Future.join(nodes.stream().map(Vertx::close).toList()))
      .onComplete(ctx.succeedingThenComplete());
  }

  /**
   * A Redis restart loses the history: the room's stream starts again under a new epoch, and a client that
   * was cut off before it comes back with its old position and is told recovery failed ({@code recovered:
   * false}, {@code epoch_changed}), with the room's last messages since the restart instead: never a silent gap.
   */
  @Test
  void aRedisRestartChangesTheEpochAndTheRejoinIsToldRecoveryFailed(Vertx vertx, VertxTestContext ctx) {
    WsClient[] c = new WsClient[3];
    Future.all(WsClient.connect(vertx, portA), WsClient.connect(vertx, portA), WsClient.connect(vertx, portB))
      .compose(all -> {
        for (int i = 0; i < 3; i++) {
          c[i] = all.resultAt(i);
        }
        return c[0].join("r", "cut").compose(v -> c[1].join("r", "stays")).compose(v -> c[2].join("r", "writer"));
      })
      .compose(v -> probeUntilReceived(vertx, c[2], c[0], 40))
      .compose(v -> c[2].publish("r", "before the restart"))
      .compose(ack -> c[0].expect(f -> "before the restart".equals(f.getString("text")), "the message before the restart"))
      .compose(before -> {
        JsonObject since = new JsonObject().put("epoch", before.getString("epoch")).put("offset", before.getLong("offset"));
        c[0].cut();
        return blocking(vertx, () -> {
          redis.stop();
          redis.restart();
          return null;
        })
          .compose(v -> probeUntilReceived(vertx, c[2], c[1], 60))
          .compose(v -> brokerStateUntil(vertx, portA, "up"))
          .compose(v -> brokerStateUntil(vertx, portB, "up"))
          .compose(v -> c[2].publish("r", "after the restart"))
          .compose(ack -> c[1].expect(f -> "after the restart".equals(f.getString("text")), "the message after the restart"))
          .compose(after -> {
            ctx.verify(() -> assertNotEquals(since.getString("epoch"), after.getString("epoch"), "a new epoch: " + after));
            return WsClient.connect(vertx, portB).map(NativeChatClient::new);
          })
          .compose(back -> back.join("r", "cut", new JsonObject().put("since", since).put("history", 1))
            .compose(p -> back.event("joined", j -> "cut".equals(j.getString("name")), "own joined"))
            .compose(own -> {
              ctx.verify(() -> {
                assertEquals(Boolean.FALSE, own.getBoolean("recovered"), "recovery failed: " + own);
                assertEquals("epoch_changed", own.getString("reason"));
                assertNotEquals(since.getString("epoch"), own.getString("epoch"));
              });
              return back.event("message", m -> "r".equals(m.getString("room")), "the last message instead");
            }));
      })
      .onComplete(ctx.succeeding(last -> {
        ctx.verify(() -> assertEquals("after the restart", last.getString("text")));
        ctx.completeNow();
      }));
  }

  /** socket.io-client 4.8 cut off from node A reconnects to node B and recovers (Socket.IO's own Redis adapter cannot). */
  @Test
  void aSocketIoClientRecoversOnTheOtherNode(Vertx vertx, VertxTestContext ctx) {
    SocketIoNodeClientTest.installed();
    SocketIoNodeClientTest.node(vertx, "recovery.mjs", "websocket", "sio-rec", "http://127.0.0.1:" + portA, "http://127.0.0.1:" + portB)
      .onComplete(ctx.succeeding(result -> {
        ctx.verify(() -> {
          assertEquals(Boolean.TRUE, result.getBoolean("recovered"), "socket.recovered: " + result);
          List<Object> expected = new java.util.ArrayList<>(List.of("before"));
          for (int i = 0; i < 10; i++) {
            expected.add("missed " + i);
          }
          expected.add("after");
          assertEquals(expected, result.getJsonArray("got").getList(), "each missed message once, in order");
        });
        ctx.completeNow();
      }));
  }

  /**
   * The seam under load: members of node A and node B each post 200 messages while a socket.io-client 4.8
   * on node A is cut off a quarter of the way through and reconnects to node B as they go on. It recovers
   * and ends with every message exactly once, each publisher's in order (the stock Socket.IO Redis Streams
   * adapter doubles or loses messages here in some runs).
   */
  @Test
  void aSocketIoClientRecoversMidStreamFromTwoNodes(Vertx vertx, VertxTestContext ctx) {
    SocketIoNodeClientTest.installed();
    SocketIoNodeClientTest.node(vertx, "seam.mjs", "websocket", "sio-seam", "http://127.0.0.1:" + portA, "http://127.0.0.1:" + portB, "200")
      .onComplete(ctx.succeeding(result -> {
        ctx.verify(() -> assertSeamHeld(result, 200));
        ctx.completeNow();
      }));
  }

  /** What seam.mjs reports: recovered, every message once, each publisher's in order, the end markers last. */
  static void assertSeamHeld(JsonObject result, int count) {
    assertEquals(Boolean.TRUE, result.getBoolean("recovered"), "socket.recovered");
    List<Object> got = result.getJsonArray("got").getList();
    for (String prefix : List.of("a-", "b-")) {
      List<Object> expected = new java.util.ArrayList<>();
      for (int i = 0; i < count; i++) {
        expected.add(prefix + i);
      }
      assertEquals(expected, got.stream().filter(t -> ((String) t).startsWith(prefix)).toList(),
        prefix + "* each once, in order");
    }
    assertEquals(2 * count + 2, got.size(), "nothing else, nothing doubled: " + got);
  }

  /** Publishes probes from {@code from} every 250 ms until {@code to} receives one (bounded). */
  static Future<Void> probeUntilReceived(Vertx vertx, WsClient from, WsClient to, int attempts) {
    Promise<Void> done = Promise.promise();
    int[] n = {0};
    long timer = vertx.setPeriodic(250, t -> {
      if (++n[0] > attempts) {
        done.tryFail("no probe crossed nodes after " + attempts + " attempts");
      } else {
        from.send(new JsonObject().put("type", "publish").put("room", "r").put("text", "probe"));
      }
    });
    to.expect(f -> "probe".equals(f.getString("text")), "probe", 250L * attempts).onComplete(ar -> {
      vertx.cancelTimer(timer);
      if (ar.succeeded()) {
        done.tryComplete();
      } else {
        done.tryFail(ar.cause());
      }
    });
    return done.future();
  }

  /** Joins as b2 and checks presence; leaves and tries again every 200 ms until it matches (bounded). */
  static Future<JsonObject> presenceUntil(Vertx vertx, WsClient client, List<String> expected, int attempts) {
    return client.join("r", "b2").compose(presence -> {
      if (names(presence).equals(expected) || attempts <= 1) {
        return Future.succeededFuture(presence);
      }
      return client.leave("r").compose(v -> {
        Promise<Void> later = Promise.promise();
        vertx.setTimer(200, t -> later.complete());
        return later.future();
      }).compose(v -> presenceUntil(vertx, client, expected, attempts - 1));
    });
  }

  static <T> Future<T> blocking(Vertx vertx, java.util.concurrent.Callable<T> work) {
    return vertx.executeBlocking(work);
  }

  static List<String> names(JsonObject presence) {
    return presence.getJsonArray("members").stream().map(m -> ((JsonObject) m).getString("name")).toList();
  }


  /** Polls {@code /health} (bounded) until it reports the broker in {@code state}. */
  private static Future<Void> brokerStateUntil(Vertx vertx, int port, String state) {
    io.vertx.core.http.HttpClient http = vertx.createHttpClient();
    java.util.concurrent.atomic.AtomicReference<String> seen = new java.util.concurrent.atomic.AtomicReference<>();
    return dev.parley.support.Polling.until(vertx, () -> {
      http.request(io.vertx.core.http.HttpMethod.GET, port, "127.0.0.1", "/health")
        .compose(req -> req.send()).compose(resp -> resp.body())
        .onSuccess(body -> seen.set(new JsonObject(body.toString()).getJsonObject("broker").getString("state")));
      return state.equals(seen.get());
    }, "/health reports the broker " + state).eventually(http::close);
  }
}
