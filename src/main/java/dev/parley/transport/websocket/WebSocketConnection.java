package dev.parley.transport.websocket;

import dev.parley.config.ParleyConfig;
import dev.parley.core.CloseCode;
import dev.parley.core.Hub;
import dev.parley.transport.NativeConnection;
import dev.parley.transport.OutboundMemory;
import io.vertx.core.Context;
import io.netty.handler.codec.http.websocketx.CorruptedWebSocketFrameException;
import dev.parley.core.Envelope;
import io.netty.channel.ChannelHandlerContext;
import io.vertx.core.http.ServerWebSocket;
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
  private final FrameWriter.Target channel;
  private final FrameWriter writer;
  long lastSeen;
  long pingSentAt;

  /** {@code authorization}: the upgrade request's Authorization header, or null. */
  WebSocketConnection(Hub hub, ParleyConfig config, Context context, OutboundMemory memory, ServerWebSocket ws,
                      String authorization, long now, FrameWriter writer, Consumer<WebSocketConnection> onEnd) {
    super(hub, config, context, memory);
    this.ws = ws;
    this.writer = writer;
    ChannelHandlerContext ctx = WsChannels.channelOf(ws);
    this.channel = ctx == null ? null : new FrameWriter.Target(ctx);
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
    open(authorization);
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
    boolean inLoop = channel.ctx().executor().inEventLoop();
    assert inLoop : "write to a /ws connection off its event loop: " + Thread.currentThread().getName();
    return inLoop;
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
    return WsChannels.pendingBytes(channel.channel());
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
