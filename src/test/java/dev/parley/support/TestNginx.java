package dev.parley.support;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real nginx (Debian's package) on loopback, balancing plain round robin over Parley nodes with no
 * session affinity, WebSocket upgrades passed through: the configuration docs/scaling.md gives, with the
 * nodes' ports filled in. Started and stopped from test threads.
 */
public final class TestNginx implements AutoCloseable {

  private final Process process;
  private final Path dir;
  private final int port;

  private TestNginx(Process process, Path dir, int port) {
    this.process = process;
    this.dir = dir;
    this.port = port;
  }

  /** Whether nginx is installed here ({@code .ci/run} installs it). */
  public static boolean installed() {
    return Files.isExecutable(Path.of("/usr/sbin/nginx"));
  }

  public static TestNginx start(List<Integer> upstreams) throws IOException, InterruptedException {
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    Path dir = Files.createTempDirectory("parley-nginx");
    StringBuilder servers = new StringBuilder();
    for (int p : upstreams) {
      servers.append("    server 127.0.0.1:").append(p).append(";\n");
    }
    String conf = """
      worker_processes 1;
      daemon off;
      pid %1$s/nginx.pid;
      error_log %1$s/error.log warn;
      events { worker_connections 1024; }
      http {
        access_log off;
        client_body_temp_path %1$s/body;
        proxy_temp_path %1$s/proxy;
        fastcgi_temp_path %1$s/fastcgi;
        uwsgi_temp_path %1$s/uwsgi;
        scgi_temp_path %1$s/scgi;
        upstream parley {
      %2$s  }
        map $http_upgrade $connection_upgrade {
          default upgrade;
          ''      close;
        }
        server {
          listen 127.0.0.1:%3$d;
          location / {
            proxy_pass http://parley;
            proxy_http_version 1.1;
            proxy_set_header Host $http_host;   # with the port: the origin check compares it
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_buffering off;
            proxy_read_timeout 120s;
          }
        }
      }
      """.formatted(dir, servers, port);
    Path file = dir.resolve("nginx.conf");
    Files.writeString(file, conf);
    Process p = new ProcessBuilder("/usr/sbin/nginx", "-p", dir.toString(), "-c", file.toString())
      .redirectErrorStream(true).redirectOutput(dir.resolve("out.log").toFile()).start();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (System.nanoTime() < deadline) {
      try (java.net.Socket s = new java.net.Socket("127.0.0.1", port)) {
        return new TestNginx(p, dir, port);
      } catch (IOException notYet) {
        if (!p.isAlive()) {
          break;
        }
        Thread.onSpinWait();
        p.waitFor(20, TimeUnit.MILLISECONDS);
      }
    }
    p.destroyForcibly();
    throw new IllegalStateException("nginx did not start: " + Files.readString(dir.resolve("out.log"))
      + (Files.exists(dir.resolve("error.log")) ? Files.readString(dir.resolve("error.log")) : ""));
  }

  /** What nginx logged (warnings and errors). */
  public String errorLog() {
    try {
      return Files.readString(dir.resolve("error.log"));
    } catch (IOException e) {
      return "";
    }
  }

  public int port() {
    return port;
  }

  public String url() {
    return "http://127.0.0.1:" + port;
  }

  @Override
  public void close() throws InterruptedException {
    process.destroy();
    if (!process.waitFor(10, TimeUnit.SECONDS)) {
      process.destroyForcibly();
    }
  }
}
