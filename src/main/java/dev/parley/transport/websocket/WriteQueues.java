package dev.parley.transport.websocket;

import dev.parley.transport.Internals;
import io.vertx.core.http.HttpConnection;
import io.vertx.core.http.ServerWebSocket;
import io.vertx.core.internal.http.WebSocketInternal;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.reflect.Constructor;
import java.lang.reflect.Field;

/**
 * Per-connection memory: Vert.x 5.0.10 gives every connection it makes (the HTTP/1 connection that
 * was upgraded, then the WebSocket connection) a multi-producer outbound queue whose first chunk is a
 * 1024-slot array, about 4.9 KB each and so nearly 10 KB per WebSocket client, allocated up front and
 * kept for the connection's life. Vert.x needs that queue only when writes may come from other threads.
 * Parley writes to a /ws client only on the event loop that owns it (its hub's), so it swaps both for
 * the direct queue Vert.x itself uses in its strict thread mode ({@code HttpServerOptions.setStrictThreadMode},
 * which can not be turned on for the whole server: Engine.IO and SockJS polling answer requests of one
 * event loop from another). The upgraded HTTP connection writes nothing after the handshake.
 *
 * <p>The same step lets go of the handshake: Vert.x's channel handler for the WebSocket keeps the function
 * that created its connection for the connection's life, and that function holds the whole upgrade
 * request (the HTTP connection and its removed pipeline, the request and response with their headers,
 * Netty's handshaker), about 1.5 KB per client that nothing reads again. The function is called once, when
 * the handler is added; Parley clears it after the upgrade. The socket's reference to the request headers
 * (about 600 bytes more) is swapped for a shared empty read-only map: transports read what they need from
 * the request (the Authorization header) before this step, and nothing reads the socket's headers later.
 * Its URI, path and addresses stay.
 *
 * <p>This reads Vert.x internals reflectively; if they ever change, the swap is skipped (a warning through
 * {@link Internals}) and the connection simply keeps Vert.x's default queue.
 */
public final class WriteQueues {

  private static final Logger LOG = LoggerFactory.getLogger(WriteQueues.class);

  private static final Field QUEUE;
  private static final Field WS_CONN;
  private static final Constructor<?> DIRECT;
  private static final Field FACTORY;
  private static final Field HEADERS;
  private static final io.vertx.core.MultiMap NO_HEADERS = io.vertx.core.http.HttpHeaders.headers().copy(false);
  private static final java.util.concurrent.atomic.AtomicLong SWAPPED = new java.util.concurrent.atomic.AtomicLong();
  private static final java.util.concurrent.atomic.AtomicLong RELEASED = new java.util.concurrent.atomic.AtomicLong();

  static {
    Field queue = null;
    Field wsConn = null;
    Constructor<?> direct = null;
    try {
      Class<?> vertxConnection = Class.forName("io.vertx.core.net.impl.VertxConnection");
      queue = vertxConnection.getDeclaredField("outboundMessageQueue");
      queue.setAccessible(true);
      direct = Class.forName("io.vertx.core.net.impl.VertxConnection$DirectOutboundMessageQueue")
        .getDeclaredConstructor(vertxConnection);
      direct.setAccessible(true);
      wsConn = Class.forName("io.vertx.core.http.impl.WebSocketImplBase").getDeclaredField("conn");
      wsConn.setAccessible(true);
    } catch (ReflectiveOperationException | RuntimeException e) {
      Internals.fallback("write-queues", e.toString());
      queue = null;
    }
    QUEUE = queue;
    WS_CONN = wsConn;
    DIRECT = direct;
    Field factory = null;
    Field headers = null;
    try {
      factory = Class.forName("io.vertx.core.net.impl.VertxHandler").getDeclaredField("connectionFactory");
      factory.setAccessible(true);
      headers = Class.forName("io.vertx.core.http.impl.WebSocketImplBase").getDeclaredField("headers");
      headers.setAccessible(true);
      if (!headers.getType().isInstance(NO_HEADERS)) {
        throw new IllegalStateException("headers of type " + headers.getType().getName());
      }
    } catch (ReflectiveOperationException | RuntimeException e) {
      Internals.fallback("upgrade-request", e.toString());
      factory = null;
    }
    FACTORY = factory;
    HEADERS = headers;
  }

  private WriteQueues() {
  }

  /**
   * Swaps both queues for direct ones and lets go of the upgrade request. Called on the connection's event
   * loop right after the upgrade, before anything is written to the
   * WebSocket: {@code upgraded} is the HTTP connection the handshake came on, {@code ws} the unwrapped socket.
   * Afterwards {@code ws.headers()} is empty: read what is needed from the request first.
   */
  public static void afterUpgrade(HttpConnection upgraded, ServerWebSocket ws) {
    if (!(ws instanceof WebSocketInternal internal)) {
      Internals.fallback("write-queues", "not a Vert.x WebSocket: " + ws.getClass().getName());
      return;
    }
    releaseHandshake(internal);
    if (QUEUE == null) {
      return;
    }
    try {
      if (swap(upgraded) & swap(WS_CONN.get(ws))) {
        SWAPPED.incrementAndGet();
      }
    } catch (ReflectiveOperationException | RuntimeException e) {
      Internals.fallback("write-queues", e.toString());
    }
  }

  /**
   * Clears the connection factory of the WebSocket's Vert.x handler, and with it the upgrade request, and the
   * socket's headers (read them from the request before this).
   */
  private static void releaseHandshake(WebSocketInternal ws) {
    if (FACTORY == null) {
      return;
    }
    Object handler = ws.channelHandlerContext().handler();
    if (!FACTORY.getDeclaringClass().isInstance(handler)) {
      Internals.fallback("upgrade-request", "handler " + handler.getClass().getName());
      return;
    }
    try {
      FACTORY.set(handler, null);
      HEADERS.set(ws, NO_HEADERS);
      RELEASED.incrementAndGet();
    } catch (ReflectiveOperationException | RuntimeException e) {
      Internals.fallback("upgrade-request", e.toString());
    }
  }

  private static boolean swap(Object connection) throws ReflectiveOperationException {
    if (connection != null && QUEUE.getDeclaringClass().isInstance(connection)) {
      QUEUE.set(connection, DIRECT.newInstance(connection));
      return true;
    }
    return false;
  }

  /** How many WebSocket clients got both queues swapped since start (a test checks it still happens). */
  static long swapped() {
    return SWAPPED.get();
  }

  /** How many WebSocket clients let go of their upgrade request since start (a test checks it happens). */
  static long released() {
    return RELEASED.get();
  }
}
