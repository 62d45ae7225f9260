package dev.parley.conformance;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import dev.parley.ParleyNode;
import dev.parley.config.ParleyConfig;
import dev.parley.core.Hub;
import dev.parley.core.Json;
import dev.parley.transport.socketio.EngineListener;
import dev.parley.transport.socketio.EngineServer;
import dev.parley.transport.socketio.EngineSession;
import dev.parley.transport.socketio.SioAck;
import dev.parley.transport.socketio.SioHandler;
import dev.parley.transport.socketio.SioSocket;
import dev.parley.transport.socketio.SocketIoTransport;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;

import java.util.List;

/**
 * Parley's Engine.IO and Socket.IO layers set up the way the official conformance suites
 * (socketio/engine.io-protocol and socketio/socket.io-protocol, {@code test-suite/}) expect: pingInterval
 * 300, pingTimeout 200, maxPayload 1000000, connectTimeout 1000, an Engine.IO echo server at
 * {@code /engine.io/}, Socket.IO at {@code /socket.io/} with the {@code auth}, {@code message-back} and
 * {@code message-with-ack} handlers and a {@code /custom} namespace.
 *
 * <p>Run it: {@code mvn -B test-compile && java -cp "target/classes:target/test-classes:$(cat target/test-classpath.txt)" dev.parley.conformance.ConformanceServer 3000}
 * (see docs/socketio.md), then point the suites at {@code http://localhost:3000}.
 */
public final class ConformanceServer extends VerticleBase {

  private final int port;
  private HttpServer server;

  public ConformanceServer(int port) {
    this.port = port;
  }

  public static ParleyConfig config(int port) {
    return ParleyConfig.from(new JsonObject()
      .put("http", new JsonObject().put("host", "127.0.0.1").put("port", port))
      .put("management", new JsonObject().put("port", 0))
      .put("limits", new JsonObject().put("ratePerSecond", 100_000).put("rateBurst", 100_000))
      .put("socketio", new JsonObject().put("pingIntervalMs", 300).put("pingTimeoutMs", 200).put("maxPayload", 1_000_000)
        .put("connectTimeoutMs", 1_000).put("namespaces", new JsonArray().add("/").add("/custom"))));
  }

  public static void main(String[] args) {
    int port = args.length > 0 ? Integer.parseInt(args[0]) : 3000;
    Vertx vertx = Vertx.vertx();
    vertx.deployVerticle(new ConformanceServer(port)).onComplete(ar -> {
      if (ar.failed()) {
        ar.cause().printStackTrace();
        vertx.close();
      } else {
        System.out.println("conformance server listening on http://localhost:" + port);
      }
    });
  }

  /** The port the server bound (useful with port 0). */
  public int actualPort() {
    return server.actualPort();
  }

  @Override
  public Future<?> start() {
    ParleyConfig config = config(port);
    // back on this verticle's loop: the node completes on its own context
    return dev.parley.broker.Callers.onCaller(ParleyNode.acquire(vertx, config)).compose(node -> {
      Hub hub = new Hub(node.nextHubId(), node.broker(), config.limits(), System::currentTimeMillis);
      Router router = Router.router(vertx);
      EngineServer echo = new EngineServer(vertx, node, "/engine.io/", 300, 200, 1_000_000, 1 << 20, Echo::new);
      SocketIoTransport.mountEngine(router, "/engine.io/", echo, 1_000_000);
      SioHandler handlers = new Handlers();
      SocketIoTransport.mount(router, vertx, node, hub, config.socketio(),
        nsp -> "/".equals(nsp) || "/custom".equals(nsp) ? handlers : null);
      server = vertx.createHttpServer(new HttpServerOptions().setMaxWebSocketMessageSize(1_100_000)
        .setMaxWebSocketFrameSize(1_100_000)).requestHandler(router);
      return server.listen(port, "127.0.0.1");
    });
  }

  @Override
  public Future<?> stop() {
    return ParleyNode.release(vertx);
  }

  /** An Engine.IO echo: every message comes back as it was sent. */
  static final class Echo implements EngineListener {
    @Override
    public void onMessage(EngineSession session, String text) {
      session.sendMessage(text);
    }

    @Override
    public void onBinary(EngineSession session, Buffer data) {
      session.sendBinary(data);
    }

    @Override
    public void onClose(EngineSession session, String reason) {
    }
  }

  /** The suites' handlers: "auth" on connect, "message" answered by "message-back", "message-with-ack" acked. */
  static final class Handlers implements SioHandler {
    @Override
    public io.vertx.core.Future<String> onConnect(SioSocket socket, JsonNode auth) {
      return io.vertx.core.Future.succeededFuture();
    }

    @Override
    public void onConnected(SioSocket socket, JsonNode auth) {
      socket.emit("auth", Json.MAPPER.createArrayNode().add(auth));
    }

    @Override
    public void onEvent(SioSocket socket, String event, ArrayNode args, List<Buffer> attachments, SioAck ack) {
      switch (event) {
        case "message" -> socket.emit("message-back", args, attachments);
        case "message-with-ack" -> {
          if (ack != null) {
            ack.send(args, attachments);
          }
        }
        default -> {
        }
      }
    }
  }
}
