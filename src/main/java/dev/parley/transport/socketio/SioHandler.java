package dev.parley.transport.socketio;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import dev.parley.core.Outcome;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;

import java.util.List;

/** What a Socket.IO namespace does with its sockets' events: the chat, or a test's handlers. */
public interface SioHandler {

  /**
   * A socket connected to the namespace, with the CONNECT payload ({@code {}} when none). The CONNECT reply
   * is sent once the returned future completes, with its value as {@code pid} (connection state recovery;
   * null: none); what the socket is sent before it is buffered by the client until then.
   */
  Future<String> onConnect(SioSocket socket, JsonNode auth);

  /** The CONNECT reply has been sent: the socket may now be sent events the client sees at once. */
  default void onConnected(SioSocket socket, JsonNode auth) {
  }

  /**
   * An event from the client: its name and arguments (binary arguments are
   * {@code {"_placeholder":true,"num":i}} pointing into {@code attachments}); {@code ack} is null
   * unless the client asked for one.
   */
  void onEvent(SioSocket socket, String event, ArrayNode args, List<Buffer> attachments, SioAck ack);

  /**
   * The answer to a command the handler gave the socket's session ({@code socket.session().handle}):
   * {@code ack} is the one passed with the command, null when the client asked for none.
   */
  default void onReply(SioSocket socket, SioAck ack, Outcome outcome) {
  }

  /** The socket left the namespace or its connection ended. */
  default void onDisconnect(SioSocket socket, String reason) {
  }
}
