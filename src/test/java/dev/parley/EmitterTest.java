package dev.parley;

import dev.parley.support.TestRedis;
import dev.parley.support.TestServer;
import dev.parley.support.WsClient;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
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
import org.msgpack.core.MessageBufferPacker;
import org.msgpack.core.MessagePack;

import java.io.IOException;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The Socket.IO Redis emitter wire format, built here byte for byte as {@code @socket.io/redis-emitter}
 * 5.x writes it ({@code [uid, packet, opts]} in MessagePack on {@code socket.io#/#} or
 * {@code socket.io#/#<room>#}; requests as JSON on {@code socket.io-request#/#}), against two nodes.
 */
@ExtendWith(VertxExtension.class)
@Timeout(value = 60, timeUnit = TimeUnit.SECONDS)
class EmitterTest {

  private static TestRedis redis;
  private Vertx nodeA;
  private Vertx nodeB;
  private int portA;
  private int portB;
  private Redis publisher;

  @BeforeAll
  static void startRedis() throws IOException {
    redis = TestRedis.start();
  }

  @AfterAll
  static void stopRedis() throws IOException {
    redis.close();
  }

  @BeforeEach
  void start(Vertx vertx, VertxTestContext ctx) {
    nodeA = Vertx.vertx();
    nodeB = Vertx.vertx();
    publisher = Redis.createClient(vertx, redis.uri());
    JsonObject cfg = RedisChatTest.redisConfig(redis.uri()).put("emitter", new JsonObject().put("enabled", true));
    Future.all(TestServer.start(nodeA, cfg, 2), TestServer.start(nodeB, cfg, 1)).onComplete(ctx.succeeding(all -> {
      portA = all.resultAt(0);
      portB = all.resultAt(1);
      ctx.completeNow();
    }));
  }

  @AfterEach
  void stop(VertxTestContext ctx) {
    Future.join(nodeA.close(), nodeB.close()).onComplete(ar -> ctx.completeNow());
  }

  /** {@code ["emitter", {type: 2, data: [event, ...args], nsp: "/"}, {rooms, flags: {}, except}]}. */
  static Buffer emit(List<String> rooms, List<String> except, String event, Object... args) throws IOException {
    MessageBufferPacker p = MessagePack.newDefaultBufferPacker();
    p.packArrayHeader(3);
    p.packString("emitter");
    p.packMapHeader(3);
    p.packString("type").packInt(2);
    p.packString("data").packArrayHeader(1 + args.length).packString(event);
    for (Object a : args) {
      if (a instanceof String s) {
        p.packString(s);
      } else if (a instanceof Integer i) {
        p.packInt(i);
      } else if (a instanceof byte[] b) {
        p.packBinaryHeader(b.length).writePayload(b);
      } else if (a instanceof JsonObject o) {
        p.packMapHeader(o.size());
        for (String k : o.fieldNames()) {
          p.packString(k).packString(String.valueOf(o.getValue(k)));
        }
      }
    }
    p.packString("nsp").packString("/");
    p.packMapHeader(3);
    p.packString("rooms").packArrayHeader(rooms.size());
    for (String r : rooms) {
      p.packString(r);
    }
    p.packString("flags").packMapHeader(0);
    p.packString("except").packArrayHeader(except.size());
    for (String r : except) {
      p.packString(r);
    }
    return Buffer.buffer(p.toByteArray());
  }

  private Future<Void> publish(List<String> rooms, Buffer payload) {
    String channel = "socket.io#/#" + (rooms.size() == 1 ? rooms.get(0) + "#" : "");
    return publisher.send(Request.cmd(Command.PUBLISH).arg(channel).arg(payload)).mapEmpty();
  }

  private Future<Void> request(JsonObject json) {
    return publisher.send(Request.cmd(Command.PUBLISH).arg("socket.io-request#/#").arg(json.encode())).mapEmpty();
  }

  @Test
  void emitsReachEveryoneARoomOneSessionAndHonourExcept(Vertx vertx, VertxTestContext ctx) {
    WsClient[] c = new WsClient[3];
    Future.all(WsClient.connect(vertx, portA), WsClient.connect(vertx, portA), WsClient.connect(vertx, portB))
      .compose(all -> {
        for (int i = 0; i < 3; i++) {
          c[i] = all.resultAt(i);
        }
        return c[0].join("news", "a").compose(v -> c[2].join("news", "b"));
      })
      .compose(v -> wrap(() -> publish(List.of(), emit(List.of(), List.of(), "hello", "everyone", 42))))
      .compose(v -> Future.all(c[0].expect("event"), c[1].expect("event"), c[2].expect("event")))
      .compose(all -> {
        JsonObject e = all.resultAt(2);
        ctx.verify(() -> {
          assertEquals("hello", e.getString("event"));
          assertEquals(new JsonArray().add("everyone").add(42), e.getJsonArray("args"));
          assertFalse(e.containsKey("room"), "no room for a broadcast: " + e);
        });
        return wrap(() -> publish(List.of("news"), emit(List.of("news"), List.of(), "headline", new JsonObject().put("title", "t"))));
      })
      .compose(v -> Future.all(c[0].expect("event"), c[2].expect("event")))
      .compose(all -> {
        JsonObject e = all.resultAt(0);
        ctx.verify(() -> {
          assertEquals("news", e.getString("room"));
          assertEquals("t", e.getJsonArray("args").getJsonObject(0).getString("title"));
        });
        // one session, by its id (each session is in a room named by its id)
        return wrap(() -> publish(List.of(c[1].session()), emit(List.of(c[1].session()), List.of(), "private", "just you")));
      })
      .compose(v -> c[1].expect("event"))
      .compose(e -> {
        ctx.verify(() -> assertEquals("private", e.getString("event")));
        // everyone except the news room; binary arguments arrive as base64
        return wrap(() -> publish(List.of(), emit(List.of(), List.of("news"), "not-news", new byte[] {1, 2, 3})));
      })
      .compose(v -> c[1].expect("event"))
      .compose(e -> {
        ctx.verify(() -> assertEquals("AQID", e.getJsonArray("args").getString(0)));
        // a final broadcast proves the earlier ones reached nobody else
        return wrap(() -> publish(List.of(), emit(List.of(), List.of(), "end")));
      })
      .compose(v -> Future.all(c[0].expect("event"), c[2].expect("event")))
      .compose(all -> Future.all(c[0].unread(), c[2].unread()))
      .onComplete(ctx.succeeding(all -> {
        ctx.verify(() -> {
          for (int i = 0; i < 2; i++) {
            List<JsonObject> unread = all.resultAt(i);
            assertTrue(unread.stream().noneMatch(f -> "event".equals(f.getString("type"))), "unexpected: " + unread);
          }
        });
        ctx.completeNow();
      }));
  }

  @Test
  void anEmitToASessionReachesThatSessionAloneEvenIfSomeoneTriesARoomOfThatName(Vertx vertx, VertxTestContext ctx) {
    WsClient[] c = new WsClient[2];
    Future.all(WsClient.connect(vertx, portA), WsClient.connect(vertx, portB))
      .compose(all -> {
        c[0] = all.resultAt(0);
        c[1] = all.resultAt(1);
        // the attacker, on the other node, tries to join a room named after the victim's session id
        c[1].send(new JsonObject().put("type", "join").put("room", c[0].session()).put("name", "mallory").put("ref", "steal"));
        return c[1].reply("steal");
      })
      .compose(refused -> {
        ctx.verify(() -> assertEquals("invalid_room", refused.getString("code"), refused.encode()));
        return wrap(() -> publish(List.of(c[0].session()), emit(List.of(c[0].session()), List.of(), "private", "just you")));
      })
      .compose(v -> c[0].expect("event"))
      .compose(e -> wrap(() -> publish(List.of(), emit(List.of(), List.of(), "end"))))
      .compose(v -> c[1].expect("event"))
      .compose(end -> c[1].unread())
      .onComplete(ctx.succeeding(unread -> {
        ctx.verify(() -> {
          assertTrue(unread.stream().noneMatch(f -> "event".equals(f.getString("type"))), "leaked: " + unread);
        });
        ctx.completeNow();
      }));
  }

  @Test
  void socketsJoinLeaveAndDisconnect(Vertx vertx, VertxTestContext ctx) {
    WsClient[] c = new WsClient[2];
    Future.all(WsClient.connect(vertx, portA), WsClient.connect(vertx, portB))
      .compose(all -> {
        c[0] = all.resultAt(0);
        c[1] = all.resultAt(1);
        return c[0].join("lobby", "alice").compose(v -> c[1].join("lobby", "bob"));
      })
      // everyone in lobby joins "vip"
      .compose(v -> request(new JsonObject().put("type", 2)
        .put("opts", new JsonObject().put("rooms", new JsonArray().add("lobby")).put("except", new JsonArray()))
        .put("rooms", new JsonArray().add("vip"))))
      .compose(v -> Future.all(c[0].expect("presence", "vip"), c[1].expect("presence", "vip")))
      .compose(v -> c[0].publish("vip", "in vip"))
      .compose(v -> c[1].expect(f -> "in vip".equals(f.getString("text")), "vip message"))
      .compose(m -> {
        ctx.verify(() -> assertEquals("alice", m.getString("name"), "joined under the name used elsewhere"));
        // bob's session leaves vip
        return request(new JsonObject().put("type", 3)
          .put("opts", new JsonObject().put("rooms", new JsonArray().add(c[1].session())).put("except", new JsonArray()))
          .put("rooms", new JsonArray().add("vip")));
      })
      .compose(v -> c[0].expect("left", "vip"))
      .compose(left -> {
        ctx.verify(() -> assertEquals("bob", left.getString("name")));
        // disconnect everyone in lobby except alice's session
        return request(new JsonObject().put("type", 4).put("close", true)
          .put("opts", new JsonObject().put("rooms", new JsonArray().add("lobby")).put("except", new JsonArray().add(c[0].session()))));
      })
      .compose(v -> c[1].closed())
      .compose(code -> {
        ctx.verify(() -> assertEquals(4003, code));
        return c[0].expect("left", "lobby");
      })
      .onComplete(ctx.succeeding(left -> {
        ctx.verify(() -> assertEquals("bob", left.getString("name")));
        ctx.completeNow();
      }));
  }

  @Test
  void socketIoClientsGetTheOriginalEventAndArguments(Vertx vertx, VertxTestContext ctx) {
    io.socket.client.IO.Options o = new io.socket.client.IO.Options();
    o.forceNew = true;
    o.reconnection = false;
    io.socket.client.Socket sio = io.socket.client.IO.socket(java.net.URI.create("http://127.0.0.1:" + portB), o);
    io.vertx.core.Promise<Object[]> got = io.vertx.core.Promise.promise();
    io.vertx.core.Promise<Void> connected = io.vertx.core.Promise.promise();
    sio.on("news", got::tryComplete);
    sio.once(io.socket.client.Socket.EVENT_CONNECT, args -> connected.tryComplete());
    sio.connect();
    connected.future()
      .compose(v -> wrap(() -> publish(List.of(sio.id()), emit(List.of(sio.id()), List.of(), "news", "headline", 7))))
      .compose(v -> got.future())
      .onComplete(ctx.succeeding(args -> {
        ctx.verify(() -> {
          assertEquals("headline", args[0]);
          assertEquals(7, ((Number) args[1]).intValue());
        });
        sio.disconnect();
        ctx.completeNow();
      }));
  }

  private static <T> Future<T> wrap(IoSupplier<Future<T>> s) {
    try {
      return s.get();
    } catch (IOException e) {
      return Future.failedFuture(e);
    }
  }

  private interface IoSupplier<T> {
    T get() throws IOException;
  }
}
