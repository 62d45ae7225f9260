package dev.parley.config;

import io.vertx.core.json.JsonObject;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;

/**
 * The whole configuration of one Parley node, read once at start-up from the JSON given with
 * {@code -conf}. Every key has a documented default (the {@code DEFAULT_*} constants, listed in
 * docs/configuration.md); a wrong type, an out-of-range value or an unknown key throws a
 * {@link ConfigException} naming the key, which fails the deployment.
 *
 * <p>Two keys can be overridden without editing the file: {@code http.port} by the environment variable
 * {@code PARLEY_HTTP_PORT} or the system property {@code parley.http.port}, and {@code http.host} by
 * {@code PARLEY_HTTP_HOST} or {@code parley.http.host} (system property wins over environment).
 */
public record ParleyConfig(
  NodeConfig node,
  HttpConfig http,
  HeartbeatConfig heartbeat,
  LimitsConfig limits,
  SockJsConfig sockjs,
  BridgeConfig bridge,
  BrokerConfig broker,
  EmitterConfig emitter,
  ApiConfig api,
  SocketIoConfig socketio,
  HistoryConfig history,
  AuthConfig auth,
  List<dev.parley.core.Access.RoomRule> rooms,
  ManagementConfig management,
  DrainConfig drain) {

  /**
   * {@code management.*}: the operators' listener, apart from the public port: Prometheus {@code /metrics},
   * {@code /health}, {@code /ready} and the admin page. Admin actions need one of {@code adminKeys} or a token
   * whose {@code adminClaim} is true.
   */
  public record ManagementConfig(boolean enabled, String host, int port, List<String> adminKeys, String adminClaim,
                                 boolean metrics) {
    public static final String DEFAULT_HOST = "127.0.0.1";
    public static final int DEFAULT_PORT = 9090;
    public static final String DEFAULT_ADMIN_CLAIM = "admin";
  }

  /** {@code drain.*}: a graceful stop (SIGTERM) closes the connections spread over {@code windowMs}. */
  public record DrainConfig(long windowMs) {
    public static final long DEFAULT_WINDOW_MS = 5_000;
  }

  /**
   * {@code auth.*}: who clients are. {@code mode} anonymous (no tokens), mixed (tokens give identity,
   * anonymous clients join rooms that allow anyone) or token (every connection presents one). Tokens are
   * JWTs checked against {@code secret} (HS256), {@code publicKeys} (RS256/ES256 PEM) and {@code jwksFile};
   * key values are {@code env:NAME}, {@code file:path} or the value itself.
   */
  public record AuthConfig(String mode, long timeoutMs, String secret, List<PublicKey> publicKeys, String jwksFile,
                           String issuer, List<String> audience, int leewaySeconds, String nameClaim, String roomsClaim,
                           String publishClaim, int maxTokenBytes, int maxConnectionsPerUser, int userPublishPerSecond,
                           int userPublishBurst) {
    public static final Set<String> MODES = Set.of("anonymous", "mixed", "token");
    public static final long DEFAULT_TIMEOUT_MS = 10_000;
    public static final int DEFAULT_LEEWAY_SECONDS = 5;
    public static final int DEFAULT_MAX_TOKEN_BYTES = 8_192;
    public static final int DEFAULT_MAX_CONNECTIONS_PER_USER = 20;
    public static final int DEFAULT_USER_PUBLISH_PER_SECOND = 50;
    public static final int DEFAULT_USER_PUBLISH_BURST = 100;

    public dev.parley.core.Access.Mode accessMode() {
      return dev.parley.core.Access.Mode.valueOf(mode.toUpperCase(java.util.Locale.ROOT));
    }

    /** Whether any key to verify tokens is configured. */
    public boolean hasKeys() {
      return secret != null || !publicKeys.isEmpty() || jwksFile != null;
    }
  }

  /** One {@code auth.publicKeys} entry: a PEM public key ({@code env:}, {@code file:} or inline) and its algorithm. */
  public record PublicKey(String algorithm, String pem) {
    public static final Set<String> ALGORITHMS = Set.of("RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256");
  }

  /** {@code node.*}: identity of this process in a cluster. */
  public record NodeConfig(String id) {
  }

  /** {@code http.*}: the listening socket and who may connect to it. */
  public record HttpConfig(String host, int port, List<String> allowedOrigins, int maxConnections, long idleTimeoutMs,
                           boolean h2c, int maxConnectionsPerAddress, List<String> publicOrigins) {
    /** Connections (and Engine.IO or SockJS sessions) one client address may hold; 0 turns the bound off. */
    public static final int DEFAULT_MAX_CONNECTIONS_PER_ADDRESS = 1_000;
    /** Time for a request's headers to arrive, from the connection opening or the previous response's end. */
    public static final long DEFAULT_IDLE_TIMEOUT_MS = 30_000;
    public static final String DEFAULT_HOST = "127.0.0.1";
    public static final int DEFAULT_PORT = 8080;
    public static final int DEFAULT_MAX_CONNECTIONS = 10_000;
  }

  /** {@code heartbeat.*}: how dead WebSocket peers are found. */
  public record HeartbeatConfig(long intervalMs, long timeoutMs) {
    public static final long DEFAULT_INTERVAL_MS = 25_000;
    public static final long DEFAULT_TIMEOUT_MS = 20_000;
  }

  /** {@code limits.*}: bounds on everything one client can make the server hold or do. */
  public record LimitsConfig(
    int maxFrameBytes,
    int maxTextLength,
    int maxRoomsPerConnection,
    int outboundQueueBytes,
    int ratePerSecond,
    int rateBurst,
    int maxPendingCommands,
    long outboundMemoryBytes,
    int maxAnnouncedRoomSize,
    int maxPresenceMembers,
    long maxUnfinishedMs,
    long inboundMemoryBytes) {
    public static final int DEFAULT_MAX_FRAME_BYTES = 65_536;
    public static final int DEFAULT_MAX_TEXT_LENGTH = 4_000;
    public static final int DEFAULT_MAX_ROOMS_PER_CONNECTION = 32;
    public static final int DEFAULT_OUTBOUND_QUEUE_BYTES = 1 << 20;
    public static final int DEFAULT_RATE_PER_SECOND = 50;
    public static final int DEFAULT_RATE_BURST = 100;
    public static final int DEFAULT_MAX_PENDING_COMMANDS = 32;
    /** 0 means: half of the JVM's direct memory limit ({@code -XX:MaxDirectMemorySize}, by default the heap size). */
    public static final long DEFAULT_OUTBOUND_MEMORY_BYTES = 0;
    /** 0 means: announce joins and leaves in rooms of any size. */
    public static final int DEFAULT_MAX_ANNOUNCED_ROOM_SIZE = 0;
    /** 0 means: presence replies list every member. */
    public static final int DEFAULT_MAX_PRESENCE_MEMBERS = 1000;
    /** How long an inbound message may stay unfinished (a Socket.IO packet waiting for its attachments). */
    public static final long DEFAULT_MAX_UNFINISHED_MS = 10_000;
    /** 0 means: a quarter of the JVM's maximum heap. */
    public static final long DEFAULT_INBOUND_MEMORY_BYTES = 0;
  }

  /**
   * {@code history.*}: each room's recent messages, kept so that joiners see the conversation and clients
   * recover what they missed. {@code size} 0 turns history off.
   */
  public record HistoryConfig(int size, long ttlMs, long memoryBytes, List<RoomHistory> rooms)
    implements dev.parley.core.HistoryRules {
    public static final int DEFAULT_SIZE = 500;
    public static final long DEFAULT_TTL_MS = 24 * 3_600_000L;
    public static final long DEFAULT_MEMORY_BYTES = 64L << 20;

    public HistoryConfig(int size, long ttlMs, long memoryBytes) {
      this(size, ttlMs, memoryBytes, List.of());
    }

    public HistoryConfig {
      rooms = List.copyOf(rooms);
    }

    /** Whether any room keeps history (the default, or a room rule). */
    public boolean enabled() {
      return size > 0 || rooms.stream().anyMatch(r -> r.size() > 0);
    }

    private RoomHistory rule(String room) {
      for (RoomHistory r : rooms) {
        if (r.matches(room)) {
          return r;
        }
      }
      return null;
    }

    @Override
    public int size(String room) {
      RoomHistory r = rule(room);
      return r == null ? size : r.size();
    }

    @Override
    public long ttlMs(String room) {
      RoomHistory r = rule(room);
      return r == null ? ttlMs : r.ttlMs();
    }
  }

  /** One {@code history.rooms} entry: rooms matching {@code match} ({@code *} any characters) keep this much. */
  public record RoomHistory(String match, int size, long ttlMs, java.util.regex.Pattern pattern) {
    public static RoomHistory of(String match, int size, long ttlMs) {
      String regex = java.util.Arrays.stream(match.split("\\*", -1)).map(java.util.regex.Pattern::quote)
        .collect(java.util.stream.Collectors.joining("[A-Za-z0-9_.-]*"));
      return new RoomHistory(match, size, ttlMs, java.util.regex.Pattern.compile(regex));
    }

    boolean matches(String room) {
      return pattern.matcher(room).matches();
    }
  }

  /** {@code sockjs.*}: the native protocol over SockJS at {@code /sockjs}. */
  public record SockJsConfig(boolean enabled, long sessionTimeoutMs, List<String> disabledTransports) {
    public static final long DEFAULT_SESSION_TIMEOUT_MS = 10_000;
    public static final Set<String> TRANSPORTS =
      Set.of("WEBSOCKET", "EVENT_SOURCE", "HTML_FILE", "JSON_P", "XHR");
  }

  /** {@code bridge.*}: the Vert.x event bus bridge at {@code /eventbus}. */
  public record BridgeConfig(boolean enabled, long pingTimeoutMs, long replyTimeoutMs) {
    public static final long DEFAULT_PING_TIMEOUT_MS = 30_000;
    public static final long DEFAULT_REPLY_TIMEOUT_MS = 30_000;
  }

  /** {@code broker.*}: how rooms reach the other hubs and nodes. */
  public record BrokerConfig(String type, String redisUri, long nodeTimeoutMs) {
    public static final String DEFAULT_TYPE = "local";
    public static final String DEFAULT_REDIS_URI = "redis://127.0.0.1:6379";
    public static final long DEFAULT_NODE_TIMEOUT_MS = 15_000;
    public static final Set<String> TYPES = Set.of("local", "hazelcast", "redis");
  }

  /** {@code emitter.*}: Socket.IO Redis emitter compatibility (outside processes emitting to clients). */
  public record EmitterConfig(boolean enabled, String redisUri, String key) {
    public static final String DEFAULT_KEY = "socket.io";
  }

  /** {@code socketio.*}: Socket.IO v4 clients (Engine.IO v4, Socket.IO protocol v5). */
  public record SocketIoConfig(
    boolean enabled,
    String path,
    long pingIntervalMs,
    long pingTimeoutMs,
    int maxPayload,
    long connectTimeoutMs,
    List<String> namespaces,
    String defaultRoom,
    String joinNotice,
    String leaveNotice,
    long recoveryMs) {
    public static final String DEFAULT_PATH = "/socket.io/";
    /** How long a disconnected socket's state is kept for connection state recovery (0: off). */
    public static final long DEFAULT_RECOVERY_MS = 120_000;
    public static final long DEFAULT_PING_INTERVAL_MS = 25_000;
    public static final long DEFAULT_PING_TIMEOUT_MS = 20_000;
    public static final int DEFAULT_MAX_PAYLOAD = 1_000_000;
    public static final long DEFAULT_CONNECT_TIMEOUT_MS = 45_000;
    public static final String DEFAULT_ROOM = "lobby";
    public static final String DEFAULT_JOIN_NOTICE = "{name} joined";
    public static final String DEFAULT_LEAVE_NOTICE = "{name} left";
  }

  /** {@code api.*}: the HTTP publish API; off while no key is configured. */
  public record ApiConfig(List<String> keys) {
    public boolean enabled() {
      return !keys.isEmpty();
    }
  }

  /** Reads a configuration with overrides taken from this process's environment and system properties. */
  public static ParleyConfig from(JsonObject json) {
    return from(json, System.getenv(), System.getProperties());
  }

  public static ParleyConfig from(JsonObject json, Map<String, String> env, Properties props) {
    JsonObject effective = json == null ? new JsonObject() : json.copy();
    applyEnvironment(effective, env);
    applyOverride(effective, "port", null, props.getProperty("parley.http.port"), true);
    applyOverride(effective, "host", null, props.getProperty("parley.http.host"), false);
    return parse(effective, null);
  }

  /** Every key there is, by section, with its kind: what a parse of the empty configuration asks for. */
  private static volatile Section.Catalog catalog;

  private static Section.Catalog catalog() {
    Section.Catalog c = catalog;
    if (c == null) {
      c = new Section.Catalog();
      parse(new JsonObject(), c);
      catalog = c;
    }
    return c;
  }

  /** The prefix of environment variables that set configuration keys. */
  public static final String ENV_PREFIX = "PARLEY_";

  /**
   * Sets keys from environment variables named {@code PARLEY_<SECTION>_<KEY>}: the section and key in capitals,
   * with or without underscores between a key's words ({@code PARLEY_BROKER_REDIS_URI} or
   * {@code PARLEY_BROKER_REDISURI} set {@code broker.redisUri}; {@code PARLEY_ROOMS} sets {@code rooms}).
   * Numbers and booleans are written as usual, lists as JSON arrays or comma-separated, lists of objects as
   * JSON. A variable whose first word is not a section is not configuration (PARLEY_LOG_LEVEL); one that names
   * a section but no key of it is refused, as an unknown key in the file is.
   */
  static void applyEnvironment(JsonObject json, Map<String, String> env) {
    Map<String, Map<String, Section.Kind>> keys = catalog().keys;
    Map<String, Section.Kind> top = keys.get("");
    for (Map.Entry<String, String> e : new java.util.TreeMap<>(env).entrySet()) {
      String name = e.getKey();
      if (!name.startsWith(ENV_PREFIX) || e.getValue() == null) {
        continue;
      }
      String rest = name.substring(ENV_PREFIX.length());
      String sectionName = rest.contains("_") ? rest.substring(0, rest.indexOf('_')) : rest;
      String section = top.keySet().stream().filter(k -> k.equalsIgnoreCase(sectionName)).findFirst().orElse(null);
      if (section == null) {
        continue;
      }
      String keyPart = rest.length() > sectionName.length() ? rest.substring(sectionName.length() + 1).replace("_", "") : "";
      if (keyPart.isEmpty()) {
        if (top.get(section) == Section.Kind.SECTION) {
          throw new ConfigException("environment variable " + name + " names the section " + section + ", not a key of it");
        }
        json.put(section, envValue(name, e.getValue(), top.get(section)));
        continue;
      }
      Map<String, Section.Kind> sectionKeys = keys.getOrDefault(section, Map.of());
      String key = sectionKeys.keySet().stream().filter(k -> k.equalsIgnoreCase(keyPart)).findFirst().orElse(null);
      if (key == null || top.get(section) != Section.Kind.SECTION) {
        throw new ConfigException("environment variable " + name + " names no configuration key (no key "
          + section + "." + keyPart.toLowerCase(java.util.Locale.ROOT) + "); known: " + sectionKeys.keySet());
      }
      Object target = json.getValue(section);
      if (target == null) {
        target = new JsonObject();
        json.put(section, target);
      }
      if (!(target instanceof JsonObject o)) {
        throw new ConfigException(section + " must be a JSON object, got " + target);
      }
      o.put(key, envValue(name, e.getValue(), sectionKeys.get(key)));
    }
  }

  private static Object envValue(String name, String text, Section.Kind kind) {
    String v = text.trim();
    try {
      return switch (kind) {
        case NUMBER -> Long.parseLong(v);
        case BOOLEAN -> {
          if (!v.equalsIgnoreCase("true") && !v.equalsIgnoreCase("false")) {
            throw new IllegalArgumentException("must be true or false");
          }
          yield Boolean.parseBoolean(v.toLowerCase(java.util.Locale.ROOT));
        }
        case STRINGS -> v.startsWith("[") ? new io.vertx.core.json.JsonArray(v)
          : new io.vertx.core.json.JsonArray(v.isEmpty() ? List.of() : java.util.Arrays.stream(v.split(",")).map(String::trim).toList());
        case OBJECTS -> new io.vertx.core.json.JsonArray(v);
        case SECTION -> new JsonObject(v);
        case STRING -> text;
      };
    } catch (RuntimeException ex) {
      throw new ConfigException("environment variable " + name + " must be " + switch (kind) {
        case NUMBER -> "an integer";
        case BOOLEAN -> "true or false";
        case STRINGS -> "a JSON array or a comma-separated list";
        default -> "JSON";
      } + ", got \"" + text + "\"");
    }
  }

  private static ParleyConfig parse(JsonObject effective, Section.Catalog catalog) {
    Section root = Section.root(effective, catalog);

    Section n = root.section("node");
    NodeConfig node = new NodeConfig(n.string("id", null));
    if (node.id() != null && !node.id().matches("[A-Za-z0-9_-]{1,32}")) {
      throw n.invalid("id", "must be 1 to 32 characters of [A-Za-z0-9_-], got \"" + node.id() + "\"");
    }
    n.done();

    Section h = root.section("http");
    HttpConfig http = new HttpConfig(
      h.nonEmptyString("host", HttpConfig.DEFAULT_HOST),
      h.intValue("port", HttpConfig.DEFAULT_PORT, 0, 65_535),
      h.strings("allowedOrigins", List.of()),
      h.intValue("maxConnections", HttpConfig.DEFAULT_MAX_CONNECTIONS, 1, 10_000_000),
      h.longValue("idleTimeoutMs", HttpConfig.DEFAULT_IDLE_TIMEOUT_MS, 100, 3_600_000),
      h.bool("h2c", false),
      h.intValue("maxConnectionsPerAddress", HttpConfig.DEFAULT_MAX_CONNECTIONS_PER_ADDRESS, 0, 10_000_000),
      h.strings("publicOrigins", List.of()));
    for (String o : http.publicOrigins()) {
      if (!o.matches("https?://[^/\\s]+/?")) {
        throw h.invalid("publicOrigins", "entries must be origins such as \"https://chat.example.com\", got \"" + o + "\"");
      }
    }
    h.done();

    Section hb = root.section("heartbeat");
    HeartbeatConfig heartbeat = new HeartbeatConfig(
      hb.longValue("intervalMs", HeartbeatConfig.DEFAULT_INTERVAL_MS, 10, 3_600_000),
      hb.longValue("timeoutMs", HeartbeatConfig.DEFAULT_TIMEOUT_MS, 10, 3_600_000));
    hb.done();

    Section l = root.section("limits");
    LimitsConfig limits = new LimitsConfig(
      l.intValue("maxFrameBytes", LimitsConfig.DEFAULT_MAX_FRAME_BYTES, 256, 16 << 20),
      l.intValue("maxTextLength", LimitsConfig.DEFAULT_MAX_TEXT_LENGTH, 1, 16 << 20),
      l.intValue("maxRoomsPerConnection", LimitsConfig.DEFAULT_MAX_ROOMS_PER_CONNECTION, 1, 100_000),
      l.intValue("outboundQueueBytes", LimitsConfig.DEFAULT_OUTBOUND_QUEUE_BYTES, 1024, 1 << 30),
      l.intValue("ratePerSecond", LimitsConfig.DEFAULT_RATE_PER_SECOND, 1, 1_000_000),
      l.intValue("rateBurst", LimitsConfig.DEFAULT_RATE_BURST, 1, 1_000_000),
      l.intValue("maxPendingCommands", LimitsConfig.DEFAULT_MAX_PENDING_COMMANDS, 1, 10_000),
      l.longValue("outboundMemoryBytes", LimitsConfig.DEFAULT_OUTBOUND_MEMORY_BYTES, 0, Long.MAX_VALUE),
      l.intValue("maxAnnouncedRoomSize", LimitsConfig.DEFAULT_MAX_ANNOUNCED_ROOM_SIZE, 0, 10_000_000),
      l.intValue("maxPresenceMembers", LimitsConfig.DEFAULT_MAX_PRESENCE_MEMBERS, 0, 10_000_000),
      l.longValue("maxUnfinishedMs", LimitsConfig.DEFAULT_MAX_UNFINISHED_MS, 10, 3_600_000),
      l.longValue("inboundMemoryBytes", LimitsConfig.DEFAULT_INBOUND_MEMORY_BYTES, 0, Long.MAX_VALUE));
    l.done();
    if (limits.maxTextLength() > limits.maxFrameBytes()) {
      throw new ConfigException("limits.maxTextLength (" + limits.maxTextLength()
        + ") must not exceed limits.maxFrameBytes (" + limits.maxFrameBytes() + ")");
    }

    Section s = root.section("sockjs");
    SockJsConfig sockjs = new SockJsConfig(
      s.bool("enabled", true),
      s.longValue("sessionTimeoutMs", SockJsConfig.DEFAULT_SESSION_TIMEOUT_MS, 100, 3_600_000),
      s.strings("disabledTransports", List.of()));
    for (String t : sockjs.disabledTransports()) {
      if (!SockJsConfig.TRANSPORTS.contains(t)) {
        throw s.invalid("disabledTransports", "contains unknown transport \"" + t + "\"; known: "
          + SockJsConfig.TRANSPORTS);
      }
    }
    s.done();

    Section b = root.section("bridge");
    BridgeConfig bridge = new BridgeConfig(
      b.bool("enabled", true),
      b.longValue("pingTimeoutMs", BridgeConfig.DEFAULT_PING_TIMEOUT_MS, 100, 3_600_000),
      b.longValue("replyTimeoutMs", BridgeConfig.DEFAULT_REPLY_TIMEOUT_MS, 100, 3_600_000));
    b.done();

    Section br = root.section("broker");
    BrokerConfig broker = new BrokerConfig(
      br.nonEmptyString("type", BrokerConfig.DEFAULT_TYPE),
      br.nonEmptyString("redisUri", BrokerConfig.DEFAULT_REDIS_URI),
      br.longValue("nodeTimeoutMs", BrokerConfig.DEFAULT_NODE_TIMEOUT_MS, 300, 30_000));
    if (!BrokerConfig.TYPES.contains(broker.type())) {
      throw br.invalid("type", "unknown broker type \"" + broker.type() + "\"; known: " + BrokerConfig.TYPES);
    }
    checkRedisUri(br, "redisUri", broker.redisUri());
    br.done();

    Section em = root.section("emitter");
    EmitterConfig emitter = new EmitterConfig(
      em.bool("enabled", false),
      em.nonEmptyString("redisUri", broker.redisUri()),
      em.nonEmptyString("key", EmitterConfig.DEFAULT_KEY));
    checkRedisUri(em, "redisUri", emitter.redisUri());
    em.done();

    Section a = root.section("api");
    ApiConfig api = new ApiConfig(a.strings("keys", List.of()));
    for (String key : api.keys()) {
      if (key.length() < 16) {
        throw a.invalid("keys", "entries must be at least 16 characters long (got one of " + key.length() + ")");
      }
    }
    a.done();

    Section io = root.section("socketio");
    List<String> namespaces = new java.util.ArrayList<>(List.of("/"));
    for (String nsp : io.strings("namespaces", List.of("/"))) {
      if (!nsp.matches("/[A-Za-z0-9_./-]{0,63}")) {
        throw io.invalid("namespaces", "entries must start with / and use [A-Za-z0-9_./-], got \"" + nsp + "\"");
      }
      if (!namespaces.contains(nsp)) {
        namespaces.add(nsp);
      }
    }
    SocketIoConfig socketio = new SocketIoConfig(
      io.bool("enabled", true),
      io.nonEmptyString("path", SocketIoConfig.DEFAULT_PATH),
      io.longValue("pingIntervalMs", SocketIoConfig.DEFAULT_PING_INTERVAL_MS, 10, 3_600_000),
      io.longValue("pingTimeoutMs", SocketIoConfig.DEFAULT_PING_TIMEOUT_MS, 10, 3_600_000),
      io.intValue("maxPayload", SocketIoConfig.DEFAULT_MAX_PAYLOAD, 1024, 100_000_000),
      io.longValue("connectTimeoutMs", SocketIoConfig.DEFAULT_CONNECT_TIMEOUT_MS, 10, 3_600_000),
      List.copyOf(namespaces),
      io.nonEmptyString("defaultRoom", SocketIoConfig.DEFAULT_ROOM),
      io.nonEmptyString("joinNotice", SocketIoConfig.DEFAULT_JOIN_NOTICE),
      io.nonEmptyString("leaveNotice", SocketIoConfig.DEFAULT_LEAVE_NOTICE),
      io.longValue("recoveryMs", SocketIoConfig.DEFAULT_RECOVERY_MS, 0, 3_600_000));
    if (!socketio.path().matches("/[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*/")) {
      throw io.invalid("path", "must look like /socket.io/ (slashes around), got \"" + socketio.path() + "\"");
    }
    if (!dev.parley.core.Rules.validRoom(socketio.defaultRoom())) {
      throw io.invalid("defaultRoom", "is not a valid room name: \"" + socketio.defaultRoom() + "\"");
    }
    io.done();

    Section hi = root.section("history");
    int historySize = hi.intValue("size", HistoryConfig.DEFAULT_SIZE, 0, 100_000);
    long historyTtl = hi.longValue("ttlMs", HistoryConfig.DEFAULT_TTL_MS, 1_000, 30L * 24 * 3_600_000);
    long historyMemory = hi.longValue("memoryBytes", HistoryConfig.DEFAULT_MEMORY_BYTES, 1L << 20, 1L << 40);
    List<RoomHistory> roomRules = new ArrayList<>();
    for (Section r : hi.sections("rooms")) {
      String match = r.nonEmptyString("match", null);
      if (match == null || !match.matches("[A-Za-z0-9_.*-]{1,64}")) {
        throw r.invalid("match", "must be a room name pattern of [A-Za-z0-9_.-] and * (any characters), got "
          + (match == null ? "nothing" : "\"" + match + "\""));
      }
      roomRules.add(RoomHistory.of(match, r.intValue("size", historySize, 0, 100_000),
        r.longValue("ttlMs", historyTtl, 1_000, 30L * 24 * 3_600_000)));
      r.done();
    }
    HistoryConfig history = new HistoryConfig(historySize, historyTtl, historyMemory, roomRules);
    hi.done();


    Section au = root.section("auth");
    List<PublicKey> publicKeys = new ArrayList<>();
    for (Section k : au.sections("publicKeys")) {
      String algorithm = k.nonEmptyString("algorithm", "RS256");
      if (!PublicKey.ALGORITHMS.contains(algorithm)) {
        throw k.invalid("algorithm", "must be one of " + new java.util.TreeSet<>(PublicKey.ALGORITHMS) + ", got \"" + algorithm + "\"");
      }
      String pem = k.nonEmptyString("pem", null);
      if (pem == null) {
        throw k.invalid("pem", "is required: a PEM public key, env:NAME or file:path");
      }
      publicKeys.add(new PublicKey(algorithm, pem));
      k.done();
    }
    AuthConfig auth = new AuthConfig(
      au.nonEmptyString("mode", "anonymous"),
      au.longValue("timeoutMs", AuthConfig.DEFAULT_TIMEOUT_MS, 100, 600_000),
      au.string("secret", null),
      List.copyOf(publicKeys),
      au.string("jwksFile", null),
      au.string("issuer", null),
      au.strings("audience", List.of()),
      au.intValue("leewaySeconds", AuthConfig.DEFAULT_LEEWAY_SECONDS, 0, 600),
      au.nonEmptyString("nameClaim", "name"),
      au.nonEmptyString("roomsClaim", "rooms"),
      au.nonEmptyString("publishClaim", "publish"),
      au.intValue("maxTokenBytes", AuthConfig.DEFAULT_MAX_TOKEN_BYTES, 256, 1 << 20),
      au.intValue("maxConnectionsPerUser", AuthConfig.DEFAULT_MAX_CONNECTIONS_PER_USER, 0, 1_000_000),
      au.intValue("userPublishPerSecond", AuthConfig.DEFAULT_USER_PUBLISH_PER_SECOND, 0, 1_000_000),
      au.intValue("userPublishBurst", AuthConfig.DEFAULT_USER_PUBLISH_BURST, 1, 1_000_000));
    if (!AuthConfig.MODES.contains(auth.mode())) {
      throw au.invalid("mode", "must be one of anonymous, mixed, token; got \"" + auth.mode() + "\"");
    }
    if (auth.secret() != null && auth.secret().isEmpty()) {
      throw au.invalid("secret", "must not be empty");
    }
    if (!auth.mode().equals("anonymous") && !auth.hasKeys()) {
      throw au.invalid("mode", "is " + auth.mode() + " but no key is configured: set auth.secret (HS256), auth.publicKeys or auth.jwksFile");
    }
    au.done();

    List<dev.parley.core.Access.RoomRule> rooms = new ArrayList<>();
    List<RoomHistory> historyOff = new ArrayList<>();
    for (Section r : root.sections("rooms")) {
      String match = r.nonEmptyString("match", null);
      if (!dev.parley.core.RoomPattern.valid(match)) {
        throw r.invalid("match", "must be a room name pattern of [A-Za-z0-9_.-] and * (any characters), got "
          + (match == null ? "nothing" : "\"" + match + "\""));
      }
      dev.parley.core.Access.Who everyone = auth.mode().equals("anonymous") ? dev.parley.core.Access.Who.ANYONE
        : dev.parley.core.Access.Who.TOKEN;
      dev.parley.core.Access.Who join = who(r, "join", everyone, auth.mode());
      dev.parley.core.Access.Who publish = who(r, "publish", join, auth.mode());
      boolean presence = r.bool("presence", true);
      if (!r.bool("history", true)) {
        historyOff.add(RoomHistory.of(match, 0, history.ttlMs()));
      }
      rooms.add(new dev.parley.core.Access.RoomRule(dev.parley.core.RoomPattern.of(match), join, publish, presence));
      r.done();
    }
    if (!historyOff.isEmpty()) {
      historyOff.addAll(history.rooms());
      history = new HistoryConfig(history.size(), history.ttlMs(), history.memoryBytes(), historyOff);
    }

    Section m = root.section("management");
    ManagementConfig management = new ManagementConfig(
      m.bool("enabled", true),
      m.nonEmptyString("host", ManagementConfig.DEFAULT_HOST),
      m.intValue("port", ManagementConfig.DEFAULT_PORT, 0, 65_535),
      m.strings("adminKeys", List.of()),
      m.nonEmptyString("adminClaim", ManagementConfig.DEFAULT_ADMIN_CLAIM),
      m.bool("metrics", true));
    for (String key : management.adminKeys()) {
      if (key.length() < 16) {
        throw m.invalid("adminKeys", "entries must be at least 16 characters long (got one of " + key.length() + ")");
      }
    }
    if (management.enabled() && management.port() != 0 && management.port() == http.port()
      && management.host().equals(http.host())) {
      throw m.invalid("port", "must differ from http.port (" + http.port() + "): the management listener is a port of its own");
    }
    m.done();

    Section d = root.section("drain");
    DrainConfig drain = new DrainConfig(d.longValue("windowMs", DrainConfig.DEFAULT_WINDOW_MS, 0, 600_000));
    d.done();

    root.done();

    return new ParleyConfig(node, http, heartbeat, limits, sockjs, bridge, broker, emitter, api, socketio, history, auth,
      List.copyOf(rooms), management, drain);
  }

  /** A {@code rooms[i].join} / {@code publish} value: "anyone", "token", "nobody" or {"claims": {claim: [values]}}. */
  private static dev.parley.core.Access.Who who(Section rule, String key, dev.parley.core.Access.Who def, String mode) {
    Object v = rule.raw(key);
    dev.parley.core.Access.Who who;
    if (v == null) {
      return def;
    } else if ("anyone".equals(v)) {
      who = dev.parley.core.Access.Who.ANYONE;
    } else if ("token".equals(v)) {
      who = dev.parley.core.Access.Who.TOKEN;
    } else if ("nobody".equals(v)) {
      who = dev.parley.core.Access.Who.NOBODY;
    } else if (v instanceof JsonObject o) {
      Section c = rule.child(key, o);
      Object claims = c.raw("claims");
      if (!(claims instanceof JsonObject co) || co.isEmpty()) {
        throw c.invalid("claims", "must be an object of claim names to lists of accepted values");
      }
      Map<String, Set<String>> wanted = new java.util.LinkedHashMap<>();
      for (String claim : co.fieldNames()) {
        Object values = co.getValue(claim);
        Set<String> set = new java.util.LinkedHashSet<>();
        if (values instanceof String one) {
          set.add(one);
        } else if (values instanceof io.vertx.core.json.JsonArray a && !a.isEmpty()) {
          a.forEach(x -> set.add(String.valueOf(x)));
        } else {
          throw c.invalid("claims", "values must be a string or a non-empty array, got " + values + " for \"" + claim + "\"");
        }
        wanted.put(claim, set);
      }
      c.done();
      who = dev.parley.core.Access.Who.claims(wanted);
    } else {
      throw rule.invalid(key, "must be \"anyone\", \"token\", \"nobody\" or {\"claims\": {...}}, got " + v);
    }
    if (mode.equals("anonymous") && (who.kind().equals("token") || who.kind().equals("claims"))) {
      throw rule.invalid(key, "needs tokens, but auth.mode is anonymous (nobody could ever be admitted)");
    }
    return who;
  }

  private static void checkRedisUri(Section section, String key, String uri) {
    if (!uri.startsWith("redis://") && !uri.startsWith("rediss://") && !uri.startsWith("unix://")) {
      throw section.invalid(key, "must be a redis://, rediss:// or unix:// URI, got \"" + uri + "\"");
    }
  }

  private static void applyOverride(JsonObject json, String key, String envValue, String propValue, boolean numeric) {
    String value = propValue != null ? propValue : envValue;
    String source = propValue != null ? "system property parley.http." + key : "environment variable PARLEY_HTTP_" + key.toUpperCase();
    if (value == null || value.isBlank()) {
      return;
    }
    Object v = value.trim();
    if (numeric) {
      try {
        v = Integer.parseInt(value.trim());
      } catch (NumberFormatException e) {
        throw new ConfigException(source + " must be an integer, got \"" + value + "\"");
      }
    }
    Object http = json.getValue("http");
    if (http == null) {
      http = new JsonObject();
      json.put("http", http);
    }
    if (http instanceof JsonObject o) {
      o.put(key, v);
    }
  }
}
