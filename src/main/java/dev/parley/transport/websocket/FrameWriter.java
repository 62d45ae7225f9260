package dev.parley.transport.websocket;

import dev.parley.core.Envelope;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.util.concurrent.EventExecutor;

import java.util.ArrayList;
import java.util.List;

/**
 * The fast write path of {@code /ws}, one per event loop. Two things make a fan-out cheap:
 * <ul>
 *   <li><b>encode once, write many</b>: a room event's UTF-8 JSON is put in one buffer; each recipient's
 *       text frame wraps a retained duplicate of it (Netty's frame encoder adds the two-to-ten-byte
 *       header), not a copy;</li>
 *   <li><b>coalesced flushes</b>: frames are written without flushing and every connection written to
 *       in this turn of the event loop is flushed once, after the turn's reads are handled, so a burst
 *       of events costs one system call per connection instead of one per event.</li>
 * </ul>
 * Writes go to the channel below Vert.x's WebSocket layer; Vert.x still sees the channel's writability,
 * so {@code writeQueueFull()} keeps bounding each connection's queue. Confined to its event loop.
 */
final class FrameWriter {

  private final List<ChannelHandlerContext> dirty = new ArrayList<>();
  private final List<ByteBuf> cached = new ArrayList<>();
  private final Runnable flushTask = this::flushAll;
  private boolean scheduled;
  private Envelope lastEvent;
  private ByteBuf lastFrame;

  /** Writes a room event's frame, encoded once per event for all recipients on this loop. */
  void writeEvent(ChannelHandlerContext ctx, Envelope event) {
    if (event != lastEvent) {
      lastEvent = event;
      lastFrame = textFrame(ctx.alloc(), event.json());
      cached.add(lastFrame);
    }
    write(ctx, new TextWebSocketFrame(true, 0, lastFrame.retainedDuplicate()));
  }

  /** Writes a one-off text frame (welcome, ack, error...). */
  void writeText(ChannelHandlerContext ctx, String text) {
    write(ctx, new TextWebSocketFrame(true, 0, textFrame(ctx.alloc(), text)));
  }

  private void write(ChannelHandlerContext ctx, TextWebSocketFrame frame) {
    ctx.write(frame, ctx.voidPromise());
    if (dirty.isEmpty() || dirty.get(dirty.size() - 1) != ctx) {
      dirty.add(ctx);
    }
    if (!scheduled) {
      scheduled = true;
      EventExecutor loop = ctx.executor();
      loop.execute(flushTask);
    }
  }

  private void flushAll() {
    scheduled = false;
    // a connection may be listed more than once; flushing twice is harmless and cheaper than a set
    for (ChannelHandlerContext ctx : dirty) {
      ctx.flush();
    }
    dirty.clear();
    for (ByteBuf b : cached) {
      b.release();
    }
    cached.clear();
    lastEvent = null;
    lastFrame = null;
  }

  /** The UTF-8 bytes of a text frame's payload, in a pooled direct buffer. */
  static ByteBuf textFrame(ByteBufAllocator alloc, String text) {
    ByteBuf buf = alloc.directBuffer(ByteBufUtil.utf8Bytes(text));
    ByteBufUtil.writeUtf8(buf, text);
    return buf;
  }
}
