package dev.parley.core;

/**
 * A command refused for a reason the client can understand: an {@link ErrorCode} and a human message.
 * Carried as a failed {@code Future}; cheap (no stack trace) because clients can provoke it at will.
 */
public final class ChatException extends RuntimeException {

  private final ErrorCode code;

  public ChatException(ErrorCode code, String message) {
    super(message, null, false, false);
    this.code = code;
  }

  public ErrorCode code() {
    return code;
  }

  /** The error code of any failure: a {@link ChatException}'s own, {@link ErrorCode#INTERNAL} otherwise. */
  public static ErrorCode codeOf(Throwable t) {
    return t instanceof ChatException c ? c.code() : ErrorCode.INTERNAL;
  }
}
