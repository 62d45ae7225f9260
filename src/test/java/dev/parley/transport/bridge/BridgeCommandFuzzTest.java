package dev.parley.transport.bridge;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.parley.core.Command;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.Json;

/**
 * Fuzzes what the bridge makes of a client's {@code send} body: any JSON value becomes a command or a
 * {@link Command.Invalid} (a failed reply), never an exception.
 */
class BridgeCommandFuzzTest {

  @FuzzTest(maxDuration = "10s")
  void anyBodyIsACommandOrInvalid(FuzzedDataProvider data) {
    String command = data.pickValue(new String[] {"join", "publish", "leave", "other"});
    Object body;
    try {
      body = Json.decodeValue(data.consumeRemainingAsString());
    } catch (DecodeException notJson) {
      return; // the bridge itself refuses frames that are not JSON
    }
    if (BridgeTransport.parse(command, body) == null) {
      throw new AssertionError("no command");
    }
  }
}
