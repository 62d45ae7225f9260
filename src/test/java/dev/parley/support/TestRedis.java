package dev.parley.support;

import redis.embedded.RedisServer;

import java.io.IOException;
import java.net.ServerSocket;

/**
 * A real redis-server (embedded-redis ships the binary) on a free loopback port, started by the test
 * itself: nothing depends on a Redis already running on the machine. Start and stop from test threads
 * ({@code @BeforeAll}/{@code @AfterAll}), never from an event loop.
 */
public final class TestRedis implements AutoCloseable {

  private final int port;
  private RedisServer server;

  private TestRedis(int port) {
    this.port = port;
  }

  public static TestRedis start() throws IOException {
    TestRedis r = new TestRedis(freePort());
    r.startServer();
    return r;
  }

  private void startServer() throws IOException {
    server = RedisServer.newRedisServer()
      .port(port)
      .bind("127.0.0.1")
      .setting("save \"\"")
      .setting("appendonly no")
      .build();
    server.start();
  }

  public int port() {
    return port;
  }

  public String uri() {
    return "redis://127.0.0.1:" + port;
  }

  /** Stops the server (an outage); {@link #restart()} brings it back on the same port, empty. */
  public void stop() throws IOException {
    if (server != null) {
      server.stop();
      server = null;
    }
  }

  public void restart() throws IOException {
    stop();
    startServer();
  }

  @Override
  public void close() throws IOException {
    stop();
  }

  public static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }
}
