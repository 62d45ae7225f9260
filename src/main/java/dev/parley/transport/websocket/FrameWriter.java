package dev.parley.transport.websocket;

import dev.parley.core.Envelope;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.ChannelHandlerContext;
import io.netty.util.concurrent.EventExecutor;

import java.util.ArrayList;
import java.util.List;

/**
 * The fast write path of {@code /ws}, one per event loop. Two things make a fan-out cheap:
 * <ul>
 *   <li><b>encode once, write many</b>: a room event becomes one complete WebSocket text frame, header
 *       and UTF-8 payload (server frames are not masked, so the bytes are the same for everyone); each
 *       recipient gets a retained duplicate of that buffer, not a copy, and Netty's frame encoder has
 *       nothing left to do;</li>
 *   <li><b>coalesced flushes</b>: frames are written without flushing and every connection written to
 *       in this turn of the event loop is flushed once, after the turn's reads are handled, so a burst
 *       of events costs one system call per connection instead of one per event.</li>
 * </ul>
 * Writes go to the channel itself, below every handler of the pipeline (they would only pass a ready
 * frame along; {@link WebSocketConnection#channelOf} refuses the fast path if a TLS handler is there).
 * Vert.x still sees the channel's writability,
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
    write(ctx, lastFrame.retainedDuplicate());
  }

  /** Writes a one-off text frame (welcome, ack, error...). */
  void writeText(ChannelHandlerContext ctx, String text) {
    write(ctx, textFrame(ctx.alloc(), text));
  }

  private void write(ChannelHandlerContext ctx, ByteBuf frame) {
    // straight to the channel's outbound buffer: the handlers above would only pass a ByteBuf along
    ctx.channel().unsafe().write(frame, ctx.voidPromise());
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
      ctx.channel().unsafe().flush();
    }
    dirty.clear();
    for (ByteBuf b : cached) {
      b.release();
    }
    cached.clear();
    lastEvent = null;
    lastFrame = null;
  }

  /** A complete, unmasked, final text frame: FIN+opcode, the RFC 6455 length, the UTF-8 payload. */
  static ByteBuf textFrame(ByteBufAllocator alloc, String text) {
    int length = ByteBufUtil.utf8Bytes(text);
    int header = length < 126 ? 2 : length < 65_536 ? 4 : 10;
    ByteBuf buf = alloc.directBuffer(header + length);
    buf.writeByte(0x81);
    if (length < 126) {
      buf.writeByte(length);
    } else if (length < 65_536) {
      buf.writeByte(126).writeShort(length);
    } else {
      buf.writeByte(127).writeLong(length);
    }
    ByteBufUtil.writeUtf8(buf, text);
    return buf;
  }
}
