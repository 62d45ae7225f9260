package dev.parley.auth;

import dev.parley.config.ConfigException;
import dev.parley.config.ParleyConfig;
import dev.parley.core.RoomPattern;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.auth.JWTOptions;
import io.vertx.ext.auth.PubSecKeyOptions;
import io.vertx.ext.auth.jwt.JWTAuth;
import io.vertx.ext.auth.jwt.JWTAuthOptions;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * {@code java -jar parley.jar token --sub alice --name Alice --rooms 'team-*' --ttl 1h [-conf conf/config.json]}:
 * prints a token signed with the configured key, for development and tests. Production tokens come from
 * the application's backend (docs/security.md shows one).
 */
public final class TokenCommand {

  static final String USAGE = """
    usage: java -jar parley.jar token --sub ID [options]
      --sub ID             the user id (required)
      --name NAME          display name (default: the id)
      --rooms PATTERNS     rooms the user may join and publish to, comma separated ('team-*,lobby')
      --publish PATTERNS   rooms the user may publish to, if fewer than --rooms (also what the HTTP API needs)
      --claim KEY=VALUE    any other claim (repeatable), for room rules that list claims
      --ttl DURATION       lifetime: 90s, 30m, 1h, 7d (default 1h)
      -conf FILE           configuration whose auth.secret signs (and whose auth.issuer/audience are set)
      --secret VALUE       HS256 secret instead: env:NAME, file:path or the value
      --private-key FILE   sign with a PEM private key (PKCS#8) instead, with --alg (default RS256)
    """;

  private TokenCommand() {
  }

  /** Runs the command; returns the exit status (0, or 2 with a message on {@code err}). */
  public static int run(String[] args, PrintStream out, PrintStream err, Map<String, String> env) {
    try {
      out.println(mint(args, env));
      return 0;
    } catch (IllegalArgumentException | ConfigException e) {
      err.println("token: " + e.getMessage());
      err.print(USAGE);
      return 2;
    }
  }

  static String mint(String[] args, Map<String, String> env) {
    String sub = null;
    String name = null;
    String rooms = null;
    String publish = null;
    String conf = null;
    String secret = null;
    String privateKey = null;
    String alg = "RS256";
    long ttl = 3600;
    JsonObject claims = new JsonObject();
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      String v = i + 1 < args.length ? args[i + 1] : null;
      switch (a) {
        case "--sub", "--name", "--rooms", "--publish", "--ttl", "-conf", "--conf", "--secret", "--private-key", "--alg", "--claim" -> {
          if (v == null) {
            throw new IllegalArgumentException(a + " needs a value");
          }
          i++;
        }
        default -> throw new IllegalArgumentException("unknown option " + a);
      }
      switch (a) {
        case "--sub" -> sub = v;
        case "--name" -> name = v;
        case "--rooms" -> rooms = v;
        case "--publish" -> publish = v;
        case "--ttl" -> ttl = seconds(v);
        case "-conf", "--conf" -> conf = v;
        case "--secret" -> secret = v;
        case "--private-key" -> privateKey = v;
        case "--alg" -> alg = v;
        default -> {
          int eq = v.indexOf('=');
          if (eq <= 0) {
            throw new IllegalArgumentException("--claim takes KEY=VALUE, got " + v);
          }
          claims.put(v.substring(0, eq), v.substring(eq + 1));
        }
      }
    }
    if (sub == null || sub.isEmpty()) {
      throw new IllegalArgumentException("--sub is required");
    }
    ParleyConfig.AuthConfig auth = conf == null ? null : ParleyConfig.from(dev.parley.Parley.readConf(new String[]{"-conf", conf}), env,
      new java.util.Properties()).auth();
    PubSecKeyOptions key;
    if (privateKey != null) {
      String pem = JwtAuthenticator.resolve("--private-key", "file:" + privateKey, env);
      key = new PubSecKeyOptions().setAlgorithm(alg).setBuffer(pem);
    } else {
      String spec = secret != null ? secret : auth != null ? auth.secret() : null;
      if (spec == null) {
        throw new IllegalArgumentException("no signing key: give -conf with auth.secret, --secret or --private-key");
      }
      alg = "HS256";
      key = new PubSecKeyOptions().setAlgorithm("HS256").setBuffer(JwtAuthenticator.resolve("auth.secret", spec, env));
    }
    claims.put("sub", sub);
    if (name != null) {
      if (!dev.parley.core.Rules.validName(name)) {
        throw new IllegalArgumentException("--name must be 1 to 32 visible characters");
      }
      claims.put(auth == null ? "name" : auth.nameClaim(), name);
    }
    if (rooms != null) {
      claims.put(auth == null ? "rooms" : auth.roomsClaim(), patterns("--rooms", rooms));
    }
    if (publish != null) {
      claims.put(auth == null ? "publish" : auth.publishClaim(), patterns("--publish", publish));
    }
    JWTOptions options = new JWTOptions().setAlgorithm(alg).setExpiresInSeconds((int) ttl);
    if (auth != null && auth.issuer() != null) {
      options.setIssuer(auth.issuer());
    }
    if (auth != null && !auth.audience().isEmpty()) {
      options.setAudience(auth.audience());
    }
    Vertx vertx = Vertx.vertx();
    try {
      return JWTAuth.create(vertx, new JWTAuthOptions().addPubSecKey(key)).generateToken(claims, options);
    } catch (RuntimeException e) {
      throw new IllegalArgumentException("cannot sign: " + e.getMessage());
    } finally {
      vertx.close();
    }
  }

  private static JsonArray patterns(String option, String list) {
    List<String> out = new ArrayList<>();
    for (String p : list.split("[ ,]+")) {
      if (p.isEmpty()) {
        continue;
      }
      if (!RoomPattern.valid(p)) {
        throw new IllegalArgumentException(option + ": \"" + p + "\" is not a room pattern ([A-Za-z0-9_.-] and *)");
      }
      out.add(p);
    }
    return new JsonArray(out);
  }

  /** {@code 90s}, {@code 30m}, {@code 1h}, {@code 7d}, or plain seconds. */
  static long seconds(String v) {
    try {
      char unit = v.charAt(v.length() - 1);
      long n = Character.isDigit(unit) ? Long.parseLong(v) : Long.parseLong(v.substring(0, v.length() - 1));
      long s = switch (unit) {
        case 's' -> n;
        case 'm' -> n * 60;
        case 'h' -> n * 3600;
        case 'd' -> n * 86400;
        default -> Character.isDigit(unit) ? n : -1;
      };
      if (s <= 0 || s > 366L * 86400) {
        throw new IllegalArgumentException("--ttl must be between 1s and 366d, got " + v);
      }
      return s;
    } catch (RuntimeException e) {
      if (e instanceof IllegalArgumentException iae && iae.getMessage() != null && iae.getMessage().startsWith("--ttl")) {
        throw iae;
      }
      throw new IllegalArgumentException("--ttl takes a duration such as 90s, 30m, 1h or 7d, got " + v);
    }
  }
}
