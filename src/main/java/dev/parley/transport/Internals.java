package dev.parley.transport;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The places where Parley relies on Vert.x or Netty internals for speed or memory, and what happens when
 * they are not as expected: each one checks what it needs before using it and, when the check fails, takes
 * the public API instead and reports here, which logs one warning per place. Nothing breaks, it only costs
 * more. A test fails when the pinned Vert.x changes any of them ({@link #fallbacks()} is not empty).
 *
 * <ul>
 *   <li>{@code write-queues}: per-connection outbound queues swapped for Vert.x's direct queue (memory);</li>
 *   <li>{@code upgrade-request}: a WebSocket's upgrade request let go of after the handshake (memory);</li>
 *   <li>{@code ws-channel}: the Netty channel under a vertx-web WebSocket, for the /ws fast write path;</li>
 *   <li>{@code ws-pipeline}: that only frame codecs sit below Vert.x's handler, so a ready frame may be
 *       written straight to the channel;</li>
 *   <li>{@code connection-pipeline}: the Netty pipeline of an HTTP connection, for {@link InputTimeouts}.</li>
 * </ul>
 */
public final class Internals {

  private static final Logger LOG = LoggerFactory.getLogger(Internals.class);
  private static final Set<String> FALLBACKS = ConcurrentHashMap.newKeySet();

  private Internals() {
  }

  /** Records that {@code place} fell back to the public API; the first time, logs why. */
  public static void fallback(String place, String why) {
    if (FALLBACKS.add(place)) {
      LOG.warn("Vert.x internals not as expected ({}): {}; using the public API instead", place, why);
    }
  }

  /** The places that fell back since start (empty when the pinned Vert.x is as expected). */
  public static Set<String> fallbacks() {
    return Set.copyOf(FALLBACKS);
  }
}
