package dev.parley.transport;

import com.code_intelligence.jazzer.junit.DictionaryEntries;
import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.core.ChatException;
import dev.parley.core.Json;

/**
 * Fuzzes the native protocol's frame parser (/ws and /sockjs): any text must become a command or a
 * {@link ChatException} (answered with an {@code error} frame), never another exception.
 */
class NativeFrameFuzzTest {

  @FuzzTest(maxDuration = "10s")
  @DictionaryEntries({"{", "}", "[", "]", ":", ",", "\"type\"", "\"join\"", "\"publish\"", "\"leave\"", "\"ping\"",
    "\"room\"", "\"name\"", "\"text\"", "\"ref\"", "null", "true", "1e999", "\"\\u0000\""})
  void anyFrameIsACommandOrAClearError(String frame) {
    if (frame == null) {
      return; // transports always hand over a string
    }
    try {
      JsonNode tree = Json.parseTree(frame);
      if (tree.isObject()) {
        NativeConnection.parse(tree);
      }
    } catch (ChatException expected) {
      // answered with an error frame
    }
  }
}
