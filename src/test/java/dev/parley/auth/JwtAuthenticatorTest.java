package dev.parley.auth;

import dev.parley.config.ConfigException;
import dev.parley.config.ParleyConfig;
import dev.parley.core.ChatException;
import dev.parley.core.ErrorCode;
import dev.parley.core.Identity;
import dev.parley.support.Tokens;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.auth.JWTOptions;
import io.vertx.ext.auth.PubSecKeyOptions;
import io.vertx.ext.auth.jwt.JWTAuth;
import io.vertx.ext.auth.jwt.JWTAuthOptions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.spec.ECGenParameterSpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The token verifier with the real library (vertx-auth-jwt) and real keys: what it accepts, what it refuses
 * and how it says so, with every key source (HS256 secret from the environment or a file, RS256 and ES256
 * PEM public keys, a JWKS file), the development token command, and bad tokens of every shape.
 */
class JwtAuthenticatorTest {

  private static Vertx vertx;

  @BeforeAll
  static void start() {
    vertx = Vertx.vertx();
  }

  @AfterAll
  static void stop() throws Exception {
    vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  private static ParleyConfig.AuthConfig config(JsonObject auth) {
    return ParleyConfig.from(new JsonObject().put("auth", auth), Map.of(), new java.util.Properties()).auth();
  }

  private static JwtAuthenticator hs256(JsonObject extra) {
    return JwtAuthenticator.create(vertx, config(Tokens.auth("token").mergeIn(extra)), Map.of());
  }

  private static <T> T get(Future<T> f) throws Exception {
    return f.toCompletionStage().toCompletableFuture().get(5, TimeUnit.SECONDS);
  }

  /** The refusal's reason; fails the test unless the token was refused as unauthorized. */
  private static String refusal(JwtAuthenticator auth, String token) throws Exception {
    Future<Identity> f = auth.verify(token);
    try {
      get(f);
    } catch (java.util.concurrent.ExecutionException e) {
      ChatException refused = (ChatException) e.getCause();
      assertEquals(ErrorCode.UNAUTHORIZED, refused.code(), refused.getMessage());
      return refused.getMessage();
    }
    throw new AssertionError("accepted: " + (token.length() > 80 ? token.substring(0, 80) + "..." : token));
  }

  @Test
  void aValidTokenGivesTheUserItsNameAndItsRooms() throws Exception {
    String token = Tokens.with(vertx, "alice", new JsonObject().put("name", "Alice").put("role", "staff")
      .put("rooms", new JsonArray().add("team-*").add("lobby")).put("publish", "team-a"), 600);
    Identity id = get(hs256(new JsonObject()).verify(token));
    assertEquals("alice", id.user());
    assertEquals("Alice", id.name());
    assertTrue(id.mayJoin("team-x") && id.mayJoin("lobby") && !id.mayJoin("other"));
    assertTrue(id.mayPublish("team-a") && !id.mayPublish("team-x"), "the publish claim narrows publishing");
    assertEquals("staff", id.claims().get("role"));
    assertTrue(id.expiresAtMs() > System.currentTimeMillis() + 500_000);
  }

  @Test
  void withoutANameClaimTheSubIsTheName() throws Exception {
    Identity id = get(hs256(new JsonObject()).verify(Tokens.with(vertx, "bob", new JsonObject(), 600)));
    assertEquals("bob", id.name());
    assertNull(id.rooms(), "no rooms claim: the token does not restrict rooms");
  }

  @Test
  void expiredForgedForeignAndEarlyTokensAreRefusedWithAReason() throws Exception {
    JwtAuthenticator auth = hs256(new JsonObject().put("issuer", "backend"));
    JsonObject good = new JsonObject().put("iss", "backend");
    assertReason(auth, Tokens.with(vertx, "x", good, -10), "expired");
    assertReason(auth, Tokens.sign(vertx, "another-secret-of-at-least-32-bytes-xyz",
      good.copy().put("sub", "x").put("aud", Tokens.AUDIENCE), 600), "signature");
    assertReason(auth, Tokens.sign(vertx, Tokens.SECRET, good.copy().put("sub", "x").put("aud", "other"), 600), "audience");
    assertReason(auth, Tokens.with(vertx, "x", new JsonObject().put("iss", "someone-else"), 600), "issuer");
    assertReason(auth, Tokens.with(vertx, "x", good.copy().put("nbf", System.currentTimeMillis() / 1000 + 600), 600),
      "not valid yet");
  }

  private static void assertReason(JwtAuthenticator auth, String token, String word) throws Exception {
    String reason = refusal(auth, token);
    assertTrue(reason.contains(word), "\"" + reason + "\" should say " + word);
  }

  @Test
  void claimsOfTheWrongTypeAreRefused() throws Exception {
    JwtAuthenticator auth = hs256(new JsonObject());
    long exp = System.currentTimeMillis() / 1000 + 600;
    List<JsonObject> bad = List.of(
      new JsonObject().put("sub", 42),
      new JsonObject().put("sub", ""),
      new JsonObject().put("sub", "x".repeat(200)),
      new JsonObject().put("sub", "x").put("name", 7),
      new JsonObject().put("sub", "x").put("name", "a\u202Eb"),
      new JsonObject().put("sub", "x").put("rooms", new JsonObject()),
      new JsonObject().put("sub", "x").put("rooms", new JsonArray().add(1)),
      new JsonObject().put("sub", "x").put("rooms", new JsonArray().add("bad room!")),
      new JsonObject().put("sub", "x").put("publish", true));
    for (JsonObject claims : bad) {
      String token = signRaw(claims.put("aud", Tokens.AUDIENCE).put("exp", exp));
      String reason = refusal(auth, token);
      assertFalse(reason.contains("Exception"), reason);
    }
    // no exp at all: refused (tokens must be short-lived)
    assertTrue(refusal(auth, signRaw(new JsonObject().put("sub", "x").put("aud", Tokens.AUDIENCE))).contains("exp"));
  }

  /** Signs claims exactly as given (no exp added). */
  private static String signRaw(JsonObject claims) {
    return JWTAuth.create(vertx, new JWTAuthOptions().addPubSecKey(new PubSecKeyOptions().setAlgorithm("HS256")
      .setBuffer(Tokens.SECRET))).generateToken(claims, new JWTOptions().setAlgorithm("HS256").setNoTimestamp(true));
  }

  private static String b64(String s) {
    return Base64.getUrlEncoder().withoutPadding().encodeToString(s.getBytes(StandardCharsets.UTF_8));
  }

  /**
   * Bad tokens of every shape: unsigned ({@code alg: none}, with or without a signature part), truncated at
   * every length, huge, garbage, a valid one's signature moved to another payload, header or payload that
   * is not JSON. All are refused as {@code unauthorized} with a short reason, never another exception.
   */
  @Test
  void badTokensOfEveryShapeAreRefusedWithoutAStackTrace() throws Exception {
    JwtAuthenticator auth = hs256(new JsonObject());
    String valid = Tokens.of(vertx, "mallory", "Mallory", 600);
    String payload = b64(new JsonObject().put("sub", "admin").put("aud", Tokens.AUDIENCE)
      .put("exp", System.currentTimeMillis() / 1000 + 600).encode());
    List<String> bad = new ArrayList<>(List.of(
      b64("{\"alg\":\"none\",\"typ\":\"JWT\"}") + "." + payload + ".",
      b64("{\"alg\":\"none\"}") + "." + payload + "." + valid.substring(valid.lastIndexOf('.') + 1),
      b64("{\"alg\":\"HS256\"}") + "." + payload + "." + valid.substring(valid.lastIndexOf('.') + 1),
      b64("{\"alg\":\"RS256\"}") + "." + payload + "." + valid.substring(valid.lastIndexOf('.') + 1),
      b64("not json") + "." + payload + ".sig",
      b64("{\"alg\":\"HS256\"}") + "." + b64("[1,2,3]") + ".sig",
      b64("{\"alg\":\"HS256\"}") + "." + b64("\"a string\"") + ".sig",
      "a.b.c", "..", ".", "", " ", "Bearer " + valid, valid + ".extra", valid.replace('.', '_'),
      "x".repeat(1 << 20), valid + "A".repeat(10_000), "\u0000.\u0000.\u0000", "é.é.é"));
    for (int cut = 1; cut < valid.length(); cut += 7) {
      bad.add(valid.substring(0, cut));
    }
    Random random = new Random(15);
    for (int i = 0; i < 200; i++) {
      byte[] bytes = new byte[random.nextInt(300)];
      random.nextBytes(bytes);
      bad.add(i % 2 == 0 ? new String(bytes, StandardCharsets.ISO_8859_1)
        : b64(new String(bytes, StandardCharsets.ISO_8859_1)) + "." + b64("{}") + "." + b64("x"));
    }
    for (String token : bad) {
      String reason = refusal(auth, token);
      assertTrue(reason.startsWith("token"), reason);
      assertFalse(reason.contains("Exception") || reason.contains("\tat "), reason);
    }
  }

  @Test
  void publicKeysInPemAndAJwksFileVerifyTokensSignedWithTheirPrivateKeys(@TempDir Path dir) throws Exception {
    KeyPairGenerator rsa = KeyPairGenerator.getInstance("RSA");
    rsa.initialize(2048);
    KeyPair rsaPair = rsa.generateKeyPair();
    KeyPairGenerator ec = KeyPairGenerator.getInstance("EC");
    ec.initialize(new ECGenParameterSpec("secp256r1"));
    KeyPair ecPair = ec.generateKeyPair();
    Path rsaPem = dir.resolve("rsa.pem");
    Files.writeString(rsaPem, pem("PUBLIC KEY", rsaPair.getPublic().getEncoded()));
    JsonObject auth = new JsonObject().put("mode", "token").put("audience", new JsonArray().add(Tokens.AUDIENCE))
      .put("publicKeys", new JsonArray()
        .add(new JsonObject().put("algorithm", "RS256").put("pem", "file:" + rsaPem))
        .add(new JsonObject().put("algorithm", "ES256").put("pem", "env:EC_KEY")));
    JwtAuthenticator verifier = JwtAuthenticator.create(vertx, config(auth),
      Map.of("EC_KEY", pem("PUBLIC KEY", ecPair.getPublic().getEncoded())));
    assertEquals("rsa-user", get(verifier.verify(signWith("RS256", rsaPair, "rsa-user"))).user());
    assertEquals("ec-user", get(verifier.verify(signWith("ES256", ecPair, "ec-user"))).user());
    KeyPair other = rsa.generateKeyPair();
    assertTrue(refusal(verifier, signWith("RS256", other, "intruder")).startsWith("token"));

    // the same RSA key as a JWKS document
    java.security.interfaces.RSAPublicKey pub = (java.security.interfaces.RSAPublicKey) rsaPair.getPublic();
    JsonObject jwk = new JsonObject().put("kty", "RSA").put("alg", "RS256").put("use", "sig").put("kid", "k1")
      .put("n", unsigned(pub.getModulus())).put("e", unsigned(pub.getPublicExponent()));
    Path jwks = dir.resolve("jwks.json");
    Files.writeString(jwks, new JsonObject().put("keys", new JsonArray().add(jwk)).encode());
    JwtAuthenticator fromJwks = JwtAuthenticator.create(vertx, config(new JsonObject().put("mode", "token")
      .put("jwksFile", jwks.toString()).put("audience", new JsonArray().add(Tokens.AUDIENCE))), Map.of());
    assertEquals("jwks-user", get(fromJwks.verify(signWith("RS256", rsaPair, "jwks-user", "k1"))).user());
  }

  private static String unsigned(java.math.BigInteger n) {
    byte[] b = n.toByteArray();
    if (b[0] == 0) {
      b = java.util.Arrays.copyOfRange(b, 1, b.length);
    }
    return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
  }

  private static String pem(String type, byte[] der) {
    return "-----BEGIN " + type + "-----\n" + Base64.getMimeEncoder(64, "\n".getBytes()).encodeToString(der)
      + "\n-----END " + type + "-----\n";
  }

  private static String signWith(String alg, KeyPair pair, String sub) {
    return signWith(alg, pair, sub, null);
  }

  private static String signWith(String alg, KeyPair pair, String sub, String kid) {
    PubSecKeyOptions key = new PubSecKeyOptions().setAlgorithm(alg).setBuffer(pem("PRIVATE KEY", pair.getPrivate().getEncoded()));
    if (kid != null) {
      key.setId(kid);
    }
    JWTOptions options = new JWTOptions().setAlgorithm(alg).setExpiresInSeconds(600);
    if (kid != null) {
      options.setHeader(new JsonObject().put("kid", kid));
    }
    return JWTAuth.create(vertx, new JWTAuthOptions().addPubSecKey(key))
      .generateToken(new JsonObject().put("sub", sub).put("aud", Tokens.AUDIENCE), options);
  }

  @Test
  void keysComeFromTheEnvironmentOrFilesAndMissingOnesStopTheStart(@TempDir Path dir) throws Exception {
    ParleyConfig.AuthConfig fromEnv = config(Tokens.auth("token").put("secret", "env:MY_SECRET"));
    ConfigException missing = assertThrows(ConfigException.class, () -> JwtAuthenticator.check(fromEnv, Map.of()));
    assertTrue(missing.getMessage().contains("MY_SECRET"), missing.getMessage());
    JwtAuthenticator ok = JwtAuthenticator.create(vertx, fromEnv, Map.of("MY_SECRET", Tokens.SECRET));
    assertEquals("u", get(ok.verify(Tokens.of(vertx, "u", "U", 60))).user());

    Path file = dir.resolve("secret");
    Files.writeString(file, Tokens.SECRET + "\n");
    JwtAuthenticator fromFile = JwtAuthenticator.create(vertx, config(Tokens.auth("token").put("secret", "file:" + file)), Map.of());
    assertEquals("v", get(fromFile.verify(Tokens.of(vertx, "v", "V", 60))).user());

    ConfigException tooShort = assertThrows(ConfigException.class,
      () -> JwtAuthenticator.check(config(Tokens.auth("token").put("secret", "short")), Map.of()));
    assertTrue(tooShort.getMessage().contains("32 bytes"), tooShort.getMessage());
    ConfigException noKey = assertThrows(ConfigException.class, () -> config(new JsonObject().put("mode", "token")));
    assertTrue(noKey.getMessage().contains("no key"), noKey.getMessage());
    ConfigException anonymousRule = assertThrows(ConfigException.class, () -> ParleyConfig.from(new JsonObject()
      .put("rooms", new JsonArray().add(new JsonObject().put("match", "x-*").put("join", "token")))));
    assertTrue(anonymousRule.getMessage().contains("rooms[0].join"), anonymousRule.getMessage());
  }

  /** The development command signs with the configured secret, issuer and audience; the server accepts what it mints. */
  @Test
  void theTokenCommandMintsTokensTheServerAccepts(@TempDir Path dir) throws Exception {
    Path conf = dir.resolve("config.json");
    Files.writeString(conf, new JsonObject().put("auth", Tokens.auth("token").put("secret", "env:S").put("issuer", "dev")).encode());
    String token = TokenCommand.mint(new String[]{"--sub", "carol", "--name", "Carol", "--rooms", "team-*, lobby",
      "--publish", "team-a", "--claim", "role=staff", "--ttl", "2h", "-conf", conf.toString()}, Map.of("S", Tokens.SECRET));
    JwtAuthenticator verifier = JwtAuthenticator.create(vertx, config(Tokens.auth("token").put("issuer", "dev")), Map.of());
    Identity id = get(verifier.verify(token));
    assertEquals("Carol", id.name());
    assertTrue(id.mayJoin("lobby") && id.mayPublish("team-a") && !id.mayPublish("lobby"));
    assertEquals("staff", id.claims().get("role"));
    long hours = (id.expiresAtMs() - System.currentTimeMillis()) / 60_000;
    assertTrue(hours > 115 && hours <= 120, "about two hours: " + hours + " min");

    java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
    int status = TokenCommand.run(new String[]{"--name", "x"}, System.out, new java.io.PrintStream(err), Map.of());
    assertEquals(2, status);
    assertTrue(err.toString().contains("--sub is required"), err.toString());
    assertThrows(IllegalArgumentException.class, () -> TokenCommand.seconds("soon"));
    assertEquals(5400, TokenCommand.seconds("90m"));
  }
}
