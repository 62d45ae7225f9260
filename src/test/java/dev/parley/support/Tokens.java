package dev.parley.support;

import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.auth.JWTOptions;
import io.vertx.ext.auth.PubSecKeyOptions;
import io.vertx.ext.auth.jwt.JWTAuth;
import io.vertx.ext.auth.jwt.JWTAuthOptions;

/** Signed tokens for tests, made with the same library a backend in Java would use (vertx-auth-jwt). */
public final class Tokens {

  /** The HS256 secret of {@link #auth}. */
  public static final String SECRET = "test-secret-of-at-least-32-bytes-0123456789";
  public static final String AUDIENCE = "parley-test";

  private Tokens() {
  }

  /** An {@code auth} section: this mode, {@link #SECRET}, audience {@link #AUDIENCE}, no clock leeway. */
  public static JsonObject auth(String mode) {
    return new JsonObject().put("mode", mode).put("secret", SECRET).put("audience", new JsonArray().add(AUDIENCE))
      .put("leewaySeconds", 0);
  }

  /** A token for {@code sub} named {@code name}, valid for {@code ttlSeconds} (negative: expired that long ago). */
  public static String of(Vertx vertx, String sub, String name, long ttlSeconds) {
    return sign(vertx, SECRET, new JsonObject().put("sub", sub).put("name", name).put("aud", AUDIENCE), ttlSeconds);
  }

  /** A token with these claims (plus {@code sub}, {@code aud}), valid for {@code ttlSeconds}. */
  public static String with(Vertx vertx, String sub, JsonObject claims, long ttlSeconds) {
    return sign(vertx, SECRET, claims.copy().put("sub", sub).put("aud", AUDIENCE), ttlSeconds);
  }

  /** Signs {@code claims} with an HS256 {@code secret}; {@code exp} is now + {@code ttlSeconds}. */
  public static String sign(Vertx vertx, String secret, JsonObject claims, long ttlSeconds) {
    JsonObject c = claims.copy().put("exp", System.currentTimeMillis() / 1000 + ttlSeconds);
    return JWTAuth.create(vertx, new JWTAuthOptions().addPubSecKey(new PubSecKeyOptions().setAlgorithm("HS256").setBuffer(secret)))
      .generateToken(c, new JWTOptions().setAlgorithm("HS256"));
  }
}
