package dev.parley.support;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpMethod;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** A Parley node as a user runs it: {@code java -jar target/parley.jar ...} in its own JVM. */
public final class JarProcess implements AutoCloseable {

  public static final Path JAR = Path.of("target/parley.jar");

  private final Process process;
  private final int port;
  private final Path log;

  private JarProcess(Process process, int port, Path log) {
    this.process = process;
    this.port = port;
    this.log = log;
  }

  /** Starts the jar with these arguments on a free HTTP port (PARLEY_HTTP_PORT); output goes to a log file. */
  public static JarProcess start(String name, List<String> args, Map<String, String> sysProps) throws IOException {
    int port = TestRedis.freePort();
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> cmd = new ArrayList<>(List.of(java, "-Xmx256m"));
    sysProps.forEach((k, v) -> cmd.add("-D" + k + "=" + v));
    cmd.addAll(List.of("-jar", JAR.toString()));
    cmd.addAll(args);
    Path log = Files.createTempFile("parley-" + name + "-", ".log");
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
    pb.environment().put("PARLEY_HTTP_PORT", Integer.toString(port));
    pb.environment().putIfAbsent("PARLEY_MANAGEMENT_PORT", "0"); // several nodes on one machine
    return new JarProcess(pb.start(), port, log);
  }

  public int port() {
    return port;
  }

  public long pid() {
    return process.pid();
  }

  /** Bounded polling of GET /health every 100 ms until 200, or fails with the process log. */
  public Future<JarProcess> ready(Vertx vertx, long timeoutMs) {
    HttpClient http = vertx.createHttpClient();
    Promise<JarProcess> done = Promise.promise();
    long deadline = System.currentTimeMillis() + timeoutMs;
    poll(vertx, http, done, deadline);
    return done.future();
  }

  private void poll(Vertx vertx, HttpClient http, Promise<JarProcess> done, long deadline) {
    http.request(HttpMethod.GET, port, "127.0.0.1", "/health").compose(req -> req.send()).onComplete(ar -> {
      if (ar.succeeded() && ar.result().statusCode() == 200) {
        done.complete(this);
      } else if (!process.isAlive() || System.currentTimeMillis() > deadline) {
        done.fail("node on port " + port + " did not become healthy; log:\n" + logText());
      } else {
        vertx.setTimer(100, t -> poll(vertx, http, done, deadline));
      }
    });
  }

  /** Completes with the exit status once the process has ended (waited for on a worker thread). */
  public Future<Integer> exited(Vertx vertx) {
    return vertx.executeBlocking(() -> process.waitFor());
  }

  /** kill -9: no shutdown hook, no goodbye to the cluster. */
  public void kill() {
    process.destroyForcibly();
  }

  /** SIGTERM: the graceful stop a service manager does. */
  public void terminate() {
    process.destroy();
  }

  public String logText() {
    try {
      return Files.readString(log);
    } catch (IOException e) {
      return "(no log: " + e + ")";
    }
  }

  @Override
  public void close() {
    process.destroyForcibly();
  }

  public static boolean jarBuilt() {
    return new File(JAR.toString()).isFile();
  }
}
