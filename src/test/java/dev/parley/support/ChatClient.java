package dev.parley.support;

import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;

import java.util.function.Predicate;

/**
 * One chat client of any transport, as the transport contract suite drives it: commands as futures
 * (a refusal fails the future with {@link ChatError} carrying the protocol's error code) and room events
 * in the native protocol's JSON form, whatever framing the transport uses. Each transport has a small
 * adapter behind this interface.
 */
public interface ChatClient {

  /** Joins and completes with the {@code presence} object the joiner gets. */
  default Future<JsonObject> join(String room, String name) {
    return join(room, name, new JsonObject());
  }

  /** Joins with more fields in the join ({@code since}, {@code history}); completes with the presence. */
  Future<JsonObject> join(String room, String name, JsonObject options);

  /** Publishes and completes with the message id the server acknowledged. */
  Future<String> publish(String room, String text);

  Future<Void> leave(String room);

  /** Reads a page of a joined room's history; completes with {@code {"room","messages","epoch","offset"}}. */
  Future<JsonObject> history(String room, JsonObject options);

  /** The first room event (already received or coming) of this {@code type} that matches. */
  Future<JsonObject> event(String type, Predicate<JsonObject> match, String what);

  /**
   * Presents a signed token the transport's way ({@code auth} frame, {@code parley.auth} send, {@code auth}
   * event); completes with {@code {"user","name","expiresAt"}}, or fails with {@link ChatError}.
   */
  Future<JsonObject> auth(String token);

  /**
   * Completes when the server ended the connection, with the documented close code it gave (a WebSocket or
   * SockJS close code; on Socket.IO the {@code close} of the {@code error} event sent before the DISCONNECT),
   * -1 when none came.
   */
  Future<Integer> closeCode();

  /** Stops reading from the server (the transport's own way: a paused socket, or no more polls). */
  void pause();

  /** Reads again after {@link #pause}. */
  void resume();

  /** Completes when the server ended the connection. */
  Future<Void> closed();

  /** Closes from the client side, the transport's normal way. */
  void close();

  /**
   * Drops the connection the way a network cut does: a WebSocket's TCP connection is reset without a
   * close frame, a polling client stops polling. The server finds out by itself (a broken socket, or a
   * session or ping timeout).
   */
  void cut();

  /** A refused command: the protocol's error code ({@code not_joined}, {@code too_large}...). */
  final class ChatError extends RuntimeException {
    private final String code;

    public ChatError(String code, String message) {
      super(code + ": " + message, null, false, false);
      this.code = code;
    }

    public String code() {
      return code;
    }
  }
}
