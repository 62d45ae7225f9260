package dev.parley.core;

/**
 * The transport side of one client connection, as the {@link Hub} sees it. Implemented by each
 * transport (raw WebSocket, SockJS, event bus bridge); all calls come on the hub's event loop.
 */
public interface Connection {

  /**
   * Writes a room event to the client in this transport's framing. Never blocks and never buffers
   * without bound: when the client does not read fast enough the connection closes itself with
   * {@link CloseCode#SLOW_CONSUMER} and reports it through {@link Hub#disconnect(Session)}.
   */
  void deliver(Envelope event);

  /** Closes the connection from the server side with a documented code. */
  void close(CloseCode code, String reason);

  /** A short transport name for logs and metrics: {@code ws}, {@code sockjs}, {@code bridge}. */
  String transport();
}
