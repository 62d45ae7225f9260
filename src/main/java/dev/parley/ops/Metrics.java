package dev.parley.ops;

import dev.parley.core.ErrorCode;
import dev.parley.core.Telemetry;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Supplier;

/**
 * The node's Prometheus metrics ({@code parley_*}, plus the JVM's and, under {@code java -jar}, Vert.x's own):
 * what its hubs report through {@link Telemetry}, and gauges read when scraped. Counting is a few adders per
 * connection or command and one per fan-out (not per member), so it does not show in the delivery path.
 */
public final class Metrics implements Telemetry {

  private final PrometheusMeterRegistry registry;
  private final Counter joins;
  private final Counter leaves;
  private final Counter publishes;
  private final Counter deliveries;
  private final LongAdder deliveryCount = new LongAdder();
  private final LongAdder publishCount = new LongAdder();
  private final Map<ErrorCode, Counter> refusals = new EnumMap<>(ErrorCode.class);
  private final Map<String, AtomicInteger> open = new ConcurrentHashMap<>();
  private final Map<String, Counter> closes = new ConcurrentHashMap<>();
  private final Timer brokerRoundTrip;
  private final JvmGcMetrics gc = new JvmGcMetrics();

  /** Metrics in {@code registry} (the Vert.x launcher's, so its own metrics come along), or a registry of its own. */
  public Metrics(PrometheusMeterRegistry registry) {
    this.registry = registry != null ? registry : new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    MeterRegistry r = this.registry;
    joins = Counter.builder("parley_joins").description("Room joins").register(r);
    leaves = Counter.builder("parley_leaves").description("Room leaves (by command or because the connection ended)").register(r);
    publishes = Counter.builder("parley_publishes").description("Messages published by clients and the HTTP API").register(r);
    deliveries = Counter.builder("parley_deliveries").description("Events written to connections").register(r);
    for (ErrorCode code : ErrorCode.values()) {
      refusals.put(code, Counter.builder("parley_refusals").description("Commands refused, by error code")
        .tag("code", code.wire()).register(r));
    }
    for (String transport : new String[]{"ws", "sockjs", "bridge", "socket.io"}) {
      connectionsOf(transport);
    }
    brokerRoundTrip = Timer.builder("parley_broker_round_trip").description("A probe published through the broker until it came back")
      .publishPercentiles(0.5, 0.99).register(r);
    new ClassLoaderMetrics().bindTo(r);
    new JvmMemoryMetrics().bindTo(r);
    gc.bindTo(r);
    new JvmThreadMetrics().bindTo(r);
    new ProcessorMetrics().bindTo(r);
    new UptimeMetrics().bindTo(r);
  }

  /** Stops listening to the JVM's garbage collections (a node that stops in a JVM that goes on). */
  public void close() {
    gc.close();
  }

  public PrometheusMeterRegistry registry() {
    return registry;
  }

  /** The Prometheus text exposition. */
  public String scrape() {
    return registry.scrape();
  }

  /** A gauge read at each scrape. */
  public void gauge(String name, String description, Supplier<Number> value, String... tags) {
    Gauge.builder(name, value).description(description).tags(tags).register(registry);
  }

  private AtomicInteger connectionsOf(String transport) {
    return open.computeIfAbsent(transport, t -> {
      AtomicInteger n = new AtomicInteger();
      Gauge.builder("parley_connections", n, AtomicInteger::get).description("Open connections, by transport")
        .tag("transport", t).register(registry);
      return n;
    });
  }

  @Override
  public void opened(String transport) {
    connectionsOf(transport).incrementAndGet();
  }

  @Override
  public void closed(String transport, int code) {
    connectionsOf(transport).decrementAndGet();
    closes.computeIfAbsent(transport + "/" + code, k -> Counter.builder("parley_closes")
      .description("Connections ended, by transport and close code (client: the client or the network ended it)")
      .tag("transport", transport).tag("code", code == 0 ? "client" : Integer.toString(code))
      .tag("reason", reason(code)).register(registry)).increment();
  }

  private static String reason(int code) {
    if (code == 0) {
      return "client";
    }
    for (dev.parley.core.CloseCode c : dev.parley.core.CloseCode.values()) {
      if (c.code() == code) {
        return c.name().toLowerCase(Locale.ROOT);
      }
    }
    return "other";
  }

  @Override
  public void joined() {
    joins.increment();
  }

  @Override
  public void left() {
    leaves.increment();
  }

  @Override
  public void published() {
    publishes.increment();
    publishCount.increment();
  }

  @Override
  public void delivered(int count) {
    if (count > 0) {
      deliveries.increment(count);
      deliveryCount.add(count);
    }
  }

  @Override
  public void refused(ErrorCode code) {
    refusals.get(code).increment();
  }

  private final Map<String, Timer> historyOps = new ConcurrentHashMap<>();

  @Override
  public void history(String op, long nanos, boolean succeeded) {
    historyOps.computeIfAbsent(op + "/" + succeeded, k -> Timer.builder("parley_history_operations")
      .description("History store operations, by operation and outcome").tag("op", op)
      .tag("outcome", succeeded ? "ok" : "failed").register(registry)).record(nanos, java.util.concurrent.TimeUnit.NANOSECONDS);
  }

  /** Deliveries so far (for the admin view's rates). */
  public long deliveryTotal() {
    return deliveryCount.sum();
  }

  public long publishTotal() {
    return publishCount.sum();
  }

  /** Open connections of every transport. */
  public int connections() {
    return open.values().stream().mapToInt(AtomicInteger::get).sum();
  }

  private volatile long lastRoundTripNanos = -1;

  public void brokerRoundTrip(long nanos) {
    brokerRoundTrip.record(nanos, java.util.concurrent.TimeUnit.NANOSECONDS);
    lastRoundTripNanos = nanos;
  }

  /** The latest broker round trip in ms (NaN before any probe came back). */
  public double brokerRoundTripMs() {
    long n = lastRoundTripNanos;
    return n < 0 ? Double.NaN : n / 1e6;
  }
}
