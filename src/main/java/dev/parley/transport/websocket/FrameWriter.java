package dev.parley.transport.websocket;

import dev.parley.core.Envelope;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.unix.UnixChannel;
import io.netty.channel.unix.FileDescriptor;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * The fast write path of {@code /ws} and of Engine.IO's WebSocket transport, one per event loop and
 * transport. Three things make a fan-out cheap:
 * <ul>
 *   <li><b>encode once, write many</b>: a room event becomes one complete WebSocket text frame, header
 *       and UTF-8 payload (server frames are not masked, so the bytes are the same for everyone); each
 *       recipient gets a retained duplicate of that buffer, not a copy, and Netty's frame encoder has
 *       nothing left to do;</li>
 *   <li><b>optionally, a direct write</b>: the first frame a connection gets in a turn of the loop,
 *       when nothing is waiting in its channel, goes to the socket at once with one {@code write()} on its
 *       file descriptor (Netty's epoll transport only). Netty's per-write bookkeeping (an outbound-buffer entry, pending-bytes
 *       accounting, a flush that walks the buffer) is skipped, and the recipient does not wait for the rest
 *       of the fan-out. What the socket does not take (a partial write, a full socket buffer, an error) goes
 *       to the channel as below, so Netty finishes it, waits for the socket to drain, or closes;</li>
 *   <li><b>coalesced flushes</b>: every other frame is written to the channel without flushing, and every
 *       connection written to that way in this turn is flushed once, after the turn's reads are handled, so
 *       a burst of events costs one system call per connection instead of one per event.</li>
 * </ul>
 * A direct write happens only when the channel's outbound buffer is empty, so no frame ever overtakes
 * another, whichever way it went (frames Vert.x writes itself, pings and the close frame, go through that
 * buffer). Writes go to the channel itself, below every handler of the pipeline (they would only pass a
 * ready frame along; {@link WsChannels#channelOf} refuses the fast path if a TLS handler is there). Vert.x
 * still sees the channel's writability, so the backlog of each connection stays bounded. Confined to its
 * event loop. The direct write is off unless the system property {@code parley.directWrites} is {@code true}.
 */
public final class FrameWriter {

  /**
   * On with {@code -Dparley.directWrites=true}; off by default: measured side by side it saved nothing in a
   * steady fan-out and cost a second system call whenever a connection got more than one frame in a turn
   * (joins in quick succession: about 25% more CPU per connect + join). Read when a connection starts.
   */
  private static volatile boolean direct = "true".equalsIgnoreCase(System.getProperty("parley.directWrites"));

  /** Turns the direct write on or off for connections that start from now on (tests). */
  static void directWrites(boolean on) {
    direct = on;
  }

  private static final LongAdder DIRECT_WRITES = new LongAdder();
  private static final AtomicLong PARTIAL_WRITES = new AtomicLong();

  /** How many of this turn's shared frames are looked up before a frame is encoded again. */
  private static final int LOOKBACK = 8;

  /** One connection's channel, as the writer sees it. Confined to the channel's event loop. */
  public static final class Target {
    private final ChannelHandlerContext ctx;
    /** The socket of an epoll channel, for direct writes (null: always through the channel). */
    private final FileDescriptor fd;
    /** The writer's turn in which this connection last got a frame. */
    private int turn = -1;

    public Target(ChannelHandlerContext ctx) {
      this.ctx = ctx;
      // epoll only: its socket is written with plain write() calls, so one more from here fits in
      this.fd = direct && ctx.channel() instanceof UnixChannel unix
        && unix.getClass().getName().startsWith("io.netty.channel.epoll.") ? unix.fd() : null;
    }

    public ChannelHandlerContext ctx() {
      return ctx;
    }

    public Channel channel() {
      return ctx.channel();
    }
  }

  private final List<Target> dirty = new ArrayList<>();
  /** The shared frames of this turn, and what each was made from (compared by identity). */
  private final List<Object> keys = new ArrayList<>();
  private final List<ByteBuf> cached = new ArrayList<>();
  private final Runnable endOfTurn = this::endTurn;
  private boolean scheduled;
  private int turn;

  /** Writes a room event's frame, encoded once per event for all recipients on this loop. */
  public void writeEvent(Target target, Envelope event) {
    ByteBuf frame = shared(event);
    if (frame == null) {
      frame = share(event, textFrame(target.ctx.alloc(), null, event.json()));
    }
    write(target, frame.retainedDuplicate());
  }

  /**
   * Writes {@code prefix + text} as one text frame, encoded once per turn for every recipient given the same
   * {@code text} object (an Engine.IO message packet: {@code '4'} and the Socket.IO packet a renderer built
   * once per event).
   */
  public void writeShared(Target target, String prefix, String text) {
    ByteBuf frame = shared(text);
    if (frame == null) {
      frame = share(text, textFrame(target.ctx.alloc(), prefix, text));
    }
    write(target, frame.retainedDuplicate());
  }

  /** Writes a one-off text frame (welcome, ack, error...). */
  public void writeText(Target target, String text) {
    write(target, textFrame(target.ctx.alloc(), null, text));
  }

  /** Writes a one-off binary frame (an Engine.IO binary message). */
  public void writeBinary(Target target, byte[] data) {
    ByteBuf buf = header(target.ctx.alloc(), 0x82, data.length);
    write(target, buf.writeBytes(data));
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

  private void write(Target target, ByteBuf frame) {
    if (!scheduled) {
      scheduled = true;
      target.ctx.executor().execute(endOfTurn);
    }
    if (target.turn != turn) {
      target.turn = turn;
      if (target.fd != null && writeDirect(target, frame)) {
        return;
      }
    }
    // straight to the channel's outbound buffer: the handlers above would only pass a ByteBuf along
    target.ctx.channel().unsafe().write(frame, target.ctx.voidPromise());
    if (dirty.isEmpty() || dirty.get(dirty.size() - 1) != target) {
      dirty.add(target);
    }
  }

  /**
   * Writes the frame to the socket when nothing waits in the channel. True when all of it was written (the
   * frame is released); false when the caller must queue the frame, or what is left of it, in the channel.
   */
  private static boolean writeDirect(Target target, ByteBuf frame) {
    Channel ch = target.ctx.channel();
    ChannelOutboundBuffer out = ch.unsafe().outboundBuffer();
    if (out == null || out.totalPendingWriteBytes() != 0 || !ch.isActive()) {
      return false;
    }
    int length = frame.readableBytes();
    int written;
    try {
      if (frame.hasMemoryAddress()) {
        written = target.fd.writeAddress(frame.memoryAddress(), frame.readerIndex(), frame.writerIndex());
      } else {
        ByteBuffer nio = frame.nioBuffer();
        written = target.fd.write(nio, nio.position(), nio.limit());
      }
    } catch (IOException e) {
      return false; // the channel's own write meets the error and closes the connection its usual way
    }
    if (written == length) {
      frame.release();
      DIRECT_WRITES.increment();
      return true;
    }
    if (written > 0) {
      frame.skipBytes(written);
      PARTIAL_WRITES.incrementAndGet();
    }
    return false;
  }

  private void endTurn() {
    scheduled = false;
    turn++;
    // a connection may be listed more than once; flushing twice is harmless and cheaper than a set
    for (Target target : dirty) {
      target.ctx.channel().unsafe().flush();
    }
    dirty.clear();
    for (ByteBuf b : cached) {
      b.release();
    }
    cached.clear();
    keys.clear();
  }

  /** Frames written whole straight to a socket since start. */
  static long directWrites() {
    return DIRECT_WRITES.sum();
  }

  /** Direct writes the socket took only part of (the rest went through the channel) since start. */
  static long partialWrites() {
    return PARTIAL_WRITES.get();
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
      buf.writeCharSequence(prefix, StandardCharsets.US_ASCII);
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
