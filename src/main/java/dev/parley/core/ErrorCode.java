package dev.parley.core;

/**
 * Stable error codes carried by {@code error} frames (native protocol) and by failed bridge replies.
 * The wire name never changes once published; the number is the bridge's {@code failureCode}.
 */
public enum ErrorCode {
  /** Malformed JSON, an unknown {@code type}, a missing or mistyped field. */
  BAD_REQUEST("bad_request", 400),
  /** The room name breaks the rules: 1 to 64 characters of {@code [A-Za-z0-9_.-]}. */
  INVALID_ROOM("invalid_room", 422),
  /** The name breaks the rules: 1 to 32 visible characters, nothing invisible or direction-changing. */
  INVALID_NAME("invalid_name", 423),
  /** The text is longer than {@code limits.maxTextLength}. */
  TOO_LARGE("too_large", 413),
  /** The command needs a room this connection has not joined. */
  NOT_JOINED("not_joined", 409),
  /** Joining would exceed {@code limits.maxRoomsPerConnection}. */
  TOO_MANY_ROOMS("too_many_rooms", 429),
  /** Commands arrive faster than {@code limits.ratePerSecond} / {@code limits.rateBurst} allow. */
  RATE_LIMITED("rate_limited", 430),
  /**
   * Not allowed: the room's rules or the token's claims do not let this client join or publish there, or
   * the bridge refused the address or operation.
   */
  ACCESS_DENIED("access_denied", 403),
  /** No valid token: missing where one is needed, expired, badly signed, for another audience or issuer. */
  UNAUTHORIZED("unauthorized", 401),
  /** The user already holds {@code auth.maxConnectionsPerUser} connections on this node. */
  TOO_MANY_CONNECTIONS("too_many_connections", 431),
  /** The node could not complete the command (broker or presence store failed). */
  UNAVAILABLE("unavailable", 503),
  /** A bug: logged on the server with the session id. */
  INTERNAL("internal", 500);

  private final String wire;
  private final int number;

  ErrorCode(String wire, int number) {
    this.wire = wire;
    this.number = number;
  }

  /** The name sent on the wire, for example {@code not_joined}. */
  public String wire() {
    return wire;
  }

  /** The bridge {@code failureCode} for this error. */
  public int number() {
    return number;
  }
}
