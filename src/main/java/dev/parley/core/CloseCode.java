package dev.parley.core;

/**
 * Why the server closes a connection: RFC 6455 status codes, and 4000-range application codes.
 * Documented in docs/protocol.md; the numbers never change.
 */
public enum CloseCode {
  /** The client asked to close, or the session ended normally. */
  NORMAL(1000),
  /** The server is shutting down. */
  GOING_AWAY(1001),
  /** The client sent a frame that breaks RFC 6455. */
  PROTOCOL_ERROR(1002),
  /** A text frame that is not valid UTF-8. */
  INVALID_PAYLOAD(1007),
  /** The client kept breaking the rules (for example a flood far beyond the rate limit). */
  POLICY_VIOLATION(1008),
  /** A frame or message larger than {@code limits.maxFrameBytes}. */
  TOO_BIG(1009),
  /** An unexpected server error. */
  INTERNAL_ERROR(1011),
  /** No frame from the client within {@code heartbeat.timeoutMs} after a ping. */
  HEARTBEAT_TIMEOUT(4000),
  /** The client did not read fast enough: its outbound queue passed {@code limits.outboundQueueBytes}. */
  SLOW_CONSUMER(4001),
  /** The node already holds {@code http.maxConnections} connections. */
  SERVER_FULL(4002),
  /** An outside producer asked to disconnect this session (Socket.IO emitter {@code disconnectSockets}). */
  DISCONNECTED(4003),
  /**
   * No valid token: none within {@code auth.timeoutMs} in token mode, a command before it, or a token that
   * was refused (missing, expired, badly signed, wrong audience or issuer).
   */
  UNAUTHORIZED(4004),
  /** The connection's token expired and no fresh one was sent before. */
  TOKEN_EXPIRED(4005),
  /** The user already holds {@code auth.maxConnectionsPerUser} connections on this node. */
  TOO_MANY_CONNECTIONS(4006);

  private final int code;

  CloseCode(int code) {
    this.code = code;
  }

  public int code() {
    return code;
  }
}
