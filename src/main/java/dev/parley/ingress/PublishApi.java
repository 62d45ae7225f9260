package dev.parley.ingress;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.config.ParleyConfig;
import dev.parley.core.ChatEvent;
import dev.parley.core.ChatException;
import dev.parley.core.ErrorCode;
import dev.parley.core.Hub;
import dev.parley.core.Json;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.List;

/**
 * {@code POST /api/rooms/{room}/messages} with {@code {"name":"...","text":"..."}} and an API key
 * ({@code Authorization: Bearer <key>} or {@code X-Api-Key: <key>}): members of the room on every node
 * get a normal {@code message} (session {@code "api"}). Answers 202 {@code {"id":...}}; 401 without a
 * valid key; 400 on a bad body, room or name; 413 when the body or text is too large.
 *
 * <p>{@code GET /api/rooms/{room}/messages?since=&before=&limit=} with the same key reads the room's history,
 * newest first: {@code {"room","epoch","offset","messages":[...],"next":<offset>|null}}, where {@code next}
 * is the {@code before} of the following (older) page. {@code since} stops the paging at an offset the
 * caller already has (only later messages come); with {@code epoch} beside it, a stream that has since
 * started again answers 409 {@code epoch_changed}.
 *
 * <p>Instead of a key, a signed token ({@code Authorization: Bearer <jwt>}, with {@code auth.mode} mixed or
 * token) may publish to rooms its {@code publish} claim lists (under its own name; {@code name} may be left
 * out) and read the history of rooms it may join; 403 otherwise. Mounted when {@code api.keys} is not empty
 * or tokens are accepted.
 */
public final class PublishApi {

  private final Hub hub;
  private final List<byte[]> keys;

  private PublishApi(Hub hub, List<String> keys) {
    this.hub = hub;
    this.keys = keys.stream().map(k -> k.getBytes(StandardCharsets.UTF_8)).toList();
  }

  /** Where a request's verified token is kept between the handlers (absent: an API key). */
  private static final String IDENTITY = "parley.identity";

  public static void mount(Router router, ParleyConfig config, Hub hub) {
    if (!config.api().enabled() && !hub.access().acceptsTokens()) {
      return;
    }
    PublishApi api = new PublishApi(hub, config.api().keys());
    // Two routes, so the key is checked before any of the body is read.
    router.post("/api/rooms/:room/messages").handler(api::authenticate);
    router.post("/api/rooms/:room/messages")
      .handler(BodyHandler.create(false).setBodyLimit(config.limits().maxFrameBytes()))
      .handler(api::publish);
    router.get("/api/rooms/:room/messages").handler(api::authenticate).handler(api::read);
  }

  private void authenticate(RoutingContext ctx) {
    String auth = ctx.request().getHeader(HttpHeaders.AUTHORIZATION);
    String key = auth != null && auth.regionMatches(true, 0, "Bearer ", 0, 7) ? auth.substring(7).trim()
      : ctx.request().getHeader("X-Api-Key");
    if (key != null && valid(key)) {
      ctx.next();
      return;
    }
    if (key != null && hub.access().acceptsTokens() && key.indexOf('.') > 0) {
      ctx.request().pause();
      hub.access().authenticator().verify(key).onComplete(ar -> {
        ctx.request().resume();
        if (ar.failed()) {
          unauthorized(ctx, ar.cause().getMessage());
          return;
        }
        dev.parley.core.Identity identity = ar.result();
        String room = ctx.pathParam("room");
        boolean posting = ctx.request().method() == io.vertx.core.http.HttpMethod.POST;
        boolean allowed;
        try {
          if (posting) {
            hub.access().checkPublish(identity, room);
            allowed = identity.publish() != null;
          } else {
            hub.access().checkJoin(identity, room);
            allowed = true;
          }
        } catch (ChatException denied) {
          allowed = false;
        }
        if (!allowed) {
          answer(ctx, 403, new JsonObject().put("error", ErrorCode.ACCESS_DENIED.wire()).put("message", posting
            ? "the token's publish claim does not cover room " + room : "the token does not allow room " + room));
          return;
        }
        ctx.put(IDENTITY, identity);
        ctx.next();
      });
      return;
    }
    unauthorized(ctx, "a valid API key or token is required");
  }

  private static void unauthorized(RoutingContext ctx, String message) {
    ctx.response().putHeader("WWW-Authenticate", "Bearer");
    answer(ctx, 401, new JsonObject().put("error", "unauthorized").put("message", message));
  }

  private boolean valid(String key) {
    byte[] given = key.getBytes(StandardCharsets.UTF_8);
    boolean ok = false;
    for (byte[] k : keys) {
      ok |= MessageDigest.isEqual(k, given); // constant time per key, and every key is checked
    }
    return ok;
  }

  private void publish(RoutingContext ctx) {
    try {
      JsonNode body = Json.parseTree(ctx.body().asString());
      dev.parley.core.Identity identity = ctx.get(IDENTITY);
      if (!body.isObject() || !(identity != null || body.path("name").isTextual()) || !body.path("text").isTextual()) {
        throw new ChatException(ErrorCode.BAD_REQUEST, "body must be {\"name\": string, \"text\": string}");
      }
      String name = identity != null ? identity.name() : body.get("name").textValue();
      hub.publishAs(ctx.pathParam("room"), name, body.get("text").textValue(), identity == null ? null : identity.user())
        .onSuccess(m -> {
          JsonObject answer = new JsonObject().put("id", m.id());
          if (m.offset() != null) {
            answer.put("offset", m.offset()).put("epoch", m.epoch());
          }
          answer(ctx, 202, answer);
        })
        .onFailure(err -> refuse(ctx, err instanceof ChatException e ? e
          : new ChatException(ErrorCode.UNAVAILABLE, "could not post, try again")));
    } catch (ChatException e) {
      refuse(ctx, e);
    }
  }

  private void read(RoutingContext ctx) {
    try {
      long before = number(ctx, "before", 0);
      long since = number(ctx, "since", 0);
      String epoch = ctx.queryParams().get("epoch");
      int limit = (int) number(ctx, "limit", 50);
      if (since < 0) {
        throw new ChatException(ErrorCode.BAD_REQUEST, "since must be 0 or more");
      }
      String room = ctx.pathParam("room");
      hub.history(null, room, before, limit)
        .onSuccess(page -> {
          if (epoch != null && !epoch.isEmpty() && !epoch.equals(page.top().epoch())) {
            answer(ctx, 409, new JsonObject().put("error", "epoch_changed")
              .put("message", "the room's stream started again: what came before is gone")
              .put("epoch", page.top().epoch()).put("offset", page.top().offset()));
            return;
          }
          JsonArray newestFirst = new JsonArray();
          long oldest = 0;
          for (int i = page.messages().size() - 1; i >= 0; i--) {
            Long offset = page.messages().get(i).offset();
            if (offset != null && offset <= since) {
              break;
            }
            oldest = offset == null ? 0 : offset;
            newestFirst.add(new JsonObject(Json.encode(page.messages().get(i))));
          }
          Long next = newestFirst.size() < page.messages().size() || oldest <= since + 1 ? null : oldest;
          answer(ctx, 200, new JsonObject().put("room", room).put("epoch", page.top().epoch())
            .put("offset", page.top().offset()).put("messages", newestFirst).put("next", next));
        })
        .onFailure(err -> refuse(ctx, err instanceof ChatException e ? e
          : new ChatException(ErrorCode.UNAVAILABLE, "history is unavailable, try again")));
    } catch (ChatException e) {
      refuse(ctx, e);
    }
  }

  private static long number(RoutingContext ctx, String name, long otherwise) {
    String v = ctx.queryParams().get(name);
    if (v == null || v.isEmpty()) {
      return otherwise;
    }
    try {
      return Long.parseLong(v);
    } catch (NumberFormatException e) {
      throw new ChatException(ErrorCode.BAD_REQUEST, name + " must be an integer");
    }
  }

  private static void refuse(RoutingContext ctx, ChatException e) {
    int status = switch (e.code()) {
      case TOO_LARGE -> 413;
      case UNAVAILABLE -> 503;
      default -> 400;
    };
    answer(ctx, status, new JsonObject().put("error", e.code().wire()).put("message", e.getMessage()));
  }

  private static void answer(RoutingContext ctx, int status, JsonObject body) {
    ctx.response().setStatusCode(status).putHeader(HttpHeaders.CONTENT_TYPE, "application/json").end(body.encode());
  }
}
