package dev.parley.transport.websocket;

import dev.parley.config.ParleyConfig;
import dev.parley.core.CloseCode;
import dev.parley.core.Hub;
import dev.parley.transport.Internals;
import dev.parley.transport.NativeConnection;
import dev.parley.transport.InputTimeouts;
import dev.parley.transport.OutboundMemory;
import io.vertx.core.Context;
import io.netty.handler.codec.http.websocketx.CorruptedWebSocketFrameException;
import dev.parley.core.Envelope;
import io.netty.channel.ChannelHandlerContext;
import io.vertx.core.http.ServerWebSocket;
import io.vertx.core.internal.http.WebSocketInternal;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.function.Consumer;

/**
 * One client of {@code /ws}: text frames in and out, pongs and every other frame count as signs of
 * life for the heartbeat. The outbound queue is Vert.x's write queue, bounded by
 * {@code limits.outboundQueueBytes}.
 */
final class WebSocketConnection extends NativeConnection {

  private static final Logger LOG = LoggerFactory.getLogger(WebSocketConnection.class);

  final ServerWebSocket ws;
  private final ChannelHandlerContext channel;
  private final FrameWriter writer;
  long lastSeen;
  long pingSentAt;

  WebSocketConnection(Hub hub, ParleyConfig config, Context context, OutboundMemory memory, ServerWebSocket ws,
                      long now, FrameWriter writer, Consumer<WebSocketConnection> onEnd) {
    super(hub, config, context, memory);
    this.ws = ws;
    this.writer = writer;
    this.channel = channelOf(ws);
    this.lastSeen = now;
    ws.setWriteQueueMaxSize(config.limits().outboundQueueBytes());
    int maxBytes = config.limits().maxFrameBytes();
    ws.textMessageHandler(text -> {
      alive();
      if (utf8Length(text, maxBytes) > maxBytes) {
        close(CloseCode.TOO_BIG, "message larger than limits.maxFrameBytes");
      } else {
        onText(text);
      }
    });
    ws.binaryMessageHandler(data -> {
      alive();
      refuse("binary frames are not supported: send JSON text frames");
    });
    ws.pongHandler(data -> alive());
    ws.exceptionHandler(err -> {
      if (err instanceof CorruptedWebSocketFrameException corrupted
        && corrupted.closeStatus().code() == CloseCode.TOO_BIG.code()) {
        // one frame over limits.maxFrameBytes (Netty's decoder refused it)
        close(CloseCode.TOO_BIG, "frame larger than limits.maxFrameBytes");
      } else if (err instanceof IllegalStateException && err.getMessage() != null
        && err.getMessage().contains("overflow max message size")) {
        // fragments that add up to more than limits.maxFrameBytes (Vert.x's message aggregation refused it)
        close(CloseCode.TOO_BIG, "message larger than limits.maxFrameBytes");
      } else if (err instanceof CorruptedWebSocketFrameException corrupted
        && corrupted.closeStatus().code() == CloseCode.INVALID_PAYLOAD.code()) {
        close(CloseCode.INVALID_PAYLOAD, "text frame is not valid UTF-8");
      } else if (err instanceof CorruptedWebSocketFrameException) {
        close(CloseCode.PROTOCOL_ERROR, "malformed WebSocket frame");
      } else {
        LOG.debug("WebSocket error: session={}", session() == null ? "-" : session().id(), err);
      }
    });
    ws.closeHandler(v -> {
      ended();
      onEnd.accept(this);
    });
    open(ws.headers().get("Authorization"));
  }

  @Override
  public String address() {
    return ws.remoteAddress() == null ? null : ws.remoteAddress().hostAddress();
  }

  /** UTF-8 length of a string, counting no further than just past {@code limit}. */
  static int utf8Length(String s, int limit) {
    if (s.length() > limit) {
      return s.length();
    }
    int bytes = 0;
    for (int i = 0; i < s.length() && bytes <= limit; i++) {
      char ch = s.charAt(i);
      if (ch < 0x80) {
        bytes += 1;
      } else if (ch < 0x800) {
        bytes += 2;
      } else if (Character.isHighSurrogate(ch)) {
        bytes += 4;
        i++;
      } else {
        bytes += 3;
      }
    }
    return bytes;
  }

  private void alive() {
    lastSeen = System.nanoTime();
    pingSentAt = 0;
  }

  @Override
  protected void write(String frame) {
    if (fastPath()) {
      writer.writeText(channel, frame);
    } else {
      ws.writeTextMessage(frame);
    }
  }

  @Override
  protected void writeEvent(Envelope event) {
    if (fastPath()) {
      writer.writeEvent(channel, event);
    } else {
      ws.writeTextMessage(event.json());
    }
  }

  /**
   * The fast path writes to the channel directly and must run on the channel's own event loop, which
   * is the hub's. A write from anywhere else is a bug (the assertion fails the tests); in production it
   * takes Vert.x's thread-safe path instead of corrupting the channel.
   */
  private boolean fastPath() {
    if (channel == null) {
      return false;
    }
    boolean inLoop = channel.executor().inEventLoop();
    assert inLoop : "write to a /ws connection off its event loop: " + Thread.currentThread().getName();
    return inLoop;
  }

  /**
   * The Netty context under a server WebSocket, for the {@link FrameWriter} fast path, or null (and Vert.x's
   * own write path) when the internals are not as expected. vertx-web's router hands out a wrapper around
   * Vert.x's own WebSocket with no accessor for it, so the wrapped socket is read reflectively (vertx-web
   * 5.0.10). The fast path writes complete frames below Vert.x's handler, so it is taken only when the
   * handlers below are the frame codecs it expects (never a TLS or unknown handler).
   */
  static ChannelHandlerContext channelOf(ServerWebSocket ws) {
    if (!(unwrap(ws) instanceof WebSocketInternal internal)) {
      return null;
    }
    ChannelHandlerContext ctx = internal.channelHandlerContext();
    String unexpected = unexpectedHandlerBelow(ctx);
    if (unexpected != null) {
      Internals.fallback("ws-pipeline", "handler " + unexpected + " below Vert.x's");
      return null;
    }
    return ctx;
  }

  /** Handlers that may sit between the channel and Vert.x's handler of a WebSocket: frame codecs only. */
  private static final java.util.List<String> FRAME_CODECS = java.util.List.of(
    "io.netty.handler.codec.http.websocketx.", "io.netty.handler.codec.http.websocketx.extensions.",
    InputTimeouts.class.getName());

  /** The first handler below {@code ctx} that is not a known frame codec, or null. */
  static String unexpectedHandlerBelow(ChannelHandlerContext ctx) {
    for (java.util.Map.Entry<String, io.netty.channel.ChannelHandler> e : ctx.pipeline()) {
      if (e.getValue() == ctx.handler()) {
        return null;
      }
      String type = e.getValue().getClass().getName();
      if (FRAME_CODECS.stream().noneMatch(type::startsWith)) {
        return type;
      }
    }
    return null;
  }

  /** Vert.x's own server WebSocket under vertx-web's wrapper (or the socket itself), see {@link #channelOf}. */
  static ServerWebSocket unwrap(ServerWebSocket ws) {
    ServerWebSocket s = ws;
    for (int depth = 0; depth < 3 && !(s instanceof WebSocketInternal); depth++) {
      try {
        java.lang.reflect.Field f = s.getClass().getDeclaredField("delegate");
        f.setAccessible(true);
        s = (ServerWebSocket) f.get(s);
      } catch (ReflectiveOperationException | RuntimeException e) {
        Internals.fallback("ws-channel", ws.getClass().getName() + ": " + e);
        return ws;
      }
    }
    if (!(s instanceof WebSocketInternal)) {
      Internals.fallback("ws-channel", "no Vert.x WebSocket under " + ws.getClass().getName());
    }
    return s;
  }

  /**
   * What the channel holds for this client, read through Netty's public writability figures (the high
   * water mark is {@code limits.outboundQueueBytes}): Vert.x's {@code writeQueueFull()} only follows
   * writes made through Vert.x, and the fast path bypasses it.
   */
  @Override
  protected long transportBacklog() {
    if (channel == null) {
      return ws.writeQueueFull() ? config.limits().outboundQueueBytes() : 0;
    }
    return pendingBytes(channel.channel());
  }

  /** Bytes waiting in a channel's outbound buffer (Netty counts a small overhead per entry too). */
  static long pendingBytes(io.netty.channel.Channel ch) {
    if (ch.isWritable()) {
      return Math.max(0, ch.config().getWriteBufferHighWaterMark() + 1 - ch.bytesBeforeUnwritable());
    }
    return ch.config().getWriteBufferLowWaterMark() - 1 + ch.bytesBeforeWritable();
  }

  /** Vert.x throws on a closed socket's write queue: check this first. */
  @Override
  protected boolean isGone() {
    return ws.isClosed();
  }

  @Override
  protected void closeTransport(CloseCode code, String reason) {
    ws.close((short) code.code(), reason);
  }

  @Override
  public String transport() {
    return "ws";
  }
}
