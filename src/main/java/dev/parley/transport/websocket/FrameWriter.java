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
 * frame along; {@link WsChannels#channelOf} refuses the fast path if a TLS handler is there).
 * Vert.x still sees the channel's writability,
 * so {@code writeQueueFull()} keeps bounding each connection's queue. Confined to its event loop.
 */
public final class FrameWriter {

  /** How many of this turn's shared frames are looked up before a frame is encoded again. */
  private static final int LOOKBACK = 8;

  private final List<ChannelHandlerContext> dirty = new ArrayList<>();
  /** The shared frames of this turn, and what each was made from (compared by identity). */
  private final List<Object> keys = new ArrayList<>();
  private final List<ByteBuf> cached = new ArrayList<>();
  private final Runnable flushTask = this::flushAll;
  private boolean scheduled;

  /** Writes a room event's frame, encoded once per event for all recipients on this loop. */
  public void writeEvent(ChannelHandlerContext ctx, Envelope event) {
    ByteBuf frame = shared(event);
    if (frame == null) {
      frame = share(event, textFrame(ctx.alloc(), null, event.json()));
    }
    write(ctx, frame.retainedDuplicate());
  }

  /**
   * Writes {@code prefix + text} as one text frame, encoded once per turn for every recipient given the same
   * {@code text} object (an Engine.IO message packet: {@code '4'} and the Socket.IO packet a renderer built
   * once per event).
   */
  public void writeShared(ChannelHandlerContext ctx, String prefix, String text) {
    ByteBuf frame = shared(text);
    if (frame == null) {
      frame = share(text, textFrame(ctx.alloc(), prefix, text));
    }
    write(ctx, frame.retainedDuplicate());
  }

  /** Writes a one-off text frame (welcome, ack, error...). */
  public void writeText(ChannelHandlerContext ctx, String text) {
    write(ctx, textFrame(ctx.alloc(), null, text));
  }

  /** Writes a one-off binary frame (an Engine.IO binary message). */
  public void writeBinary(ChannelHandlerContext ctx, byte[] data) {
    ByteBuf buf = header(ctx.alloc(), 0x82, data.length);
    write(ctx, buf.writeBytes(data));
  }

  private ByteBuf shared(Object key) {
    for (int i = keys.size() - 1, end = Math.max(0, keys.size() - LOOKBACK); i >= end; i--) {
      if (keys.get(i) == key) {
        return cached.get(i);
      }
    }
    return null;
  }

  private ByteBuf share(Object key, ByteBuf frame) {
    keys.add(key);
    cached.add(frame);
    return frame;
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
    keys.clear();
  }

  /**
   * A complete, unmasked, final text frame: FIN+opcode, the RFC 6455 length, the UTF-8 payload
   * ({@code prefix}, ASCII or null, then {@code text}).
   */
  static ByteBuf textFrame(ByteBufAllocator alloc, String prefix, String text) {
    int extra = prefix == null ? 0 : prefix.length();
    int length = extra + ByteBufUtil.utf8Bytes(text);
    ByteBuf buf = header(alloc, 0x81, length);
    if (prefix != null) {
      buf.writeCharSequence(prefix, java.nio.charset.StandardCharsets.US_ASCII);
    }
    ByteBufUtil.writeUtf8(buf, text);
    return buf;
  }

  /** A buffer for a final frame of this opcode byte and payload length, its header written. */
  private static ByteBuf header(ByteBufAllocator alloc, int finAndOpcode, int length) {
    int header = length < 126 ? 2 : length < 65_536 ? 4 : 10;
    ByteBuf buf = alloc.directBuffer(header + length);
    buf.writeByte(finAndOpcode);
    if (length < 126) {
      buf.writeByte(length);
    } else if (length < 65_536) {
      buf.writeByte(126).writeShort(length);
    } else {
      buf.writeByte(127).writeLong(length);
    }
    return buf;
  }
}
