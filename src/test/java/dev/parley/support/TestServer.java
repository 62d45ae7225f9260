package dev.parley.support;

import dev.parley.ParleyNode;
import dev.parley.ParleyVerticle;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;

/** Deploys the real server on 127.0.0.1, port 0, with a test configuration. */
public final class TestServer {

  private TestServer() {
  }

  /** A configuration with short heartbeats and generous rates, merged over by {@code overrides}. */
  public static JsonObject config(JsonObject overrides) {
    JsonObject base = new JsonObject()
      .put("http", new JsonObject().put("host", "127.0.0.1").put("port", 0))
      .put("management", new JsonObject().put("port", 0))
      .put("heartbeat", new JsonObject().put("intervalMs", 10_000).put("timeoutMs", 10_000))
      .put("limits", new JsonObject().put("ratePerSecond", 10_000).put("rateBurst", 10_000));
    return base.mergeIn(overrides, true);
  }

  /** Deploys one instance with exactly this configuration (no test defaults merged). */
  public static Future<Integer> startExactly(Vertx vertx, JsonObject config) {
    return vertx.deployVerticle(ParleyVerticle::new, new DeploymentOptions().setConfig(config))
      .map(id -> ParleyNode.of(vertx).port());
  }

  /** Deploys {@code instances} transport verticles and completes with the bound port. */
  public static Future<Integer> start(Vertx vertx, JsonObject overrides, int instances) {
    return vertx.deployVerticle(ParleyVerticle::new,
        new DeploymentOptions().setInstances(instances).setConfig(config(overrides)))
      .map(id -> ParleyNode.of(vertx).port());
  }

  /**
   * Undeploys every verticle. Call from {@code @AfterEach} in tests that use SockJS clients: closing
   * the Vert.x instance with SockJS WebSocket clients and the server still up races the two close
   * handshakes, and the client side then waits out its 30 s shutdown grace period.
   */
  public static Future<Void> stop(Vertx vertx) {
    return Future.all(vertx.deploymentIDs().stream().map(vertx::undeploy).toList()).mapEmpty();
  }

  public static Future<Integer> start(Vertx vertx) {
    return start(vertx, new JsonObject(), 1);
  }
}
