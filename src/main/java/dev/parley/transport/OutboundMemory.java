package dev.parley.transport;

import dev.parley.config.ParleyConfig.LimitsConfig;
import io.netty.util.internal.PlatformDependent;

import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;

/**
 * The node-wide bound on memory held for clients that do not read. {@code limits.outboundQueueBytes}
 * bounds one connection, but ten thousand slow readers times that bound is more than any JVM has: when
 * the direct memory in use passes {@code limits.outboundMemoryBytes} (default: half of the JVM's direct
 * memory limit), counting also what SockJS and Engine.IO queue on the heap, every connection that has a
 * backlog of its own is closed as a slow consumer, instead of
 * letting an allocation fail and take the node down.
 */
public final class OutboundMemory {

  /** A connection with less than this waiting is keeping up and is never shed. */
  static final long SHED_BACKLOG_BYTES = 64 * 1024;

  private final long budget;
  private final BufferPoolMXBean direct;
  private final java.util.concurrent.atomic.AtomicLong queued = new java.util.concurrent.atomic.AtomicLong();

  private OutboundMemory(long budget, BufferPoolMXBean direct) {
    this.budget = budget;
    this.direct = direct;
  }

  public static OutboundMemory create(LimitsConfig limits) {
    long budget = limits.outboundMemoryBytes() > 0 ? limits.outboundMemoryBytes() : PlatformDependent.maxDirectMemory() / 2;
    BufferPoolMXBean direct = ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class).stream()
      .filter(b -> "direct".equals(b.getName())).findFirst().orElse(null);
    return new OutboundMemory(budget, direct);
  }

  /** Whether a connection with this many bytes waiting should be shed now. */
  public boolean shouldShed(long backlogBytes) {
    return backlogBytes > SHED_BACKLOG_BYTES && directUsed() + queued.get() > budget;
  }

  /** Bytes queued for clients outside Netty's direct buffers (SockJS, Engine.IO polling queues). */
  void queued(long delta) {
    queued.addAndGet(delta);
  }

  /** Bytes currently counted by {@link #queued}. */
  public long queuedBytes() {
    return queued.get();
  }

  /**
   * Direct memory in use: the JDK's pool counts buffers made by {@code ByteBuffer.allocateDirect}, Netty's own
   * counter the ones it allocates without a cleaner (when it may); whichever is in use here is the larger.
   */
  private long directUsed() {
    long jdk = direct != null ? direct.getMemoryUsed() : 0;
    return Math.max(jdk, PlatformDependent.usedDirectMemory());
  }

  public long budget() {
    return budget;
  }
}
