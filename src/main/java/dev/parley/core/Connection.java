package dev.parley.core;

/**
 * The transport side of one client connection, as the {@link Hub} sees it. Implemented once per
 * transport (raw WebSocket, SockJS, event bus bridge, Socket.IO); every call comes on the hub's event
 * loop.
 *
 * <p>The rule every implementation keeps: {@link #deliver} and {@link #reply} never close the connection
 * synchronously and never call back into the hub. The hub may be iterating a room's members when it
 * delivers; a connection that cannot take one more frame (its outbound queue is full, the node is short
 * of memory) marks itself closing, drops what comes after, and closes with
 * {@link CloseCode#SLOW_CONSUMER} on a later turn of the event loop, from where it reports through
 * {@link Hub#disconnect(Session)}. The transports share that policy in {@code dev.parley.transport.Outbound}.
 */
public interface Connection {

  /** Writes a room event to the client in this transport's framing (see the rule above). */
  void deliver(Envelope event);

  /**
   * Answers a command the client sent through {@link Session#handle}: {@code ref} is what the transport
   * passed in with it (a frame's {@code ref}, a Socket.IO ack, a bridge message), or null when the
   * client asked for no answer. The same rule as {@link #deliver} applies.
   */
  void reply(Object ref, Outcome outcome);

  /** Closes the connection from the server side with a documented code. */
  void close(CloseCode code, String reason);

  /** A short transport name for logs and metrics: {@code ws}, {@code sockjs}, {@code bridge}, {@code socket.io}. */
  String transport();

  /** The client's address as the server saw it (for logs), or null when unknown. */
  default String address() {
    return null;
  }
}
