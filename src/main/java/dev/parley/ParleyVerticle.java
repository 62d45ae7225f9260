package dev.parley;

import dev.parley.broker.Callers;
import dev.parley.config.ParleyConfig;
import dev.parley.core.CloseCode;
import dev.parley.core.Hub;
import dev.parley.http.WebRoutes;
import dev.parley.ingress.PublishApi;
import dev.parley.transport.OriginGuard;
import dev.parley.transport.InputTimeouts;
import dev.parley.transport.bridge.BridgeTransport;
import dev.parley.transport.socketio.SocketIoTransport;
import dev.parley.transport.sockjs.SockJsRelay;
import dev.parley.transport.sockjs.SockJsTransport;
import dev.parley.transport.websocket.WebSocketTransport;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.handler.BodyHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.BindException;
import java.util.List;

/**
 * One transport instance: an HTTP server on the shared port with its own {@link Hub} on its own event
 * loop. {@code -instances N} deploys N of these; they share the node's broker and presence store.
 * Wiring only: configuration is validated here, so a bad value fails the deployment.
 */
public final class ParleyVerticle extends VerticleBase {

  private static final Logger LOG = LoggerFactory.getLogger(ParleyVerticle.class);

  /** How long a stopping server waits for its connections to finish closing. */
  private static final long SHUTDOWN_GRACE_SECONDS = 3;

  private ParleyConfig config;
  private Hub hub;
  private HttpServer server;
  private WebSocketTransport webSocket;
  private boolean acquired;

  @Override
  public Future<?> start() {
    try {
      config = ParleyConfig.from(config());
    } catch (RuntimeException e) {
      return Future.failedFuture(e);
    }
    acquired = true;
    // The node is shared by every instance: whoever completes its start, this instance carries on on its
    // own event loop, so its server (and every connection it accepts) is on the same loop as its hub.
    return Callers.onCaller(ParleyNode.acquire(vertx, config)).compose(this::startOn);
  }

  private Future<HttpServer> startOn(ParleyNode node) {
    hub = new Hub(node.nextHubId(), node.broker(), config.limits(), System::currentTimeMillis, node.access());
    if (config.management().metrics()) {
      hub.telemetry(node.metrics());
      EventLoopLag.watch(vertx, hub.id(), node.metrics());
    }
    node.attach(hub, context);
    webSocket = new WebSocketTransport(vertx, node, hub);

    Router router = Router.router(vertx);
    OriginGuard origins = new OriginGuard(config.http().allowedOrigins(), config.http().publicOrigins());
    // SockJS's xhr transports need the body parsed; one message must fit, with room for JSON escaping.
    // (jsonp_send URL-encodes it: up to three times more)
    BodyHandler body = BodyHandler.create(false).setBodyLimit((config.limits().maxFrameBytes() * 6L + 1024) * 3);

    // Every realtime endpoint refuses foreign browser origins before anything else runs. Plain paths,
    // no pathRegex: a capturing group would set the request parameter "param0", which vertx-web's
    // SockJS reads as the session id (every HTTP-transport session would then share one id).
    for (String path : List.of("/ws", "/sockjs*", "/eventbus*")) {
      router.route(path).handler(origins);
    }
    router.route("/sockjs/*").handler(SockJsTransport::announceConnectionClose);
    router.route("/eventbus/*").handler(SockJsTransport::announceConnectionClose);
    router.route("/ws").handler(webSocket);
    Future<Router> bridge = Future.succeededFuture();
    if (config.sockjs().enabled()) {
      router.route("/sockjs*").handler(body).handler(SockJsTransport::checkSendBody)
        .handler(SockJsRelay.create(vertx, node, "/sockjs"))
        .subRouter(SockJsTransport.router(vertx, node, hub));
    }
    if (config.bridge().enabled()) {
      bridge = BridgeTransport.create(vertx, node, hub)
        .onSuccess(r -> router.route("/eventbus*").handler(body).handler(SockJsTransport::checkSendBody)
          .handler(SockJsRelay.create(vertx, node, "/eventbus")).subRouter(r));
    }
    if (config.socketio().enabled()) {
      router.route(config.socketio().path() + "*").handler(origins);
      SocketIoTransport.mount(router, vertx, node, hub);
    }
    return Callers.onCaller(bridge).compose(r -> {
      PublishApi.mount(router, config, hub);
      WebRoutes.mount(router, node, hub);
      // A hard cap well above limits.maxFrameBytes: SockJS wraps each message in a JSON array of JSON
      // strings, which can grow it up to six times. The documented limit itself is checked per message
      // by each transport, which closes with 1009.
      int hardCap = Math.max(config.limits().maxFrameBytes() * 6 + 1024,
        config.socketio().enabled() ? config.socketio().maxPayload() + 1024 : 0);
      HttpServerOptions options = new HttpServerOptions()
        .setMaxWebSocketFrameSize(hardCap)
        .setMaxWebSocketMessageSize(hardCap)
        // jsonp_send carries its messages URL-encoded in one form field, up to three times their size
        .setMaxFormAttributeSize(hardCap * 3)
        .setWebSocketClosingTimeout(5)
        // no WebSocket compression: events are written as ready frames, and without an extension a frame
        // with reserved bits set is a protocol error (1002), as RFC 6455 section 5.2 says
        .setPerMessageWebSocketCompressionSupported(false)
        .setPerFrameWebSocketCompressionSupported(false)
        // cleartext HTTP/2 only when asked for: nothing here needs it, and its prior-knowledge detection
        // holds a new connection back from Vert.x (and from http.idleTimeoutMs) until its first bytes arrive
        .setHttp2ClearTextEnabled(config.http().h2c());
      server = vertx.createHttpServer(options).requestHandler(router)
        .connectionHandler(conn -> InputTimeouts.install(conn, config.http().idleTimeoutMs(), config.limits().maxUnfinishedMs()));
      // Port 0 means "any free port": Vert.x shares a random port between instances only when it is
      // asked for as a negative number, so every instance of this node ends up on the same one.
      int port = config.http().port() == 0 ? -1 : config.http().port();
      return server.listen(port, config.http().host()).recover(err -> Future.failedFuture(err instanceof BindException
        ? new IllegalStateException("cannot listen on " + config.http().host() + ":" + config.http().port()
          + " (http.host / http.port): " + err.getMessage())
        : err));
    }).onSuccess(s -> {
      node.port(s.actualPort());
      LOG.info("hub {} listening on http://{}:{}/ (transport: {})", hub.id(), config.http().host(), s.actualPort(),
        vertx.isNativeTransportEnabled() ? "native epoll" : "NIO");
    });
  }

  @Override
  public Future<?> stop() {
    if (webSocket != null) {
      webSocket.stop();
    }
    ParleyNode node = ParleyNode.of(vertx);
    if (node != null && hub != null) {
      node.detach(hub);
    }
    Future<Void> left = hub == null ? Future.succeededFuture() : hub.shutdown(CloseCode.GOING_AWAY, "server shutting down");
    // a graceful shutdown, not a close: the connections were just told why they end (a 1001 close frame,
    // SockJS's close notice) and need a moment to write it before their TCP connections go
    Future<Void> closed = left.eventually(() -> server == null ? Future.succeededFuture()
      : server.shutdown(SHUTDOWN_GRACE_SECONDS, java.util.concurrent.TimeUnit.SECONDS));
    return closed.eventually(() -> acquired ? ParleyNode.release(vertx) : Future.succeededFuture());
  }
}
