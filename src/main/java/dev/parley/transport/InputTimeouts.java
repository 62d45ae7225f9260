package dev.parley.transport;

import dev.parley.core.CloseCode;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PongWebSocketFrame;
import io.netty.handler.codec.http.websocketx.Utf8FrameValidator;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import io.netty.util.concurrent.ScheduledFuture;
import io.vertx.core.http.HttpConnection;
import io.vertx.core.net.impl.ConnectionBase;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.TimeUnit;

/**
 * Bounds how long a client may keep the server waiting for input, on every HTTP connection, whatever the
 * transport:
 * <ul>
 *   <li><b>request head</b> ({@code http.idleTimeoutMs}): the headers of the next request must be complete
 *       within this much time of the connection opening or of the previous response ending (keep-alive idle
 *       included), so slowloris clients and silent TCP connections are closed;</li>
 *   <li><b>unfinished message</b> ({@code limits.maxUnfinishedMs}): a request body that stops arriving has its
 *       connection closed; a WebSocket message whose last fragment never comes is closed with
 *       {@link CloseCode#POLICY_VIOLATION}.</li>
 * </ul>
 * On a connection that becomes a WebSocket it also adds Netty's UTF-8 validator for text frames.
 * A connection waiting for the server (a long-poll or streaming response still open) and a WebSocket (which
 * has its own heartbeat) have no request-head deadline. Bytes are bounded separately (Vert.x's size limits);
 * Socket.IO packets waiting for binary attachments are bounded by the Socket.IO layer itself.
 *
 * <p>A Netty handler placed just before Vert.x's own handler of each HTTP connection, where decoded HTTP
 * messages and WebSocket frames pass; it changes nothing it lets through.
 */
public final class InputTimeouts extends ChannelDuplexHandler {

  private static final Logger LOG = LoggerFactory.getLogger(InputTimeouts.class);
  static final String NAME = "parley-input-timeouts";

  private final long headMs;
  private final long unfinishedMs;
  private ScheduledFuture<?> timer;
  private String waitingFor;
  private boolean webSocket;
  private int awaitingResponse;

  InputTimeouts(long headMs, long unfinishedMs) {
    this.headMs = headMs;
    this.unfinishedMs = unfinishedMs;
  }

  /**
   * Installs the deadlines on a new HTTP connection (the server's {@code connectionHandler}). False, reported
   * through {@link Internals}, when the connection is not the Vert.x type this was written against; the
   * server then runs without them (a test fails first when the pinned Vert.x changes).
   */
  public static boolean install(HttpConnection connection, long headMs, long unfinishedMs) {
    if (!(connection instanceof ConnectionBase base)) {
      Internals.fallback("connection-pipeline", "unexpected HTTP connection type " + connection.getClass().getName()
        + ": http.idleTimeoutMs and limits.maxUnfinishedMs are not enforced");
      return false;
    }
    ChannelHandlerContext vertx = base.channelHandlerContext();
    ChannelPipeline pipeline = vertx.pipeline();
    if (pipeline.get(NAME) == null) {
      pipeline.addBefore(vertx.name(), NAME, new InputTimeouts(headMs, unfinishedMs));
    }
    return true;
  }

  private static final String HEAD = "request head";
  private static final String BODY = "request body";
  private static final String FRAGMENTS = "WebSocket message";

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    start(ctx, headMs, HEAD);
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (msg instanceof WebSocketFrame frame) {
      webSocket = true;
      if (!frame.isFinalFragment()) {
        if (timer == null) {
          start(ctx, unfinishedMs, FRAGMENTS);
        }
      } else if (!isControl(frame)) {
        stop(FRAGMENTS);
      }
    } else if (msg instanceof HttpRequest) {
      stop(HEAD);
      awaitingResponse++;
      if (!(msg instanceof LastHttpContent)) {
        start(ctx, unfinishedMs, BODY);
      }
    } else if (msg instanceof LastHttpContent) {
      // (the response may already have been written, and the next request's deadline started)
      stop(BODY);
    }
    ctx.fireChannelRead(msg);
  }

  @Override
  public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
    if (msg instanceof HttpResponse response && response.status().code() == HttpResponseStatus.SWITCHING_PROTOCOLS.code()) {
      webSocket = true; // upgraded: the WebSocket's own heartbeat takes over
      stop(HEAD);
      stop(BODY);
      // RFC 6455 section 8.1: text must be valid UTF-8 (Vert.x would decode it with replacement characters);
      // a bad frame raises an exception with status 1007, which the transports close with
      if (ctx.pipeline().get(Utf8FrameValidator.class) == null) {
        ctx.pipeline().addBefore(NAME, "parley-utf8", new Utf8FrameValidator(false));
      }
    }
    if (msg instanceof LastHttpContent && !webSocket && --awaitingResponse <= 0) {
      awaitingResponse = 0;
      start(ctx, headMs, HEAD); // keep-alive: the next request must come in time
    }
    ctx.write(msg, promise);
  }

  private static boolean isControl(WebSocketFrame frame) {
    return frame instanceof PingWebSocketFrame || frame instanceof PongWebSocketFrame || frame instanceof CloseWebSocketFrame;
  }

  private void start(ChannelHandlerContext ctx, long ms, String what) {
    cancel();
    waitingFor = what;
    timer = ctx.executor().schedule(() -> expire(ctx, what, ms), ms, TimeUnit.MILLISECONDS);
  }

  /** Stops the deadline if it is the one for {@code what}. */
  private void stop(String what) {
    if (what.equals(waitingFor)) {
      cancel();
    }
  }

  private void cancel() {
    if (timer != null) {
      timer.cancel(false);
      timer = null;
      waitingFor = null;
    }
  }

  private void expire(ChannelHandlerContext ctx, String what, long ms) {
    timer = null;
    waitingFor = null;
    LOG.debug("closing {}: {} not complete after {} ms", ctx.channel().remoteAddress(), what, ms);
    if (webSocket) {
      ctx.writeAndFlush(new CloseWebSocketFrame(CloseCode.POLICY_VIOLATION.code(), "message not finished in time"))
        .addListener(ChannelFutureListener.CLOSE);
    } else {
      ctx.close();
    }
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    cancel();
    ctx.fireChannelInactive();
  }
}
