package dev.parley.ingress;

import com.code_intelligence.jazzer.junit.FuzzTest;

import java.io.IOException;

/**
 * Fuzzes the Socket.IO Redis emitter's MessagePack decoder: any bytes decode to a broadcast, are not for
 * this server (null), or are refused with an {@link IOException} (logged, ignored), never another exception.
 */
class EmitterFuzzTest {

  @FuzzTest(maxDuration = "10s")
  void anyEmitterMessageDecodesOrIsRefused(byte[] msgpack) {
    if (msgpack == null) {
      return; // Redis always hands over bytes
    }
    try {
      EmitterListener.decode(msgpack);
    } catch (IOException expected) {
      // ignored, with a warning
    }
  }
}
