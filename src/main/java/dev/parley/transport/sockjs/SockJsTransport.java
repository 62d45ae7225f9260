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
    return SockJSHandler.create(vertx, options(node.config())).socketHandler(socket -> {
      ParleyNode.Ticket ticket = node.admit();
      if (ticket == null) {
        socket.close(CloseCode.SERVER_FULL.code(), "server full");
        return;
      }
      new SockJsConnection(hub, node.config(), vertx.getOrCreateContext(),
        node.shared(OutboundMemory.class, () -> OutboundMemory.create(node.config().limits())), socket, ticket::release);
    });
  }
}
