package dev.parley.transport.sockjs;

import dev.parley.ParleyNode;
import dev.parley.config.ParleyConfig;
import dev.parley.core.CloseCode;
import dev.parley.core.Hub;
import dev.parley.transport.OutboundMemory;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpHeaders;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.handler.sockjs.SockJSHandler;
import io.vertx.ext.web.handler.sockjs.SockJSHandlerOptions;
import io.vertx.ext.web.handler.sockjs.SockJSSocket;

import java.util.regex.Pattern;

/**
 * The native protocol over SockJS at {@code /sockjs}, on every SockJS transport (websocket,
 * xhr-streaming, xhr-polling, eventsource, htmlfile, jsonp) so clients without WebSocket chat with
 * {@code /ws} clients in the same rooms.
 */
public final class SockJsTransport {

  /** Where the SockJS iframe page loads the client library from: the WebJar served by this server. */
  public static final String LIBRARY_URL = "/webjars/sockjs-client/1.6.1/dist/sockjs.min.js";

  private SockJsTransport() {
  }

  /**
   * vertx-web's SockJS closes the TCP connection after every polling or streaming response
   * (xhr, xhr_streaming, eventsource, htmlfile, jsonp) without saying so. A keep-alive client then
   * reuses the dying connection for its next {@code xhr_send} and that message is lost. Announcing
   * {@code Connection: close} on those responses makes clients open a fresh connection instead.
   * Mount before the SockJS routers.
   */
  public static void announceConnectionClose(RoutingContext ctx) {
    String path = ctx.request().path();
    if (RECEIVING_TRANSPORT.matcher(path).find()) {
      ctx.response().putHeader(HttpHeaders.CONNECTION, "close");
    }
    ctx.next();
  }

  /**
   * Refuses an {@code xhr_send} or {@code jsonp_send} body that is JSON but not an array of strings (a
   * {@code null}, a number, an object): vertx-web would log a stack trace and drop the messages, the
   * client none the wiser. The whole body is refused with the SockJS protocol's answer for a bad payload
   * (HTTP 500, {@code Broken JSON encoding.}) and a reason, so nothing in it is half-delivered. Malformed
   * JSON is left to vertx-web, which answers the same. Mount after the body handler.
   */
  public static void checkSendBody(RoutingContext ctx) {
    String path = ctx.request().path();
    boolean xhr = path.endsWith("/xhr_send");
    boolean jsonp = path.endsWith("/jsonp_send");
    if (!xhr && !jsonp || ctx.request().method() != io.vertx.core.http.HttpMethod.POST) {
      ctx.next();
      return;
    }
    String payload = jsonp && ctx.request().getFormAttribute("d") != null
      ? ctx.request().getFormAttribute("d")
      : ctx.body().asString();
    if (payload == null || payload.isEmpty()) {
      ctx.next();
      return;
    }
    if (!Boolean.FALSE.equals(arrayOfStrings(payload))) {
      ctx.next(); // an array of strings, or not JSON at all (vertx-web answers "Broken JSON encoding.")
    } else {
      ctx.response().setStatusCode(500).putHeader(HttpHeaders.CONTENT_TYPE, "text/plain; charset=UTF-8")
        .end("Broken JSON encoding. The payload must be a JSON array of strings; nothing in it was accepted.");
    }
  }

  /**
   * Whether a send body is a JSON array of strings: true, false (JSON, but something else), or null when
   * it is not JSON at all.
   */
  static Boolean arrayOfStrings(String payload) {
    com.fasterxml.jackson.databind.JsonNode messages;
    try {
      messages = dev.parley.core.Json.MAPPER.readTree(payload);
    } catch (java.io.IOException | RuntimeException e) {
      return null;
    }
    if (messages == null || !messages.isArray()) {
      return messages == null ? null : false;
    }
    for (com.fasterxml.jackson.databind.JsonNode m : messages) {
      if (!m.isTextual()) {
        return false;
      }
    }
    return true;
  }

  private static final Pattern RECEIVING_TRANSPORT = Pattern.compile("/(xhr|xhr_streaming|eventsource|htmlfile|jsonp)$");

  /** SockJS options shared by {@code /sockjs} and the bridge at {@code /eventbus}. */
  public static SockJSHandlerOptions options(ParleyConfig config) {
    SockJSHandlerOptions options = new SockJSHandlerOptions()
      .setHeartbeatInterval(config.heartbeat().intervalMs())
      .setSessionTimeout(config.sockjs().sessionTimeoutMs())
      .setInsertJSESSIONID(false)
      .setLibraryURL(LIBRARY_URL);
    config.sockjs().disabledTransports().forEach(options::addDisabledTransport);
    return options;
  }

  /**
   * The part of a SockJS socket's backlog that write completions do not show: SockJS keeps its own queue
   * while no polling request is attached, and says only whether it is full.
   */
  public static long backlog(SockJSSocket socket, int limit) {
    return socket.writeQueueFull() ? limit : 0;
  }

  /** The router to mount under {@code /sockjs*}. */
  public static Router router(Vertx vertx, ParleyNode node, Hub hub) {
    io.vertx.core.Context home = vertx.getOrCreateContext();
    return SockJSHandler.create(vertx, options(node.config())).socketHandler(socket -> {
      // vertx-web opens a polling session's socket from the request that first attaches to it, which may be
      // on another instance's event loop than the one that created the session: the connection belongs to
      // this router's hub, so it is made on the hub's loop
      if (!onLoopOf(home)) {
        home.runOnContext(v -> open(vertx, node, hub, socket));
      } else {
        open(vertx, node, hub, socket);
      }
    });
  }

  private static boolean onLoopOf(io.vertx.core.Context home) {
    io.vertx.core.Context current = Vertx.currentContext();
    return current != null && ((io.vertx.core.internal.ContextInternal) current).nettyEventLoop()
      == ((io.vertx.core.internal.ContextInternal) home).nettyEventLoop();
  }

  private static void open(Vertx vertx, ParleyNode node, Hub hub, SockJSSocket socket) {
    {
      ParleyNode.Ticket ticket = node.admit(socket.remoteAddress() == null ? null : socket.remoteAddress().hostAddress());
      if (ticket.refusal() != null) {
        // SockJS cannot carry the code: say it in a last frame, as every other close does
        String reason = ticket.refusal() == ParleyNode.Refusal.SERVER_FULL ? "server full" : "too many connections from this address";
        socket.write(SockJsConnection.closeNotice(CloseCode.SERVER_FULL, reason))
          .onComplete(ar -> socket.close(CloseCode.SERVER_FULL.code(), reason));
        return;
      }
      new SockJsConnection(hub, node.config(), vertx.getOrCreateContext(),
        node.shared(OutboundMemory.class, () -> OutboundMemory.create(node.config().limits())), socket, ticket::release);
    }
  }
}
