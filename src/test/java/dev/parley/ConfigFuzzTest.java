package dev.parley;

import com.code_intelligence.jazzer.junit.DictionaryEntries;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.parley.config.ConfigException;
import dev.parley.config.ParleyConfig;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;

import java.util.Map;
import java.util.Properties;

/** Fuzzes configuration files: any JSON object is a configuration or a {@link ConfigException} naming the key. */
class ConfigFuzzTest {

  @FuzzTest(maxDuration = "10s")
  @DictionaryEntries({"{", "}", "[", "]", ":", ",", "\"http\"", "\"port\"", "\"limits\"", "\"maxFrameBytes\"",
    "\"maxTextLength\"", "\"broker\"", "\"type\"", "\"redis\"", "\"redisUri\"", "\"socketio\"", "\"namespaces\"",
    "\"sockjs\"", "\"disabledTransports\"", "\"api\"", "\"keys\"", "\"publicOrigins\"", "\"emitter\"", "-1", "1e99", "null"})
  void anyConfigurationIsValidOrExplained(String json) {
    if (json == null) {
      return;
    }
    JsonObject config;
    try {
      config = new JsonObject(json);
    } catch (DecodeException | ClassCastException notAnObject) {
      return; // the launcher reports a file that is not a JSON object before this
    }
    try {
      ParleyConfig.from(config, Map.of(), new Properties());
    } catch (ConfigException expected) {
      if (expected.getMessage() == null || expected.getMessage().isBlank()) {
        throw new AssertionError("a configuration error without a message");
      }
    }
  }
}
