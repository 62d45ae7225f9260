package dev.parley.transport;

import dev.parley.core.CloseCode;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import io.netty.util.concurrent.ScheduledFuture;
import io.vertx.core.http.HttpConnection;
import io.vertx.core.net.impl.ConnectionBase;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.TimeUnit;

/**
 * Bounds how long a client may leave a message unfinished, on every transport at once: a WebSocket
 * message whose last fragment never comes (/ws, SockJS and bridge WebSocket sessions, Socket.IO over
 * WebSocket) is closed with {@link CloseCode#POLICY_VIOLATION}, and an HTTP request whose body stops
 * arriving (SockJS {@code xhr_send}, Engine.IO polling POST) has its connection closed, once
 * {@code limits.maxUnfinishedMs} have passed since the message began. Bytes are bounded separately (Vert.x's
 * message size limits); this bounds the time they may be held. Socket.IO packets waiting for binary
 * attachments are bounded by the Socket.IO layer itself.
 *
 * <p>It is a Netty handler placed just before Vert.x's own handler of each HTTP connection, where
 * decoded HTTP messages and WebSocket frames pass; it changes nothing it lets through.
 */
public final class UnfinishedInputGuard extends ChannelInboundHandlerAdapter {

  private static final Logger LOG = LoggerFactory.getLogger(UnfinishedInputGuard.class);
  static final String NAME = "parley-unfinished-input";

  private final long timeoutMs;
  private ScheduledFuture<?> timer;
  private boolean webSocket;

  UnfinishedInputGuard(long timeoutMs) {
    this.timeoutMs = timeoutMs;
  }

  /**
   * Installs the guard on a new HTTP connection (the server's {@code connectionHandler}). False, reported
   * through {@link Internals}, when the connection is not the Vert.x type this was written against; the
   * server then runs without the time bound (a test fails first when the pinned Vert.x changes).
   */
  public static boolean install(HttpConnection connection, long timeoutMs) {
    if (!(connection instanceof ConnectionBase base)) {
      Internals.fallback("connection-pipeline", "unexpected HTTP connection type " + connection.getClass().getName()
        + ": limits.maxUnfinishedMs is not enforced on HTTP and WebSocket input");
      return false;
    }
    ChannelHandlerContext vertx = base.channelHandlerContext();
    ChannelPipeline pipeline = vertx.pipeline();
    if (pipeline.get(NAME) == null) {
      pipeline.addBefore(vertx.name(), NAME, new UnfinishedInputGuard(timeoutMs));
    }
    return true;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (msg instanceof WebSocketFrame frame) {
      webSocket = true;
      if (!frame.isFinalFragment()) {
        start(ctx);
      } else if (!isControl(frame)) {
        stop();
      }
    } else if (msg instanceof HttpRequest && !(msg instanceof LastHttpContent)) {
      start(ctx);
    } else if (msg instanceof LastHttpContent) {
      stop();
    }
    ctx.fireChannelRead(msg);
  }

  private static boolean isControl(WebSocketFrame frame) {
    return frame instanceof io.netty.handler.codec.http.websocketx.PingWebSocketFrame
      || frame instanceof io.netty.handler.codec.http.websocketx.PongWebSocketFrame
      || frame instanceof CloseWebSocketFrame;
  }

  private void start(ChannelHandlerContext ctx) {
    if (timer == null) {
      timer = ctx.executor().schedule(() -> expire(ctx), timeoutMs, TimeUnit.MILLISECONDS);
    }
  }

  private void stop() {
    if (timer != null) {
      timer.cancel(false);
      timer = null;
    }
  }

  private void expire(ChannelHandlerContext ctx) {
    timer = null;
    LOG.debug("closing {}: message unfinished after {} ms", ctx.channel().remoteAddress(), timeoutMs);
    if (webSocket) {
      ctx.writeAndFlush(new CloseWebSocketFrame(CloseCode.POLICY_VIOLATION.code(), "message not finished in time"))
        .addListener(ChannelFutureListener.CLOSE);
    } else {
      ctx.close();
    }
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    stop();
    ctx.fireChannelInactive();
  }
}
