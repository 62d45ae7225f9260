package dev.parley.bench;

import dev.parley.support.TestServer;
import dev.parley.support.Tokens;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.http.ClientWebSocket;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketClientOptions;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.internal.VertxInternal;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.auth.JWTOptions;
import io.vertx.ext.auth.PubSecKeyOptions;
import io.vertx.ext.auth.authentication.TokenCredentials;
import io.vertx.ext.auth.jwt.JWTAuth;
import io.vertx.ext.auth.jwt.JWTAuthOptions;
import io.netty.util.concurrent.EventExecutor;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * What a signed token adds to opening a connection: cycles of open a {@code /ws} WebSocket, (token mode)
 * authenticate, join a room and wait for its ack, close (and wait for the close handshake), one after the
 * other and with {@code INFLIGHT} cycles in flight. Variants: an anonymous server; a token-mode server with an
 * HS256 token sent as the first {@code auth} frame or as an {@code Authorization: Bearer} header on the
 * upgrade; the same with an RS256 token (2048-bit key generated here, public key given to the server as PEM).
 * Every variant is measured {@code ROUNDS} times, interleaved (the order reversed every other round). Prints,
 * per cycle: wall-clock latency (median, p99), the CPU time of this whole JVM (server, client, GC, JIT), the
 * CPU time of the server's own threads, and how many cores other processes used meanwhile (a run during which
 * they used more than {@code noiseMax}, 0.15, is measured again, after waiting for a quiet machine). Then the
 * library's bare token check (no connection) for scale. A development measurement, not a test:
 * {@code bash bench/auth.sh}.
 */
public final class AuthCost {

  private static final int CYCLES = Integer.getInteger("cycles", 3000);
  private static final int WARMUP = Integer.getInteger("warmup", 3000);
  private static final int ROUNDS = Integer.getInteger("rounds", 3);
  private static final int INFLIGHT = Integer.getInteger("inflight", 8);
  /** Distinct users per token variant (cycled through). */
  private static final int USERS = Integer.getInteger("users", 1000);
  /** A run during which other processes used more cores than this is measured again (up to {@code ATTEMPTS} times). */
  private static final double NOISE_MAX = Double.parseDouble(System.getProperty("noiseMax", "0.15"));
  private static final int ATTEMPTS = Integer.getInteger("attempts", 5);
  /** How long to wait, in all, for the machine to be quiet before a run. */
  private static final long QUIET_WAIT_MS = Long.getLong("quietWaitS", 600) * 1000;
  private static final List<String> VARIANTS = List.of(System.getProperty("variants",
    "anonymous,hs256-frame,hs256-bearer,rs256-frame,rs256-bearer").split(","));

  private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();
  private static final Set<Long> SERVER_THREADS = ConcurrentHashMap.newKeySet();

  private record Variant(String name, int port, boolean bearer, String[] tokens) {
    boolean authFrame() {
      return tokens != null && !bearer;
    }
  }

  private record Result(long[] took, long jvmCpu, long serverCpu, long wallNs, double otherCores) {
  }

  public static void main(String[] args) throws Exception {
    Vertx anonServer = Vertx.vertx(new VertxOptions().setPreferNativeTransport(true));
    Vertx tokenServer = Vertx.vertx(new VertxOptions().setPreferNativeTransport(true));
    Vertx clientVertx = Vertx.vertx(new VertxOptions().setPreferNativeTransport(true).setEventLoopPoolSize(1));

    KeyPairGenerator gen = KeyPairGenerator.getInstance("RSA");
    gen.initialize(2048);
    KeyPair rsa = gen.generateKeyPair();
    String publicPem = pem("PUBLIC KEY", rsa.getPublic().getEncoded());
    String privatePem = pem("PRIVATE KEY", rsa.getPrivate().getEncoded());

    JsonObject base = new JsonObject()
      .put("http", new JsonObject().put("maxConnections", 100_000).put("maxConnectionsPerAddress", 0))
      .put("limits", new JsonObject().put("ratePerSecond", 1_000_000).put("rateBurst", 1_000_000));
    JsonObject auth = Tokens.auth("token").put("maxConnectionsPerUser", 0)
      .put("publicKeys", new JsonArray().add(new JsonObject().put("algorithm", "RS256").put("pem", publicPem)));
    int anonPort = get(TestServer.start(anonServer, base.copy(), 1));
    int tokenPort = get(TestServer.start(tokenServer, base.copy().put("auth", auth), 1));
    serverThreads(anonServer);
    serverThreads(tokenServer);

    JWTAuth hs = JWTAuth.create(clientVertx, new JWTAuthOptions()
      .addPubSecKey(new PubSecKeyOptions().setAlgorithm("HS256").setBuffer(Tokens.SECRET)));
    JWTAuth rs = JWTAuth.create(clientVertx, new JWTAuthOptions()
      .addPubSecKey(new PubSecKeyOptions().setAlgorithm("RS256").setBuffer(privatePem)));
    String[] hsTokens = mint(hs, "HS256");
    String[] rsTokens = mint(rs, "RS256");

    Map<String, Variant> all = new LinkedHashMap<>();
    all.put("anonymous", new Variant("anonymous", anonPort, false, null));
    all.put("hs256-frame", new Variant("hs256-frame", tokenPort, false, hsTokens));
    all.put("hs256-bearer", new Variant("hs256-bearer", tokenPort, true, hsTokens));
    all.put("rs256-frame", new Variant("rs256-frame", tokenPort, false, rsTokens));
    all.put("rs256-bearer", new Variant("rs256-bearer", tokenPort, true, rsTokens));
    List<Variant> variants = new ArrayList<>();
    for (String v : VARIANTS) {
      Variant variant = all.get(v.trim());
      if (variant == null) {
        throw new IllegalArgumentException("unknown variant " + v + "; known: " + all.keySet());
      }
      variants.add(variant);
    }
    int[] inflights = INFLIGHT > 1 ? new int[] {1, INFLIGHT} : new int[] {1};

    Context ctx = clientVertx.getOrCreateContext();
    WebSocketClient client = clientVertx.createWebSocketClient(new WebSocketClientOptions().setMaxConnections(1000));
    Bench bench = new Bench(ctx, client);

    System.out.printf(Locale.ROOT, "%d cores, %s; %d cycles per run after %d warm-up cycles per variant and concurrency%n",
      Runtime.getRuntime().availableProcessors(), System.getProperty("java.vm.name") + " " + System.getProperty("java.version"),
      CYCLES, WARMUP);
    bench.waitQuiet();
    for (Variant v : variants) {
      for (int k : inflights) {
        bench.run(v, k, WARMUP);
      }
    }

    System.out.printf(Locale.ROOT, "%n%-5s %-13s %9s %10s %9s %9s %15s %15s %12s%n", "round", "variant", "in flight",
      "cycles/s", "p50 (us)", "p99 (us)", "JVM CPU/cycle", "server CPU/cyc", "other cores");
    // cpu[variant][inflight][round], µs per cycle
    double[][][] jvm = new double[variants.size()][inflights.length][ROUNDS];
    double[][][] srv = new double[variants.size()][inflights.length][ROUNDS];
    double[][][] p50 = new double[variants.size()][inflights.length][ROUNDS];
    double[][][] p99 = new double[variants.size()][inflights.length][ROUNDS];
    for (int r = 0; r < ROUNDS; r++) {
      for (int ki = 0; ki < inflights.length; ki++) {
        for (int j = 0; j < variants.size(); j++) {
          int vi = r % 2 == 0 ? j : variants.size() - 1 - j;
          Variant v = variants.get(vi);
          Result res = bench.measured(v, inflights[ki], CYCLES);
          long[] took = res.took();
          Arrays.sort(took);
          jvm[vi][ki][r] = res.jvmCpu() / 1000.0 / CYCLES;
          srv[vi][ki][r] = res.serverCpu() / 1000.0 / CYCLES;
          p50[vi][ki][r] = took[CYCLES / 2] / 1000.0;
          p99[vi][ki][r] = took[CYCLES * 99 / 100] / 1000.0;
          System.out.printf(Locale.ROOT, "%-5d %-13s %9d %10.0f %9.0f %9.0f %15.0f %15.0f %12.2f%n", r + 1, v.name(),
            inflights[ki], CYCLES * 1e9 / res.wallNs(), p50[vi][ki][r], p99[vi][ki][r], jvm[vi][ki][r], srv[vi][ki][r],
            res.otherCores());
        }
      }
    }

    System.out.printf(Locale.ROOT, "%nMedian over %d rounds (range); the difference to anonymous is taken within each round%n", ROUNDS);
    System.out.printf(Locale.ROOT, "%-13s %9s %9s %9s %20s %20s %20s %20s%n", "variant", "in flight", "p50 (us)", "p99 (us)",
      "JVM CPU/cycle (us)", "+ vs anonymous (us)", "server CPU/cyc (us)", "+ vs anonymous (us)");
    int anon = variants.stream().map(Variant::name).toList().indexOf("anonymous");
    for (int ki = 0; ki < inflights.length; ki++) {
      for (int vi = 0; vi < variants.size(); vi++) {
        String dj = "-";
        String ds = "-";
        if (anon >= 0 && vi != anon) {
          double[] d = new double[ROUNDS];
          double[] dsv = new double[ROUNDS];
          double[] pct = new double[ROUNDS];
          double[] pctsv = new double[ROUNDS];
          for (int r = 0; r < ROUNDS; r++) {
            d[r] = jvm[vi][ki][r] - jvm[anon][ki][r];
            dsv[r] = srv[vi][ki][r] - srv[anon][ki][r];
            pct[r] = 100 * d[r] / jvm[anon][ki][r];
            pctsv[r] = 100 * dsv[r] / srv[anon][ki][r];
          }
          dj = String.format(Locale.ROOT, "%.0f (%+.0f%%)", median(d), median(pct));
          ds = String.format(Locale.ROOT, "%.0f (%+.0f%%)", median(dsv), median(pctsv));
        }
        System.out.printf(Locale.ROOT, "%-13s %9d %9.0f %9.0f %20s %20s %20s %20s%n", variants.get(vi).name(), inflights[ki],
          median(p50[vi][ki]), median(p99[vi][ki]), summary(jvm[vi][ki]), dj, summary(srv[vi][ki]), ds);
      }
    }

    // the library's token check alone, on this thread, for scale
    JWTAuth hsVerify = JWTAuth.create(clientVertx, new JWTAuthOptions()
      .addPubSecKey(new PubSecKeyOptions().setAlgorithm("HS256").setBuffer(Tokens.SECRET))
      .setJWTOptions(new JWTOptions().setAudience(List.of(Tokens.AUDIENCE))));
    JWTAuth rsVerify = JWTAuth.create(clientVertx, new JWTAuthOptions()
      .addPubSecKey(new PubSecKeyOptions().setAlgorithm("RS256").setBuffer(publicPem))
      .setJWTOptions(new JWTOptions().setAudience(List.of(Tokens.AUDIENCE))));
    System.out.printf(Locale.ROOT, "%nToken check alone (JWTAuth.authenticate, one thread): HS256 %.1f us, RS256 %.1f us%n",
      verify(hsVerify, hsTokens), verify(rsVerify, rsTokens));

    get(Future.join(clientVertx.close(), anonServer.close(), tokenServer.close()));
    System.exit(0);
  }

  /** Runs cycles of one variant on the client's event loop, {@code inflight} at a time. */
  private static final class Bench {
    private final Context ctx;
    private final WebSocketClient client;
    private int user;

    Bench(Context ctx, WebSocketClient client) {
      this.ctx = ctx;
      this.client = client;
    }

    private long waited;

    /**
     * A run on a quiet machine: waits (at most {@code QUIET_WAIT_MS} over the whole benchmark) until other
     * processes use at most {@code NOISE_MAX} cores, and measures again a run during which they used more.
     */
    Result measured(Variant v, int inflight, int n) throws Exception {
      Result res = null;
      for (int attempt = 1; attempt <= ATTEMPTS; attempt++) {
        waitQuiet();
        res = run(v, inflight, n);
        if (!(res.otherCores() > NOISE_MAX)) {
          return res;
        }
        System.out.printf(Locale.ROOT, "      (%s, %d in flight: measured again, other processes used %.2f cores)%n",
          v.name(), inflight, res.otherCores());
      }
      return res;
    }

    /** Waits until other processes use at most {@code NOISE_MAX} cores (over 1 s), unless the wait is used up. */
    void waitQuiet() throws InterruptedException {
      while (waited < QUIET_WAIT_MS) {
        long[] s0 = procStat();
        long j0 = jvmCpu();
        long t0 = System.nanoTime();
        Thread.sleep(1000);
        double other = otherCores(s0, procStat(), jvmCpu() - j0, System.nanoTime() - t0);
        if (!(other > NOISE_MAX)) {
          return;
        }
        waited += 1000;
        if (waited % 30_000 == 0) {
          System.out.printf(Locale.ROOT, "      (waiting for a quiet machine: other processes use %.2f cores)%n", other);
        }
      }
    }

    Result run(Variant v, int inflight, int n) throws Exception {
      long[] took = new long[n];
      Promise<Void> done = Promise.promise();
      long[] stat0 = procStat();
      long jvm0 = jvmCpu();
      long srv0 = serverCpu();
      long t0 = System.nanoTime();
      ctx.runOnContext(x -> {
        int[] next = {0};
        int[] running = {inflight};
        for (int c = 0; c < inflight; c++) {
          String room = "bench-" + c;
          chain(v, room, took, next, running, done);
        }
      });
      get(done.future());
      long wall = System.nanoTime() - t0;
      long jvm = jvmCpu() - jvm0;
      long srv = serverCpu() - srv0;
      return new Result(took, jvm, srv, wall, otherCores(stat0, procStat(), jvm, wall));
    }

    private void chain(Variant v, String room, long[] took, int[] next, int[] running, Promise<Void> done) {
      if (done.future().isComplete()) {
        return;
      }
      int i = next[0]++;
      if (i >= took.length) {
        if (--running[0] == 0) {
          done.tryComplete();
        }
        return;
      }
      String token = v.tokens() == null ? null : v.tokens()[user++ % v.tokens().length];
      cycle(v, token, room).onComplete(ar -> {
        if (ar.failed()) {
          done.tryFail(new IllegalStateException(v.name() + ": " + ar.cause().getMessage(), ar.cause()));
          return;
        }
        took[i] = ar.result();
        chain(v, room, took, next, running, done);
      });
    }

    /** Open, (auth), join, ack, close; completes with the cycle's wall-clock time once the socket has closed. */
    private Future<Long> cycle(Variant v, String token, String room) {
      long t0 = System.nanoTime();
      Promise<Long> done = Promise.promise();
      boolean[] acked = {false};
      String join = "{\"type\":\"join\",\"room\":\"" + room + "\",\"name\":\"bench\",\"ref\":\"j\"}";
      ClientWebSocket ws = client.webSocket();
      ws.textMessageHandler(text -> {
        if (text.contains("\"type\":\"welcome\"")) {
          if (v.authFrame()) {
            ws.writeTextMessage("{\"type\":\"auth\",\"token\":\"" + token + "\",\"ref\":\"a\"}");
          } else if (token == null) {
            ws.writeTextMessage(join);
          } // a Bearer header: the server answers it with authed after welcome
        } else if (text.contains("\"type\":\"authed\"")) {
          ws.writeTextMessage(join);
        } else if (text.contains("\"type\":\"ack\"")) {
          acked[0] = true;
          ws.close();
        } else if (text.contains("\"type\":\"error\"")) {
          done.tryFail(new IllegalStateException("server answered " + text));
          ws.close();
        }
      });
      ws.closeHandler(x -> {
        if (acked[0]) {
          done.tryComplete(System.nanoTime() - t0);
        } else {
          done.tryFail(new IllegalStateException("closed before the join's ack (code " + ws.closeStatusCode() + ")"));
        }
      });
      WebSocketConnectOptions options = new WebSocketConnectOptions().setHost("127.0.0.1").setPort(v.port()).setURI("/ws");
      if (v.bearer()) {
        options.addHeader("Authorization", "Bearer " + token);
      }
      ws.connect(options).onFailure(done::tryFail);
      return done.future();
    }
  }

  private static String[] mint(JWTAuth signer, String algorithm) {
    String[] tokens = new String[USERS];
    long exp = System.currentTimeMillis() / 1000 + 3600;
    for (int i = 0; i < USERS; i++) {
      tokens[i] = signer.generateToken(new JsonObject().put("sub", "user-" + i).put("name", "user " + i)
        .put("aud", Tokens.AUDIENCE).put("exp", exp), new JWTOptions().setAlgorithm(algorithm));
    }
    return tokens;
  }

  /** Mean µs of one {@code authenticate} over the tokens, after as many again for warm-up. */
  private static double verify(JWTAuth jwt, String[] tokens) throws Exception {
    int n = Math.max(tokens.length, 5000);
    for (int i = 0; i < n; i++) {
      get(jwt.authenticate(new TokenCredentials(tokens[i % tokens.length])));
    }
    long t0 = THREADS.getCurrentThreadCpuTime();
    for (int i = 0; i < n; i++) {
      get(jwt.authenticate(new TokenCredentials(tokens[i % tokens.length])));
    }
    return (THREADS.getCurrentThreadCpuTime() - t0) / 1000.0 / n;
  }

  private static String pem(String type, byte[] der) {
    return "-----BEGIN " + type + "-----\n" + Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der)
      + "\n-----END " + type + "-----\n";
  }

  /** Records the threads of a server's Vert.x instance (its event loops and acceptor). */
  private static void serverThreads(Vertx vertx) throws InterruptedException {
    VertxInternal v = (VertxInternal) vertx;
    List<EventExecutor> executors = new ArrayList<>();
    v.nettyEventLoopGroup().forEach(executors::add);
    v.acceptorEventLoopGroup().forEach(executors::add);
    CountDownLatch latch = new CountDownLatch(executors.size());
    for (EventExecutor e : executors) {
      e.execute(() -> {
        SERVER_THREADS.add(Thread.currentThread().getId());
        latch.countDown();
      });
    }
    if (!latch.await(10, TimeUnit.SECONDS)) {
      throw new IllegalStateException("server threads did not answer");
    }
  }

  private static long serverCpu() {
    long sum = 0;
    for (long id : SERVER_THREADS) {
      long t = THREADS.getThreadCpuTime(id);
      if (t > 0) {
        sum += t;
      }
    }
    return sum;
  }

  private static long jvmCpu() {
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
  }

  /** The machine's busy CPU time in clock ticks (all cores) and the ticks per second, or null off Linux. */
  private static long[] procStat() {
    try {
      String[] f = Files.readAllLines(Path.of("/proc/stat")).get(0).trim().split("\\s+");
      long busy = 0;
      for (int i = 1; i < Math.min(f.length, 9); i++) {
        if (i != 4 && i != 5) { // idle, iowait
          busy += Long.parseLong(f[i]);
        }
      }
      return new long[] {busy, 100};
    } catch (Exception e) {
      return null;
    }
  }

  /** Cores used by other processes over a window: the machine's busy time less this JVM's, over the wall time. */
  private static double otherCores(long[] stat0, long[] stat1, long jvmNs, long wallNs) {
    if (stat0 == null || stat1 == null) {
      return Double.NaN;
    }
    return Math.max(0, ((stat1[0] - stat0[0]) * 1e9 / stat1[1] - jvmNs) / wallNs);
  }

  private static double median(double[] xs) {
    double[] s = xs.clone();
    Arrays.sort(s);
    return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  }

  private static String summary(double[] xs) {
    double[] s = xs.clone();
    Arrays.sort(s);
    return String.format(Locale.ROOT, "%.0f (%.0f-%.0f)", median(s), s[0], s[s.length - 1]);
  }

  private static <T> T get(Future<T> f) throws Exception {
    return f.toCompletionStage().toCompletableFuture().get(120, TimeUnit.SECONDS);
  }
}
