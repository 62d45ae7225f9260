package dev.parley.transport.socketio;

import dev.parley.ParleyNode;
import dev.parley.config.ParleyConfig.SocketIoConfig;
import dev.parley.core.Hub;
import dev.parley.transport.InboundMemory;
import io.vertx.core.Vertx;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.handler.BodyHandler;

import java.util.function.Function;

/**
 * Socket.IO v4 clients at {@code socketio.path} (default {@code /socket.io/}): Engine.IO v4 polling and
 * WebSocket with upgrade, Socket.IO protocol v5 namespaces, events, acks and binary, in front of the
 * same hub as {@code /ws} and {@code /sockjs}.
 */
public final class SocketIoTransport {

  private SocketIoTransport() {
  }

  /** Mounts the chat on every configured namespace. */
  public static void mount(Router router, Vertx vertx, ParleyNode node, Hub hub) {
    SocketIoConfig config = node.config().socketio();
    ChatHandler.Formats formats = node.shared(ChatHandler.Formats.class, () -> new ChatHandler.Formats(config));
    SioRecovery recovery = new SioRecovery(config.recoveryMs(), node.broker().kept());
    ChatHandler chat = new ChatHandler(config, formats, recovery);
    mount(router, vertx, node, hub, config, nsp -> config.namespaces().contains(nsp) ? chat : null);
  }

  /** Mounts Socket.IO with the given handler per namespace (null for namespaces that do not exist). */
  public static void mount(Router router, Vertx vertx, ParleyNode node, Hub hub, SocketIoConfig config,
                           Function<String, SioHandler> handlers) {
    EngineServer engine = new EngineServer(vertx, node, config.path(), config.pingIntervalMs(), config.pingTimeoutMs(),
      config.maxPayload(), node.config().limits().outboundQueueBytes(),
      () -> new SioConnection(vertx, hub, handlers, config.connectTimeoutMs(), config.maxPayload(),
        node.config().limits().maxUnfinishedMs(), node.shared(InboundMemory.class, () -> InboundMemory.create(node.config().limits()))));
    mountEngine(router, config.path(), engine, config.maxPayload());
  }

  /** Mounts a bare Engine.IO endpoint (used for a plain echo server in the conformance harness). */
  public static void mountEngine(Router router, String path, EngineServer engine, int maxPayload) {
    String route = path.endsWith("/") ? path + "*" : path + "/*";
    router.route(route).handler(BodyHandler.create(false).setBodyLimit(maxPayload + 1024L));
    router.route(route).handler(engine);
  }
}
