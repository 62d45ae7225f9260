package dev.parley.transport.socketio;

import com.code_intelligence.jazzer.junit.FuzzTest;

import java.util.List;

/**
 * Fuzzes the Socket.IO packet decoder and the Engine.IO polling payload splitter: any text must decode
 * or be refused as malformed (the connection is then closed), never throw anything else.
 */
class SocketIoFuzzTest {

  @FuzzTest(maxDuration = "10s")
  void anySocketIoPacketDecodesOrIsMalformed(String packet) {
    if (packet == null) {
      return; // transports always hand over a string
    }
    try {
      SioPacket p = SioPacket.decode(packet);
      if (p.attachmentCount() > 0) {
        p.withAttachments(List.of());
      }
    } catch (SioPacket.Malformed expected) {
      // the connection is closed with a parse error
    }
  }

  @FuzzTest(maxDuration = "10s")
  void anyPollingPayloadSplitsOrIsRefused(String body) {
    if (body == null) {
      return;
    }
    List<String> packets = EngineSession.splitPayload(body);
    if (packets != null && packets.stream().anyMatch(String::isEmpty)) {
      throw new AssertionError("an empty packet passed: " + body);
    }
  }
}
