package dev.parley;

import dev.parley.config.ConfigException;
import dev.parley.config.ParleyConfig;
import io.vertx.core.Future;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import io.vertx.launcher.application.VertxApplication;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Entry point of the fat jar. Runs the standard Vert.x launcher ({@code -conf}, {@code -instances},
 * {@code -cluster}, ...) after one check the launcher does not make: the configuration given with
 * {@code -conf} must exist, parse and validate, or the process exits with status 1 and a message naming
 * the file or key (the launcher alone would warn and start with an empty configuration).
 */
public final class Parley extends VertxApplication {

  private static final Logger LOG = LoggerFactory.getLogger(Parley.class);

  private static final String HAZELCAST_CONFIG = "vertx.hazelcast.config";
  private static final String NATIVE_TRANSPORT = "vertx.options.preferNativeTransport";
  private static final String DEFAULT_CLUSTER_XML = "conf/cluster.xml";

  /** Exit status for a missing, unreadable or invalid configuration. */
  public static final int EXIT_BAD_CONFIG = 1;

  /** The Micrometer registry the launcher's Vert.x reports to, which the node's own metrics join. */
  public static final String METRICS_REGISTRY = "parley";

  private Parley(String[] args, ParleyConfig config) {
    // The launcher finds Main-Verticle in the manifest whose Main-Class is this class.
    super(args, new Hooks(config));
  }

  /**
   * Vert.x's own metrics (event bus, worker pools, verticles) in the node's Prometheus registry, unless
   * {@code management.metrics} is off; and the graceful stop: on SIGTERM the node drains (see
   * {@link ParleyNode#drain}) before Vert.x closes, and the process exits with 0.
   */
  private static final class Hooks implements io.vertx.launcher.application.VertxApplicationHooks {
    private final ParleyConfig config;
    private long stopping;

    Hooks(ParleyConfig config) {
      this.config = config;
    }

    @Override
    public void beforeStartingVertx(io.vertx.launcher.application.HookContext context) {
      if (config.management().metrics()) {
        io.vertx.micrometer.MicrometerMetricsOptions metrics = new io.vertx.micrometer.MicrometerMetricsOptions()
          .setEnabled(true)
          .setRegistryName(METRICS_REGISTRY)
          .setPrometheusOptions(new io.vertx.micrometer.VertxPrometheusOptions().setEnabled(true))
          .setJvmMetricsEnabled(false);
        // per-byte and per-request meters would sit on the delivery path; connections are counted by Parley
        for (io.vertx.micrometer.MetricsDomain d : java.util.List.of(io.vertx.micrometer.MetricsDomain.HTTP_SERVER,
          io.vertx.micrometer.MetricsDomain.NET_SERVER, io.vertx.micrometer.MetricsDomain.HTTP_CLIENT,
          io.vertx.micrometer.MetricsDomain.NET_CLIENT, io.vertx.micrometer.MetricsDomain.DATAGRAM_SOCKET)) {
          metrics.addDisabledMetricsCategory(d);
        }
        context.vertxOptions().setMetricsOptions(metrics);
      }
    }

    /**
     * SIGTERM is taken over once Vert.x runs: the node drains while everything still works (the broker's
     * connections, the management listener), and only then does the process exit, through the launcher's
     * shutdown (Vert.x closes its resources at once when its own shutdown starts, which would cut the broker
     * off in the middle of the drain). A second SIGTERM during the drain exits at once.
     */
    @Override
    public void afterVertxStarted(io.vertx.launcher.application.HookContext context) {
      io.vertx.core.Vertx vertx = context.vertx();
      java.util.concurrent.atomic.AtomicBoolean asked = new java.util.concurrent.atomic.AtomicBoolean();
      try {
        sun.misc.Signal.handle(new sun.misc.Signal("TERM"), signal -> {
          if (!asked.compareAndSet(false, true)) {
            LOG.info("second SIGTERM: stopping now");
            Runtime.getRuntime().halt(143);
          }
          // the exit runs on a thread of its own: the shutdown it starts waits for the event loops
          drain(vertx).onComplete(ar -> new Thread(() -> System.exit(0), "parley-exit").start());
        });
      } catch (IllegalArgumentException | UnsupportedOperationException e) {
        LOG.warn("cannot take over SIGTERM ({}): a stop will drain while Vert.x closes", e.toString());
      }
    }

    private Future<Void> draining;

    /**
     * Drains the node, then closes what its hubs share (the broker flushed and left while Vert.x still runs);
     * once, whoever asks first. Never fails: a drain that does not finish in time is logged and the stop goes on.
     */
    private synchronized Future<Void> drain(io.vertx.core.Vertx vertx) {
      if (draining != null) {
        return draining;
      }
      ParleyNode node = ParleyNode.of(vertx);
      if (node == null) {
        draining = Future.succeededFuture();
        return draining;
      }
      stopping = System.nanoTime();
      long window = config.drain().windowMs();
      LOG.info("stop requested: draining {} connections over {} ms", node.connections(), window);
      draining = node.drain(window)
        .timeout(window + 10_000, java.util.concurrent.TimeUnit.MILLISECONDS)
        .onSuccess(v -> LOG.info("drained in {} ms; closing", (System.nanoTime() - stopping) / 1_000_000))
        .eventually(() -> node.closeShared().timeout(10_000, java.util.concurrent.TimeUnit.MILLISECONDS))
        .recover(err -> {
          LOG.warn("drain did not finish: {}; closing anyway", err.toString());
          return Future.succeededFuture();
        });
      return draining;
    }

    @Override
    public void beforeStoppingVertx(io.vertx.launcher.application.HookContext context) {
      // a stop that did not come through SIGTERM (SIGINT, say): this runs on the JVM's shutdown thread, and
      // Vert.x closes when it returns, so it waits here for the drain (already done after a SIGTERM)
      drain(context.vertx()).toCompletionStage().toCompletableFuture().join();
    }

    @Override
    public void afterVertxStopped(io.vertx.launcher.application.HookContext context) {
      if (stopping > 0) {
        LOG.info("stopped in {} ms", (System.nanoTime() - stopping) / 1_000_000);
      }
    }
  }

  public static void main(String[] args) {
    if (args.length > 0 && args[0].equals("token")) {
      System.exit(dev.parley.auth.TokenCommand.run(java.util.Arrays.copyOfRange(args, 1, args.length), System.out,
        System.err, System.getenv()));
      return;
    }
    ParleyConfig config;
    try {
      config = ParleyConfig.from(readConf(args));
      if (config.auth().hasKeys()) {
        // the keys are read now, so a missing variable or file stops the start with its name
        dev.parley.auth.JwtAuthenticator.check(config.auth(), System.getenv());
      }
    } catch (ConfigException e) {
      LOG.error("cannot start: {}", e.getMessage());
      System.exit(EXIT_BAD_CONFIG);
      return;
    }
    // Netty's native epoll transport when the platform has it (the launcher reads vertx.options.*);
    // -Dvertx.options.preferNativeTransport=false turns it off.
    if (System.getProperty(NATIVE_TRANSPORT) == null) {
      System.setProperty(NATIVE_TRANSPORT, "true");
    }
    // -cluster uses conf/cluster.xml when it is there (the jar carries a loopback copy otherwise).
    if (System.getProperty(HAZELCAST_CONFIG) == null && Files.isRegularFile(Path.of(DEFAULT_CLUSTER_XML))) {
      System.setProperty(HAZELCAST_CONFIG, DEFAULT_CLUSTER_XML);
    }
    new Parley(args, config).launch();
  }

  /** The configuration named by {@code -conf}/{@code --conf} (a file or inline JSON), or {} without one. */
  public static JsonObject readConf(String[] args) {
    String value = confArgument(args);
    if (value == null) {
      return new JsonObject();
    }
    String trimmed = value.trim();
    if (trimmed.startsWith("{")) {
      try {
        return new JsonObject(trimmed);
      } catch (DecodeException e) {
        throw new ConfigException("the inline -conf JSON is invalid: " + e.getMessage());
      }
    }
    Path path = Path.of(value);
    String text;
    try {
      text = Files.readString(path, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      throw new ConfigException("configuration file " + path.toAbsolutePath() + " does not exist");
    } catch (IOException e) {
      throw new ConfigException("configuration file " + path.toAbsolutePath() + " cannot be read: " + e.getMessage());
    }
    try {
      return new JsonObject(text);
    } catch (DecodeException e) {
      throw new ConfigException("configuration file " + path.toAbsolutePath() + " is not a JSON object: "
        + e.getMessage());
    }
  }

  static String confArgument(String[] args) {
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      String lower = a.toLowerCase(Locale.ROOT);
      if (lower.equals("-conf") || lower.equals("--conf")) {
        if (i + 1 >= args.length) {
          throw new ConfigException("-conf needs a file name or inline JSON");
        }
        return args[i + 1];
      }
      if (lower.startsWith("-conf=") || lower.startsWith("--conf=")) {
        return a.substring(a.indexOf('=') + 1);
      }
    }
    return null;
  }
}
