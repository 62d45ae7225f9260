package dev.parley.transport.websocket;

import dev.parley.transport.InputTimeouts;
import dev.parley.transport.Internals;
import io.netty.channel.ChannelHandlerContext;
import io.vertx.core.http.ServerWebSocket;
import io.vertx.core.internal.http.WebSocketInternal;

/**
 * The Netty channel under a Vert.x server WebSocket, for the fast write path ({@link FrameWriter}) of
 * {@code /ws} and of Engine.IO's WebSocket transport, and what that channel holds for its client.
 */
public final class WsChannels {

  private WsChannels() {
  }

  /**
   * The Netty context under a server WebSocket, for the {@link FrameWriter} fast path, or null (and Vert.x's
   * own write path) when the internals are not as expected. vertx-web's router hands out a wrapper around
   * Vert.x's own WebSocket with no accessor for it, so the wrapped socket is read reflectively (vertx-web
   * 5.0.10). The fast path writes complete frames below Vert.x's handler, so it is taken only when the
   * handlers below are the frame codecs it expects (never a TLS or unknown handler).
   */
  public static ChannelHandlerContext channelOf(ServerWebSocket ws) {
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
  public static String unexpectedHandlerBelow(ChannelHandlerContext ctx) {
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
  public static ServerWebSocket unwrap(ServerWebSocket ws) {
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

  /** Bytes waiting in a channel's outbound buffer (Netty counts a small overhead per entry too). */
  public static long pendingBytes(io.netty.channel.Channel ch) {
    if (ch.isWritable()) {
      return Math.max(0, ch.config().getWriteBufferHighWaterMark() + 1 - ch.bytesBeforeUnwritable());
    }
    return ch.config().getWriteBufferLowWaterMark() - 1 + ch.bytesBeforeWritable();
  }

}
