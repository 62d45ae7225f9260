package dev.parley.transport.socketio;

import com.fasterxml.jackson.databind.node.ArrayNode;
import io.vertx.core.buffer.Buffer;

import java.util.List;

/** The answer a client asked for with an ack id; the first {@code send} wins. */
public final class SioAck {

  private final SioSocket socket;
  private final long id;
  private boolean sent;

  SioAck(SioSocket socket, long id) {
    this.socket = socket;
    this.id = id;
  }

  public void send(ArrayNode args) {
    send(args, List.of());
  }

  public void send(ArrayNode args, List<Buffer> attachments) {
    if (!sent) {
      sent = true;
      socket.sendPacket(attachments.isEmpty() ? SioPacket.ACK : SioPacket.BINARY_ACK, id, args.toString(), attachments);
    }
  }
}
