package dev.parley.auth;

import dev.parley.config.ConfigException;
import dev.parley.config.ParleyConfig.AuthConfig;
import dev.parley.core.Authenticator;
import dev.parley.core.ChatException;
import dev.parley.core.ErrorCode;
import dev.parley.core.Identity;
import dev.parley.core.RoomPattern;
import dev.parley.core.Rules;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.auth.JWTOptions;
import io.vertx.ext.auth.PubSecKeyOptions;
import io.vertx.ext.auth.User;
import io.vertx.ext.auth.authentication.TokenCredentials;
import io.vertx.ext.auth.jwt.JWTAuth;
import io.vertx.ext.auth.jwt.JWTAuthOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Verifies JWTs with {@code vertx-auth-jwt}: the signature against the configured keys (HS256 secret, PEM
 * public keys, a JWKS file), then {@code exp} (required), {@code nbf}, {@code iss} and {@code aud} with
 * {@code auth.leewaySeconds} of clock skew. {@code sub} is the user id, {@code auth.nameClaim} the display
 * name (else the {@code sub}), {@code auth.roomsClaim} and {@code auth.publishClaim} the room patterns the
 * user may join and publish to. A refusal is a {@link ChatException} ({@link ErrorCode#UNAUTHORIZED}) with
 * a short reason; the library's exception is logged at debug level only.
 */
public final class JwtAuthenticator implements Authenticator {

  private static final Logger LOG = LoggerFactory.getLogger(JwtAuthenticator.class);
  /** Longest accepted user id ({@code sub}). */
  public static final int MAX_USER_LENGTH = 128;
  /** Most room patterns a claim may list. */
  public static final int MAX_PATTERNS = 256;

  private final JWTAuth jwt;
  private final AuthConfig config;

  private JwtAuthenticator(JWTAuth jwt, AuthConfig config) {
    this.jwt = jwt;
    this.config = config;
  }

  /**
   * Reads the keys ({@code env:} variables and {@code file:} paths, so blocking: call at start-up, off the
   * event loop) and builds the verifier. Throws {@link ConfigException} naming the key that is missing or bad.
   */
  public static JwtAuthenticator create(Vertx vertx, AuthConfig config, Map<String, String> env) {
    return new JwtAuthenticator(JWTAuth.create(vertx, options(config, env)), config);
  }

  /** Reads and checks the configured keys (blocking); throws {@link ConfigException} naming what is wrong. */
  public static void check(AuthConfig config, Map<String, String> env) {
    options(config, env);
  }

  /** The library's options for this configuration (keys resolved). */
  static JWTAuthOptions options(AuthConfig config, Map<String, String> env) {
    JWTAuthOptions options = new JWTAuthOptions();
    if (config.secret() != null) {
      String secret = resolve("auth.secret", config.secret(), env);
      if (secret.getBytes(StandardCharsets.UTF_8).length < 32) {
        throw new ConfigException("auth.secret must be at least 32 bytes (256 bits) for HS256");
      }
      options.addPubSecKey(new PubSecKeyOptions().setAlgorithm("HS256").setBuffer(secret));
    }
    for (int i = 0; i < config.publicKeys().size(); i++) {
      var key = config.publicKeys().get(i);
      String pem = resolve("auth.publicKeys[" + i + "].pem", key.pem(), env);
      if (!pem.contains("-----BEGIN PUBLIC KEY-----")) {
        throw new ConfigException("auth.publicKeys[" + i + "].pem is not a PEM public key (-----BEGIN PUBLIC KEY-----)");
      }
      options.addPubSecKey(new PubSecKeyOptions().setAlgorithm(key.algorithm()).setBuffer(pem));
    }
    if (config.jwksFile() != null) {
      String text = resolve("auth.jwksFile", "file:" + config.jwksFile(), env);
      try {
        JsonArray keys = new JsonObject(text).getJsonArray("keys");
        if (keys == null || keys.isEmpty()) {
          throw new ConfigException("auth.jwksFile " + config.jwksFile() + " has no \"keys\"");
        }
        keys.forEach(k -> options.addJwk((JsonObject) k));
      } catch (RuntimeException e) {
        if (e instanceof ConfigException ce) {
          throw ce;
        }
        throw new ConfigException("auth.jwksFile " + config.jwksFile() + " is not a JWKS document: " + e.getMessage());
      }
    }
    JWTOptions checks = new JWTOptions().setLeeway(config.leewaySeconds());
    if (config.issuer() != null) {
      checks.setIssuer(config.issuer());
    }
    if (!config.audience().isEmpty()) {
      checks.setAudience(config.audience());
    }
    return options.setJWTOptions(checks);
  }

  /** A key value: {@code env:NAME}, {@code file:path}, or the value itself. */
  public static String resolve(String key, String spec, Map<String, String> env) {
    if (spec.startsWith("env:")) {
      String name = spec.substring(4);
      String v = env.get(name);
      if (v == null || v.isEmpty()) {
        throw new ConfigException(key + " names the environment variable " + name + ", which is not set");
      }
      return v;
    }
    if (spec.startsWith("file:")) {
      Path path = Path.of(spec.substring(5));
      try {
        return Files.readString(path, StandardCharsets.UTF_8).strip();
      } catch (IOException e) {
        throw new ConfigException(key + " names the file " + path.toAbsolutePath() + ", which cannot be read: " + e.getMessage());
      }
    }
    return spec;
  }

  @Override
  public Future<Identity> verify(String token) {
    if (token == null || token.isEmpty()) {
      return refuse("token is missing");
    }
    if (token.length() > config.maxTokenBytes()) {
      return refuse("token is larger than " + config.maxTokenBytes() + " bytes");
    }
    if (!token.matches("[A-Za-z0-9_=-]+\\.[A-Za-z0-9_=-]+\\.[A-Za-z0-9_=-]*")) {
      return refuse("token is not a JWT (three base64url parts)");
    }
    Future<User> user;
    try {
      user = jwt.authenticate(new TokenCredentials(token));
    } catch (RuntimeException e) {
      LOG.debug("token refused", e);
      return refuse(reason(e, token));
    }
    return user.transform(ar -> {
      if (ar.failed()) {
        LOG.debug("token refused: {}", ar.cause().toString());
        return refuse(reason(ar.cause(), token));
      }
      try {
        return Future.succeededFuture(identity(claims(ar.result())));
      } catch (ChatException e) {
        return Future.failedFuture(e);
      }
    });
  }

  private static JsonObject claims(User user) {
    JsonObject payload = user.attributes() == null ? null : user.attributes().getJsonObject("accessToken");
    return payload != null ? payload : user.principal();
  }

  /** The identity a verified token's claims describe; refuses claims of the wrong type. */
  Identity identity(JsonObject claims) {
    Object sub = claims.getValue("sub");
    if (!(sub instanceof String user) || user.isEmpty() || user.length() > MAX_USER_LENGTH || user.chars().anyMatch(Character::isISOControl)) {
      throw new ChatException(ErrorCode.UNAUTHORIZED, "token has no valid sub (1 to " + MAX_USER_LENGTH + " characters)");
    }
    Object exp = claims.getValue("exp");
    if (!(exp instanceof Number e)) {
      throw new ChatException(ErrorCode.UNAUTHORIZED, "token has no exp (expiry)");
    }
    Object rawName = claims.getValue(config.nameClaim());
    String name;
    if (rawName instanceof String n && Rules.validName(n)) {
      name = Rules.normalizeName(n);
    } else if (rawName == null && Rules.validName(user)) {
      name = Rules.normalizeName(user);
    } else if (rawName == null) {
      name = user.substring(0, Math.min(user.length(), Rules.MAX_NAME_LENGTH));
      if (!Rules.validName(name)) {
        throw new ChatException(ErrorCode.UNAUTHORIZED, "token has no " + config.nameClaim() + " and its sub is not a valid name");
      }
    } else {
      throw new ChatException(ErrorCode.UNAUTHORIZED, "token's " + config.nameClaim() + " is not a valid name");
    }
    Map<String, Object> all = new LinkedHashMap<>();
    claims.forEach(c -> {
      if (c.getValue() != null) {
        all.put(c.getKey(), c.getValue() instanceof JsonArray a ? a.getList() : c.getValue());
      }
    });
    all.values().removeIf(v -> v instanceof JsonObject);
    return new Identity(user, name, patterns(claims, config.roomsClaim()), patterns(claims, config.publishClaim()),
      all, (long) (e.doubleValue() * 1000));
  }

  /** A claim listing room patterns (a string or an array of strings); null when absent. */
  private static List<RoomPattern> patterns(JsonObject claims, String claim) {
    Object v = claims.getValue(claim);
    if (v == null) {
      return null;
    }
    List<Object> values = v instanceof JsonArray a ? a.getList() : v instanceof String s ? List.of(s.split("[ ,]+")) : null;
    if (values == null || values.size() > MAX_PATTERNS) {
      throw new ChatException(ErrorCode.UNAUTHORIZED, "token's " + claim + " must be a list of at most " + MAX_PATTERNS + " room patterns");
    }
    List<RoomPattern> out = new ArrayList<>();
    for (Object p : values) {
      if (!(p instanceof String s) || !RoomPattern.valid(s)) {
        throw new ChatException(ErrorCode.UNAUTHORIZED, "token's " + claim + " holds something that is not a room pattern");
      }
      out.add(RoomPattern.of(s));
    }
    return out;
  }

  /**
   * A short reason for a refusal. The library says "expired" for a token used too early as well; the
   * (unverified) {@code nbf} tells the two apart, for the message only.
   */
  private String reason(Throwable e, String token) {
    String m = String.valueOf(e.getMessage()).toLowerCase(java.util.Locale.ROOT);
    if (m.contains("expired")) {
      return notYetValid(token) ? "token is not valid yet" : "token expired";
    }
    if (m.contains("audience")) {
      return "token is for another audience";
    }
    if (m.contains("issuer")) {
      return "token is from another issuer";
    }
    if (m.contains("nbf") || m.contains("not before") || m.contains("iat")) {
      return "token is not valid yet";
    }
    if (m.contains("signature")) {
      return "token signature is invalid";
    }
    if (m.contains("algorithm") || m.contains("none") || m.contains("kid")) {
      return "token algorithm or key is not accepted";
    }
    return "token is invalid";
  }

  private boolean notYetValid(String token) {
    try {
      String payload = token.substring(token.indexOf('.') + 1, token.lastIndexOf('.'));
      Object nbf = new JsonObject(new String(java.util.Base64.getUrlDecoder().decode(payload), StandardCharsets.UTF_8))
        .getValue("nbf");
      return nbf instanceof Number n && n.longValue() > System.currentTimeMillis() / 1000 + config.leewaySeconds();
    } catch (RuntimeException ignored) {
      return false;
    }
  }

  private static Future<Identity> refuse(String reason) {
    return Future.failedFuture(new ChatException(ErrorCode.UNAUTHORIZED, reason));
  }
}
