package dev.parley;

import dev.parley.support.NativeChatClient;
import dev.parley.support.TestServer;
import dev.parley.support.Tokens;
import dev.parley.support.WsClient;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
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
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Identity beyond the transport contract suite: tokens in an {@code Authorization: Bearer} header (clients
 * that are not browsers), the per-user limits, the time allowed to authenticate, a refresh for another
 * user, and the HTTP publish API taking a token. A real server on port 0 and real clients.
 */
@ExtendWith(VertxExtension.class)
@Timeout(value = 60, timeUnit = TimeUnit.SECONDS)
class AuthTest {

  @AfterEach
  void stop(Vertx vertx, VertxTestContext ctx) {
    TestServer.stop(vertx).onComplete(ar -> ctx.completeNow());
  }

  private static Future<Integer> start(Vertx vertx, String mode, JsonObject more) {
    return TestServer.start(vertx, new JsonObject().put("auth", Tokens.auth(mode).mergeIn(more)), 1);
  }

  private static Future<NativeChatClient> wsAs(Vertx vertx, int port, String token) {
    return WsClient.connect(vertx, port).map(NativeChatClient::new).compose(c -> c.auth(token).map(c));
  }

  private static Future<WsClient> wsBearer(Vertx vertx, int port, String token) {
    return WsClient.connect(vertx, port, new WebSocketConnectOptions().addHeader("Authorization", "Bearer " + token));
  }

  @Test
  void aBearerHeaderOnTheWebSocketUpgradeAuthenticates(Vertx vertx, VertxTestContext ctx) {
    start(vertx, "token", new JsonObject()).compose(port -> wsBearer(vertx, port, Tokens.of(vertx, "dora", "Dora", 600)))
      .compose(c -> c.expect("authed").compose(authed -> {
        ctx.verify(() -> assertEquals("Dora", authed.getString("name")));
        return new NativeChatClient(c).join("bots", null);
      }))
      .onComplete(ctx.succeeding(p -> ctx.verify(() -> {
        assertEquals("dora", p.getJsonArray("members").getJsonObject(0).getString("user"));
        ctx.completeNow();
      })));
  }

  /** Engine.IO's handshake request carries the header for a Socket.IO client that is not a browser. */
  @Test
  void aBearerHeaderOnTheEngineIoHandshakeAuthenticatesTheSocketIoConnect(Vertx vertx, VertxTestContext ctx) {
    start(vertx, "token", new JsonObject()).compose(port -> {
      Promise<List<String>> packets = Promise.promise();
      List<String> got = new ArrayList<>();
      return vertx.createWebSocketClient().connect(new WebSocketConnectOptions().setHost("127.0.0.1").setPort(port)
          .setURI("/socket.io/?EIO=4&transport=websocket")
          .addHeader("Authorization", "Bearer " + Tokens.of(vertx, "eio", "Robot", 600)))
        .compose(ws -> {
          ws.textMessageHandler(text -> {
            got.add(text);
            if (text.startsWith("0")) {
              ws.writeTextMessage("40");
            } else if (text.startsWith("40")) {
              ws.writeTextMessage("421[\"join\",{\"room\":\"eio\"}]");
            } else if (text.startsWith("431")) {
              packets.tryComplete(got);
            }
          });
          return packets.future();
        });
    }).onComplete(ctx.succeeding(got -> ctx.verify(() -> {
      String ack = got.get(got.size() - 1);
      assertTrue(ack.contains("\"user\":\"eio\"") && ack.contains("\"name\":\"Robot\""), ack);
      ctx.completeNow();
    })));
  }

  /** A user's connections on a node are bounded; the one over the bound is refused with 4006, and a freed place is taken again. */
  @Test
  void connectionsPerUserAreBounded(Vertx vertx, VertxTestContext ctx) {
    start(vertx, "token", new JsonObject().put("maxConnectionsPerUser", 2)).compose(port -> {
      String token = Tokens.of(vertx, "many", "Many", 600);
      return Future.all(wsAs(vertx, port, token), wsAs(vertx, port, token)).compose(two ->
        WsClient.connect(vertx, port).map(NativeChatClient::new).compose(third -> third.auth(token).transform(ar -> {
          ctx.verify(() -> assertTrue(ar.failed() && ar.cause().getMessage().startsWith("too_many_connections"), String.valueOf(ar)));
          return third.closeCode();
        })).compose(code -> {
          ctx.verify(() -> assertEquals(4006, code));
          ((NativeChatClient) two.resultAt(0)).close();
          return ((NativeChatClient) two.resultAt(0)).closed();
        }).compose(v -> dev.parley.support.Polling.until(vertx,
          () -> ParleyNode.of(vertx).access().connectionsOf("many") == 1, "the closed connection's place is free"))
        .compose(v -> wsAs(vertx, port, token)));
    }).onComplete(ctx.succeedingThenComplete());
  }

  /** A user's publishing is limited across its connections, not per connection. */
  @Test
  void aUsersPublishRateIsSharedByItsConnections(Vertx vertx, VertxTestContext ctx) {
    start(vertx, "token", new JsonObject().put("userPublishPerSecond", 1).put("userPublishBurst", 4)).compose(port -> {
      String token = Tokens.of(vertx, "chatty", "Chatty", 600);
      return Future.all(wsAs(vertx, port, token), wsAs(vertx, port, token)).compose(both -> {
        NativeChatClient a = both.resultAt(0);
        NativeChatClient b = both.resultAt(1);
        return a.join("rate", null).compose(p -> b.join("rate", null)).compose(p -> {
          List<Future<String>> sends = new ArrayList<>();
          for (int i = 0; i < 8; i++) {
            sends.add((i % 2 == 0 ? a : b).publish("rate", "m" + i));
          }
          return Future.join(sends).transform(ar -> Future.succeededFuture(sends));
        });
      });
    }).onComplete(ctx.succeeding(sends -> ctx.verify(() -> {
      long accepted = sends.stream().filter(Future::succeeded).count();
      assertTrue(accepted >= 4 && accepted <= 5, "the burst of 4 (maybe one more refilled), over both connections: " + accepted);
      assertTrue(sends.stream().filter(Future::failed).allMatch(f -> f.cause().getMessage().startsWith("rate_limited")));
      ctx.completeNow();
    })));
  }

  /** In token mode a connection that never authenticates is closed with 4004 after auth.timeoutMs. */
  @Test
  void aConnectionThatNeverAuthenticatesIsClosed(Vertx vertx, VertxTestContext ctx) {
    start(vertx, "token", new JsonObject().put("timeoutMs", 300))
      .compose(port -> WsClient.connect(vertx, port))
      .compose(WsClient::closed)
      .onComplete(ctx.succeeding(code -> ctx.verify(() -> {
        assertEquals(4004, code);
        ctx.completeNow();
      })));
  }

  /** A refresh must be for the same user: another user's token is refused and the connection carries on as before. */
  @Test
  void aRefreshForAnotherUserIsRefusedAndChangesNothing(Vertx vertx, VertxTestContext ctx) {
    start(vertx, "token", new JsonObject()).compose(port -> wsAs(vertx, port, Tokens.of(vertx, "fay", "Fay", 600)))
      .compose(c -> c.join("keep", null).compose(p -> c.auth(Tokens.of(vertx, "gus", "Gus", 600)).transform(ar -> {
        ctx.verify(() -> assertTrue(ar.failed() && ar.cause().getMessage().contains("another user"), String.valueOf(ar)));
        return c.publish("keep", "still fay");
      })).compose(id -> c.event("message", m -> "still fay".equals(m.getString("text")), "own message")))
      .onComplete(ctx.succeeding(m -> ctx.verify(() -> {
        assertEquals("fay", m.getString("user"));
        ctx.completeNow();
      })));
  }

  private static Future<io.vertx.core.http.HttpClientResponse> post(HttpClient http, int port, String room, String bearer, JsonObject body) {
    return http.request(HttpMethod.POST, port, "127.0.0.1", "/api/rooms/" + room + "/messages")
      .compose(req -> req.putHeader("Authorization", "Bearer " + bearer).putHeader("Content-Type", "application/json")
        .send(Buffer.buffer(body.encode())));
  }

  /**
   * The HTTP publish API takes a token whose {@code publish} claim covers the room (the message goes out under
   * the token's name and user); without that claim it answers 403, with a bad token 401.
   */
  @Test
  void theHttpApiTakesATokenWithAPublishClaim(Vertx vertx, VertxTestContext ctx) {
    HttpClient http = vertx.createHttpClient();
    start(vertx, "mixed", new JsonObject()).compose(port -> {
      String poster = Tokens.with(vertx, "notifier", new JsonObject().put("name", "Notifier").put("publish", new JsonArray().add("alerts")), 600);
      String reader = Tokens.with(vertx, "reader", new JsonObject().put("name", "Reader"), 600);
      return wsAs(vertx, port, reader).compose(member -> member.join("alerts", null)
        .compose(p -> post(http, port, "alerts", poster, new JsonObject().put("text", "disk almost full")))
        .compose(resp -> {
          ctx.verify(() -> assertEquals(202, resp.statusCode()));
          return member.event("message", m -> "disk almost full".equals(m.getString("text")), "the posted message");
        })
        .compose(m -> {
          ctx.verify(() -> {
            assertEquals("Notifier", m.getString("name"));
            assertEquals("notifier", m.getString("user"));
          });
          return post(http, port, "alerts", reader, new JsonObject().put("text", "no claim"));
        })
        .compose(resp -> {
          ctx.verify(() -> assertEquals(403, resp.statusCode(), "no publish claim"));
          return post(http, port, "other", poster, new JsonObject().put("text", "wrong room"));
        })
        .compose(resp -> {
          ctx.verify(() -> assertEquals(403, resp.statusCode(), "the claim does not cover this room"));
          return post(http, port, "alerts", Tokens.with(vertx, "notifier", new JsonObject().put("publish", "alerts"), -5),
            new JsonObject().put("text", "expired"));
        })
        .compose(resp -> resp.body().map(body -> {
          ctx.verify(() -> {
            assertEquals(401, resp.statusCode());
            assertTrue(body.toString().contains("expired"), body.toString());
          });
          return null;
        })));
    }).onComplete(ctx.succeedingThenComplete());
  }

  /**
   * A room rule may hide presence (nobody listed, joins and leaves not announced) and turn history off
   * (no positions, nothing replayed), whatever the default.
   */
  @Test
  void roomRulesHidePresenceAndTurnHistoryOff(Vertx vertx, VertxTestContext ctx) {
    JsonObject rules = new JsonObject().put("rooms", new JsonArray()
      .add(new JsonObject().put("match", "quiet-*").put("presence", false).put("history", false)));
    TestServer.start(vertx, rules, 1).compose(port -> Future.all(WsClient.connect(vertx, port), WsClient.connect(vertx, port)))
      .compose(all -> {
        NativeChatClient a = new NativeChatClient(all.resultAt(0));
        NativeChatClient b = new NativeChatClient(all.resultAt(1));
        return a.join("quiet-room", "ann").compose(p -> {
          ctx.verify(() -> assertTrue(p.getJsonArray("members").isEmpty(), "presence hidden: " + p));
          return a.event("joined", j -> "ann".equals(j.getString("name")), "ann's own joined");
        }).compose(own -> {
          ctx.verify(() -> assertTrue(own.getValue("offset") == null, "no history position: " + own));
          return b.join("quiet-room", "bea", new JsonObject().put("history", 10));
        }).compose(p -> a.publish("quiet-room", "hello"))
          .compose(id -> b.event("message", m -> "hello".equals(m.getString("text")), "the message"))
          .compose(m -> {
            ctx.verify(() -> assertTrue(m.getValue("offset") == null, "not kept: " + m));
            return a.client().unread();
          })
          .map(unread -> {
            ctx.verify(() -> assertTrue(unread.stream().noneMatch(f -> "joined".equals(f.getString("type"))),
              "bea's join was not announced: " + unread));
            return null;
          });
      }).onComplete(ctx.succeedingThenComplete());
  }
}
