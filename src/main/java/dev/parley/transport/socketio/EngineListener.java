package dev.parley.transport.socketio;

import io.vertx.core.buffer.Buffer;

/**
 * What runs on top of one Engine.IO session (Socket.IO, or a plain echo for conformance tests). Every
 * call comes on the session's event loop.
 */
public interface EngineListener {

  /** The session is open (its handshake was sent). */
  default void onOpen(EngineSession session) {
  }

  /** A text message (Engine.IO packet type 4). */
  void onMessage(EngineSession session, String text);

  /** A binary message. */
  void onBinary(EngineSession session, Buffer data);

  /** The session ended: client close, transport loss, ping timeout, parse error, server close. */
  void onClose(EngineSession session, String reason);
}
