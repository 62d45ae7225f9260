package dev.parley.core;

import java.util.function.LongSupplier;

/** A per-connection rate limit: {@code ratePerSecond} commands sustained, bursts up to {@code burst}. */
final class TokenBucket {

  private final double perNano;
  private final double capacity;
  private final LongSupplier nanoClock;
  private double tokens;
  private long last;

  TokenBucket(int ratePerSecond, int burst, LongSupplier nanoClock) {
    this.perNano = ratePerSecond / 1e9;
    this.capacity = burst;
    this.nanoClock = nanoClock;
    this.tokens = burst;
    this.last = nanoClock.getAsLong();
  }

  boolean tryTake() {
    long now = nanoClock.getAsLong();
    tokens = Math.min(capacity, tokens + (now - last) * perNano);
    last = now;
    if (tokens >= 1) {
      tokens -= 1;
      return true;
    }
    return false;
  }
}
