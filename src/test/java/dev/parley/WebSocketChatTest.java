package dev.parley;

import dev.parley.support.RawWsClient;
import dev.parley.support.TestClient;
import dev.parley.support.TestServer;
import dev.parley.support.WsClient;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The native protocol over the raw WebSocket endpoint {@code /ws}, against a real server on port 0. */
@ExtendWith(VertxExtension.class)
@Timeout(value = 30, timeUnit = TimeUnit.SECONDS)
class WebSocketChatTest {

  private int port;

  @BeforeEach
  void start(Vertx vertx, VertxTestContext ctx) {
    TestServer.start(vertx).onComplete(ctx.succeeding(p -> {
      port = p;
      ctx.completeNow();
    }));
  }

  @Test
  void welcomeGivesDistinctSessionIdsAndLimits(Vertx vertx, VertxTestContext ctx) {
    Future.all(WsClient.connect(vertx, port), WsClient.connect(vertx, port)).onComplete(ctx.succeeding(all -> {
      WsClient a = all.resultAt(0);
      WsClient b = all.resultAt(1);
      ctx.verify(() -> {
        assertNotNull(a.session());
        assertNotEquals(a.session(), b.session());
      });
      ctx.completeNow();
    }));
  }

  @Test
  void joinPresencePublishLeave(Vertx vertx, VertxTestContext ctx) {
    WsClient[] c = new WsClient[2];
    Future.all(WsClient.connect(vertx, port), WsClient.connect(vertx, port))
      .compose(all -> {
        c[0] = all.resultAt(0);
        c[1] = all.resultAt(1);
        return c[0].join("lobby", "alice");
      })
      .compose(presence -> {
        ctx.verify(() -> assertEquals(new JsonArray().add(member(c[0], "alice")), presence.getJsonArray("members")));
        return c[1].join("lobby", "bob");
      })
      .compose(presence -> {
        ctx.verify(() -> assertEquals(new JsonArray().add(member(c[0], "alice")).add(member(c[1], "bob")),
          presence.getJsonArray("members")));
        return c[0].expect("joined", "lobby");
      })
      .compose(joined -> {
        ctx.verify(() -> {
          assertEquals("bob", joined.getString("name"));
          assertEquals(c[1].session(), joined.getString("session"));
          assertTrue(joined.getLong("ts") > 0);
        });
        return c[1].publish("lobby", "hi <b>there</b> ✓ 👋");
      })
      .compose(ack -> {
        ctx.verify(() -> {
          assertEquals("ack", ack.getString("type"));
          assertNotNull(ack.getString("id"));
        });
        return Future.all(c[0].expect("message", "lobby"), c[1].expect("message", "lobby"))
          .map(all -> List.of(ack, all.<JsonObject>resultAt(0), all.<JsonObject>resultAt(1)));
      })
      .compose(r -> {
        ctx.verify(() -> {
          JsonObject atAlice = r.get(1);
          assertEquals(r.get(2), atAlice, "sender and other member get the same message");
          assertEquals("hi <b>there</b> ✓ 👋", atAlice.getString("text"), "text is delivered verbatim");
          assertEquals("bob", atAlice.getString("name"));
          assertEquals(c[1].session(), atAlice.getString("session"));
          assertEquals(r.get(0).getString("id"), atAlice.getString("id"));
          assertTrue(atAlice.getLong("ts") > 0);
        });
        return c[1].leave("lobby");
      })
      .compose(ack -> {
        ctx.verify(() -> assertEquals("ack", ack.getString("type")));
        return c[0].expect("left", "lobby");
      })
      .compose(left -> {
        ctx.verify(() -> {
          assertEquals(c[1].session(), left.getString("session"));
          assertEquals("bob", left.getString("name"));
        });
        // After leaving, bob gets nothing from the room and may not publish to it.
        return c[1].publish("lobby", "still here?");
      })
      .compose(err -> {
        ctx.verify(() -> {
          assertEquals("error", err.getString("type"));
          assertEquals("not_joined", err.getString("code"));
        });
        return c[0].publish("lobby", "only alice now");
      })
      .compose(ack -> c[0].expect("message", "lobby"))
      .compose(m -> c[1].unread())
      .onComplete(ctx.succeeding(unread -> {
        ctx.verify(() -> assertTrue(unread.stream().noneMatch(f -> "message".equals(f.getString("type"))
          && "only alice now".equals(f.getString("text"))), "a member who left receives nothing: " + unread));
        ctx.completeNow();
      }));
  }

  @Test
  void abruptDisconnectAnnouncesLeftToEveryRoom(Vertx vertx, VertxTestContext ctx) {
    TestClient[] c = new TestClient[2];
    Future.all(WsClient.connect(vertx, port), RawWsClient.connect(vertx, port))
      .compose(all -> {
        c[0] = all.resultAt(0);
        c[1] = all.resultAt(1);
        return c[0].join("a", "watcher").compose(v -> c[0].join("b", "watcher"));
      })
      .compose(v -> c[1].join("a", "goner")).compose(v -> c[1].join("b", "goner"))
      .compose(v -> {
        // Drop the TCP connection without a close handshake.
        ((RawWsClient) c[1]).drop();
        return Future.all(c[0].expect(f -> "left".equals(f.getString("type")) && "a".equals(f.getString("room"))
            && c[1].session().equals(f.getString("session")), "left a"),
          c[0].expect(f -> "left".equals(f.getString("type")) && "b".equals(f.getString("room"))
            && c[1].session().equals(f.getString("session")), "left b"));
      })
      .compose(v -> {
        // presence no longer lists the goner: join again from a third client and look
        return WsClient.connect(vertx, port).compose(c3 -> c3.join("a", "third"));
      })
      .onComplete(ctx.succeeding(presence -> {
        ctx.verify(() -> assertEquals(List.of("watcher", "third"),
          presence.getJsonArray("members").stream().map(m -> ((JsonObject) m).getString("name")).toList()));
        ctx.completeNow();
      }));
  }

  @Test
  void membersDroppingAtTheSameMomentBothLeave(Vertx vertx, VertxTestContext ctx) {
    // Regression: announcing the first one's left to the second, already closed, threw and cut the
    // first one's disconnect short, leaving it in presence for good.
    WsClient.connect(vertx, port).compose(watcher -> watcher.join("exodus", "watcher").compose(v -> dropPairs(vertx, watcher, 10)))
      .onComplete(ctx.succeeding(presence -> {
        ctx.verify(() -> assertEquals(1, presence.getJsonArray("members").size(), "only the watcher is left: " + presence));
        ctx.completeNow();
      }));
  }

  private Future<JsonObject> dropPairs(Vertx vertx, WsClient watcher, int rounds) {
    if (rounds == 0) {
      return WsClient.connect(vertx, port).compose(probe -> probe.join("exodus-check", "p"))
        .compose(v -> watcher.leave("exodus")).compose(v -> watcher.join("exodus", "watcher"));
    }
    return Future.all(WsClient.connect(vertx, port), WsClient.connect(vertx, port)).compose(two -> {
      WsClient a = two.resultAt(0);
      WsClient b = two.resultAt(1);
      return a.join("exodus", "a").compose(v -> b.join("exodus", "b"))
        .compose(v -> {
          a.socket().close();
          b.socket().close();
          return Future.all(watcher.expect(f -> "left".equals(f.getString("type")) && a.session().equals(f.getString("session")), "a left"),
            watcher.expect(f -> "left".equals(f.getString("type")) && b.session().equals(f.getString("session")), "b left"));
        })
        .compose(v -> dropPairs(vertx, watcher, rounds - 1));
    });
  }

  @Test
  void oneConnectionInSeveralRoomsGetsEachRoomsEvents(Vertx vertx, VertxTestContext ctx) {
    WsClient[] c = new WsClient[2];
    Future.all(WsClient.connect(vertx, port), WsClient.connect(vertx, port))
      .compose(all -> {
        c[0] = all.resultAt(0);
        c[1] = all.resultAt(1);
        return c[0].join("red", "multi").compose(v -> c[0].join("blue", "multi-blue"));
      })
      .compose(v -> c[1].join("blue", "other"))
      .compose(v -> c[1].publish("blue", "to blue"))
      .compose(v -> c[0].expect("message", "blue"))
      .compose(m -> {
        ctx.verify(() -> assertEquals("to blue", m.getString("text")));
        return c[0].publish("blue", "from multi");
      })
      .compose(v -> c[1].expect(f -> "from multi".equals(f.getString("text")), "message from multi"))
      .onComplete(ctx.succeeding(m -> {
        ctx.verify(() -> assertEquals("multi-blue", m.getString("name"), "the name is per room"));
        ctx.completeNow();
      }));
  }

  @Test
  void joiningTwiceIsHarmless(Vertx vertx, VertxTestContext ctx) {
    WsClient.connect(vertx, port).compose(c -> c.join("lobby", "alice").compose(p -> {
        String ref = c.nextRef();
        c.send(new JsonObject().put("type", "join").put("room", "lobby").put("name", "alice").put("ref", ref));
        return c.expect("presence", "lobby").compose(p2 -> c.reply(ref)).compose(ack -> c.unread());
      }))
      .onComplete(ctx.succeeding(unread -> {
        ctx.verify(() -> assertTrue(unread.stream().noneMatch(f -> "joined".equals(f.getString("type"))),
          "no second joined: " + unread));
        ctx.completeNow();
      }));
  }

  @Test
  void pipelinedCommandsRunInOrder(Vertx vertx, VertxTestContext ctx) {
    WsClient.connect(vertx, port).compose(c -> {
        // join and publish back to back, without waiting for the join's ack
        c.send(new JsonObject().put("type", "join").put("room", "fast").put("name", "eager").put("ref", "j"));
        c.send(new JsonObject().put("type", "publish").put("room", "fast").put("text", "right away").put("ref", "p"));
        return c.reply("j").compose(j -> c.reply("p").map(p -> List.of(j, p)));
      })
      .onComplete(ctx.succeeding(replies -> {
        ctx.verify(() -> {
          assertEquals("ack", replies.get(0).getString("type"));
          assertEquals("ack", replies.get(1).getString("type"), "publish after join succeeds: " + replies.get(1));
        });
        ctx.completeNow();
      }));
  }

  @Test
  void pingIsAnsweredWithPong(Vertx vertx, VertxTestContext ctx) {
    WsClient.connect(vertx, port).compose(c -> {
        c.send(new JsonObject().put("type", "ping").put("ref", 7));
        return c.expect("pong");
      })
      .onComplete(ctx.succeeding(pong -> {
        ctx.verify(() -> assertEquals(7, pong.getInteger("ref")));
        ctx.completeNow();
      }));
  }

  private static JsonObject member(WsClient c, String name) {
    return new JsonObject().put("session", c.session()).put("name", name);
  }
}
