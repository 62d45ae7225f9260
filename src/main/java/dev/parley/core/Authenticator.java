package dev.parley.core;

import io.vertx.core.Future;

/**
 * Turns a token a client presents into an {@link Identity}. Fails with a {@link ChatException} of
 * {@link ErrorCode#UNAUTHORIZED} whose message says why (expired, bad signature, wrong audience...),
 * never with a stack trace for the client. Thread-safe: every hub of the node calls it.
 */
public interface Authenticator {

  Future<Identity> verify(String token);
}
