package dev.parley.transport;

import dev.parley.core.CloseCode;
import io.vertx.core.Context;
import io.vertx.core.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.function.LongSupplier;

/**
 * The outbound policy of one connection, the same on every transport: the bytes waiting for the client
 * are bounded by {@code limits.outboundQueueBytes}; a connection that passes the bound, or that holds a
 * backlog while the node is short of memory ({@link OutboundMemory}), is a slow consumer. It is then
 * marked closing at once (nothing more is written to it) and closed with {@link CloseCode#SLOW_CONSUMER}
 * on a later turn of its event loop, never inside the write that found it full: the hub may be in the
 * middle of a fan-out (see {@code Connection}).
 *
 * <p>Transports report their backlog one of two ways: a {@code backlog} supplier that reads what the
 * transport itself holds (a /ws channel's outbound buffer), or {@link #track} for each write whose
 * completion says when the bytes left (SockJS, the bridge, Engine.IO). Tracked bytes also count in the
 * node-wide memory bound, since they may sit on the heap. Confined to the connection's event loop.
 */
public final class Outbound {

  private static final Logger LOG = LoggerFactory.getLogger(Outbound.class);

  /** Closes the connection with a code and reason (run on a later turn of the loop). */
  public interface Closer {
    void close(CloseCode code, String reason);
  }

  private final Context context;
  private final long limit;
  private final OutboundMemory memory;
  private final LongSupplier backlog;
  private final Closer closer;
  private final Object what;
  private long tracked;
  private boolean closing;

  /**
   * @param backlog bytes the transport holds for this client beyond those passed to {@link #track}
   * @param what    the connection, whose {@code toString()} labels the log line (transport and session); built
   *                only when a line is logged, not kept as a string for every connection
   */
  public Outbound(Context context, long limit, OutboundMemory memory, LongSupplier backlog, Closer closer, Object what) {
    this.context = context;
    this.limit = limit;
    this.memory = memory;
    this.backlog = backlog;
    this.closer = closer;
    this.what = what;
  }

  /** Bytes waiting for this client now. */
  public long backlog() {
    return tracked + backlog.getAsLong();
  }

  /**
   * Whether a frame of {@code size} bytes may be written now. False once the connection is closing;
   * when this frame would pass the bound, the slow-consumer close is scheduled and false returned.
   */
  public boolean admit(long size) {
    if (closing) {
      return false;
    }
    long waiting = backlog();
    if (waiting > 0 && waiting + size > limit) {
      slow("outbound queue full", waiting);
      return false;
    }
    if (memory.shouldShed(waiting)) {
      slow("server memory pressure", waiting);
      return false;
    }
    return true;
  }

  /** Counts {@code size} bytes as waiting until {@code written} completes (either way). */
  public void track(long size, Future<?> written) {
    tracked += size;
    memory.queued(size);
    written.onComplete(ar -> {
      tracked -= size;
      memory.queued(-size);
    });
  }

  /** Counts bytes the transport keeps in a queue of its own; pair with {@link #untrack}. */
  public void track(long size) {
    tracked += size;
    memory.queued(size);
  }

  public void untrack(long size) {
    tracked -= size;
    memory.queued(-size);
  }

  /** The connection is closing for another reason: write nothing more. */
  public void closing() {
    closing = true;
  }

  public boolean isClosing() {
    return closing;
  }

  private void slow(String reason, long waiting) {
    closing = true;
    LOG.info("closing slow consumer: {} backlog={} bytes ({})", what, waiting, reason);
    context.runOnContext(v -> closer.close(CloseCode.SLOW_CONSUMER, reason));
  }
}
