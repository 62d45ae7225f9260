package dev.parley.auth;

import com.code_intelligence.jazzer.junit.DictionaryEntries;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.parley.config.ParleyConfig;
import dev.parley.core.ChatException;
import dev.parley.core.ErrorCode;
import dev.parley.support.Tokens;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;

import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * Fuzzes the token verifier: any text presented as a token is refused as {@code unauthorized} with a short
 * reason (or, never in practice, accepted), and nothing else is thrown.
 */
class TokenFuzzTest {

  private static final Vertx VERTX = Vertx.vertx();
  private static final JwtAuthenticator VERIFIER = JwtAuthenticator.create(VERTX,
    ParleyConfig.from(new JsonObject().put("auth", Tokens.auth("token")), Map.of(), new java.util.Properties()).auth(), Map.of());

  @FuzzTest(maxDuration = "10s")
  @DictionaryEntries({".", "eyJ", "eyJhbGciOiJIUzI1NiJ9", "eyJhbGciOiJub25lIn0", "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9",
    "-", "_", "=", "e30"})
  void anyTokenIsRefusedWithAReason(String token) throws Exception {
    Future<?> f = VERIFIER.verify(token);
    try {
      f.toCompletionStage().toCompletableFuture().get(5, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      if (!(e.getCause() instanceof ChatException refused) || refused.code() != ErrorCode.UNAUTHORIZED
        || !refused.getMessage().startsWith("token")) {
        throw new AssertionError("not a clean refusal: " + e.getCause(), e.getCause());
      }
    }
  }
}
