package dev.parley;

import dev.parley.support.TestServer;
import dev.parley.support.WsClient;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertNotNull;

/** {@code POST /api/rooms/{room}/messages}: keys, answers, and members receiving a normal message. */
@ExtendWith(VertxExtension.class)
@Timeout(value = 30, timeUnit = TimeUnit.SECONDS)
class PublishApiTest {

  private static final String KEY = "test-key-0123456789abcdef";

  private static Future<HttpClientResponse> post(HttpClient http, int port, String room, String auth, String body) {
    return http.request(HttpMethod.POST, port, "127.0.0.1", "/api/rooms/" + room + "/messages").compose(req -> {
      if (auth != null) {
        req.putHeader("Authorization", auth);
      }
      return req.putHeader("Content-Type", "application/json").send(Buffer.buffer(body));
    });
  }

  @Test
  void publishesToMembersWithAValidKey(Vertx vertx, VertxTestContext ctx) {
    JsonObject cfg = new JsonObject().put("api", new JsonObject().put("keys", new JsonArray().add(KEY)))
      .put("limits", new JsonObject().put("maxTextLength", 100).put("maxFrameBytes", 1024));
    HttpClient http = vertx.createHttpClient();
    TestServer.start(vertx, cfg, 1).compose(port -> WsClient.connect(vertx, port).compose(member -> member.join("ops", "watcher")
      .compose(v -> post(http, port, "ops", "Bearer " + KEY, new JsonObject().put("name", "deploy-bot").put("text", "release 1.2 is out").encode()))
      .compose(resp -> resp.body().map(body -> {
        assertEquals(202, resp.statusCode());
        assertNotNull(new JsonObject(body).getString("id"));
        return new JsonObject(body).getString("id");
      }))
      .compose(id -> member.expect("message", "ops").map(m -> {
        assertEquals("deploy-bot", m.getString("name"));
        assertEquals("release 1.2 is out", m.getString("text"));
        assertEquals("api", m.getString("session"));
        assertEquals(id, m.getString("id"));
        return null;
      }))
      .compose(v -> post(http, port, "ops", null, "{\"name\":\"x\",\"text\":\"y\"}"))
      .compose(resp -> {
        assertEquals(401, resp.statusCode(), "no key");
        return post(http, port, "ops", "Bearer wrong-key-0123456789", "{\"name\":\"x\",\"text\":\"y\"}");
      })
      .compose(resp -> {
        assertEquals(401, resp.statusCode(), "wrong key");
        return http.request(HttpMethod.POST, port, "127.0.0.1", "/api/rooms/ops/messages")
          .compose(req -> req.putHeader("X-Api-Key", KEY).send("{\"name\":\"x\",\"text\":\"via header\"}"));
      })
      .compose(resp -> {
        assertEquals(202, resp.statusCode(), "X-Api-Key works too");
        return post(http, port, "ops", "Bearer " + KEY, "{not json");
      })
      .compose(resp -> {
        assertEquals(400, resp.statusCode(), "malformed body");
        return post(http, port, "ops", "Bearer " + KEY, "{\"text\":\"no name\"}");
      })
      .compose(resp -> {
        assertEquals(400, resp.statusCode(), "missing name");
        return post(http, port, "bad%20room", "Bearer " + KEY, "{\"name\":\"x\",\"text\":\"y\"}");
      })
      .compose(resp -> {
        assertEquals(400, resp.statusCode(), "invalid room");
        return post(http, port, "ops", "Bearer " + KEY, new JsonObject().put("name", "x").put("text", "z".repeat(101)).encode());
      })
      .compose(resp -> {
        assertEquals(413, resp.statusCode(), "text too long");
        return post(http, port, "ops", "Bearer " + KEY, new JsonObject().put("name", "x").put("text", "z".repeat(5000)).encode());
      })
      .map(resp -> {
        assertEquals(413, resp.statusCode(), "body too large");
        return null;
      })))
      .onComplete(ctx.succeedingThenComplete());
  }

  @Test
  void theApiIsOffWithoutKeys(Vertx vertx, VertxTestContext ctx) {
    HttpClient http = vertx.createHttpClient();
    TestServer.start(vertx).compose(port -> post(http, port, "ops", "Bearer " + KEY, "{\"name\":\"x\",\"text\":\"y\"}"))
      .onComplete(ctx.succeeding(resp -> {
        ctx.verify(() -> assertEquals(404, resp.statusCode()));
        ctx.completeNow();
      }));
  }

  private static Future<JsonObject> get(HttpClient http, int port, String uri, String auth, int status) {
    return http.request(HttpMethod.GET, port, "127.0.0.1", uri).compose(req -> {
      if (auth != null) {
        req.putHeader("Authorization", auth);
      }
      return req.send();
    }).compose(resp -> resp.body().map(body -> {
      assertEquals(status, resp.statusCode(), body.toString());
      return new JsonObject(body);
    }));
  }

  private static List<String> texts(JsonObject page) {
    return page.getJsonArray("messages").stream().map(m -> ((JsonObject) m).getString("text")).toList();
  }

  /** The room's history over HTTP: newest first, paged with next, bounded below by since, behind the same key. */
  @Test
  void readsARoomsHistoryNewestFirstInPages(Vertx vertx, VertxTestContext ctx) {
    JsonObject cfg = new JsonObject().put("api", new JsonObject().put("keys", new JsonArray().add(KEY)));
    HttpClient http = vertx.createHttpClient();
    TestServer.start(vertx, cfg, 1).compose(port -> {
      Future<Void> posts = Future.succeededFuture();
      for (int i = 0; i < 25; i++) {
        String body = new JsonObject().put("name", "bot").put("text", "n" + i).encode();
        posts = posts.compose(v -> post(http, port, "log", "Bearer " + KEY, body).compose(resp -> resp.body()).mapEmpty());
      }
      return posts
        .compose(v -> get(http, port, "/api/rooms/log/messages?limit=10", "Bearer " + KEY, 200))
        .compose(page -> {
          JsonArray m = page.getJsonArray("messages");
          assertEquals(10, m.size());
          assertEquals("n24", m.getJsonObject(0).getString("text"), "newest first");
          assertEquals("n15", m.getJsonObject(9).getString("text"));
          assertEquals(25L, page.getLong("offset"));
          assertEquals(16L, page.getLong("next"));
          return get(http, port, "/api/rooms/log/messages?limit=10&before=" + page.getLong("next"), "Bearer " + KEY, 200);
        })
        .compose(page -> {
          assertEquals("n14", page.getJsonArray("messages").getJsonObject(0).getString("text"), "the next page goes on");
          return get(http, port, "/api/rooms/log/messages?since=20&limit=10", "Bearer " + KEY, 200);
        })
        .compose(page -> {
          assertEquals(List.of("n24", "n23", "n22", "n21", "n20"), texts(page), "only what came after offset 20");
          assertNull(page.getValue("next"), "nothing older to page to");
          return get(http, port, "/api/rooms/log/messages?since=5&limit=10&before=16&epoch=" + page.getString("epoch"), "Bearer " + KEY, 200);
        })
        .compose(page -> {
          assertEquals(List.of("n14", "n13", "n12", "n11", "n10", "n9", "n8", "n7", "n6", "n5"), texts(page));
          assertNull(page.getValue("next"), "the page reached since");
          return get(http, port, "/api/rooms/log/messages?since=5&epoch=other", "Bearer " + KEY, 409);
        })
        .compose(gone -> {
          assertEquals("epoch_changed", gone.getString("error"));
          return get(http, port, "/api/rooms/log/messages", null, 401);
        })
        .compose(denied -> get(http, port, "/api/rooms/log/messages?limit=x", "Bearer " + KEY, 400));
    }).onComplete(ctx.succeedingThenComplete());
  }
}
