package dev.parley.transport;

import dev.parley.config.ParleyConfig.LimitsConfig;

import java.util.concurrent.atomic.AtomicLong;

/**
 * The node-wide bound on memory held for unfinished inbound messages (a Socket.IO packet whose binary
 * attachments have not all arrived). Each connection is bounded by its transport's message limit; this
 * bounds them all together, so many connections that each stop just short of their own limit cannot fill
 * the heap: {@code limits.inboundMemoryBytes}, by default a quarter of the JVM's maximum heap.
 */
public final class InboundMemory {

  private final long budget;
  private final AtomicLong held = new AtomicLong();
  private final AtomicLong peak = new AtomicLong();

  InboundMemory(long budget) {
    this.budget = budget;
  }

  public static InboundMemory create(LimitsConfig limits) {
    return new InboundMemory(limits.inboundMemoryBytes() > 0 ? limits.inboundMemoryBytes() : Runtime.getRuntime().maxMemory() / 4);
  }

  /** Takes {@code bytes} from the budget; false (and nothing taken) when that would pass it. */
  public boolean tryHold(long bytes) {
    while (true) {
      long now = held.get();
      if (now + bytes > budget) {
        return false;
      }
      if (held.compareAndSet(now, now + bytes)) {
        peak.accumulateAndGet(now + bytes, Math::max);
        return true;
      }
    }
  }

  public void release(long bytes) {
    held.addAndGet(-bytes);
  }

  public long held() {
    return held.get();
  }

  /** The most ever held at once since start. */
  public long peak() {
    return peak.get();
  }

  public long budget() {
    return budget;
  }
}
