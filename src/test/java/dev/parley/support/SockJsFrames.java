package dev.parley.support;

import io.vertx.core.json.JsonArray;

import java.util.function.Consumer;
import java.util.function.IntConsumer;

/** Decodes SockJS framing: {@code o} open, {@code h} heartbeat, {@code a[...]} messages, {@code c[code,"reason"]} close. */
final class SockJsFrames {

  private SockJsFrames() {
  }

  static void decode(String frame, Runnable onOpen, Consumer<String> onMessage, IntConsumer onClose) {
    if (frame.isEmpty()) {
      return;
    }
    switch (frame.charAt(0)) {
      case 'o' -> onOpen.run();
      case 'h' -> {
      }
      case 'a' -> {
        JsonArray messages = new JsonArray(frame.substring(1));
        for (int i = 0; i < messages.size(); i++) {
          onMessage.accept(messages.getString(i));
        }
      }
      case 'c' -> onClose.accept(new JsonArray(frame.substring(1)).getInteger(0));
      default -> throw new IllegalStateException("unknown SockJS frame: " + frame);
    }
  }

  static String encode(String message) {
    return new JsonArray().add(message).encode();
  }
}
