package dev.parley;

import dev.parley.support.JarProcess;
import dev.parley.support.TestRedis;
import dev.parley.support.WsClient;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Real JVMs from the fat jar, started as the README says: three Hazelcast-clustered nodes over
 * loopback, then three Redis-broker nodes. Clients on different nodes chat, see one presence, keep
 * per-publisher order, and hear a kill -9'd node's members leave within the bound.
 */
@ExtendWith(VertxExtension.class)
@Timeout(value = 180, timeUnit = TimeUnit.SECONDS)
class ProcessClusterIT {

  private final List<JarProcess> nodes = new ArrayList<>();
  private TestRedis redis;

  @BeforeAll
  static void jar() {
    assertTrue(JarProcess.jarBuilt(), "integration tests run after `mvn package`");
  }

  @AfterEach
  void stop() throws IOException {
    nodes.forEach(JarProcess::close);
    nodes.clear();
    if (redis != null) {
      redis.close();
    }
  }

  @Test
  void hazelcastClusterOfThreeJvms(Vertx vertx, VertxTestContext ctx) throws IOException {
    // the shipped conf/cluster.xml under a cluster name of this test's own
    String xml = Files.readString(Path.of("conf/cluster.xml"))
      .replace("<cluster-name>parley</cluster-name>", "<cluster-name>parley-it-" + UUID.randomUUID() + "</cluster-name>");
    Path clusterXml = Files.createTempFile("cluster-", ".xml");
    Files.writeString(clusterXml, xml);
    for (int i = 0; i < 3; i++) {
      nodes.add(JarProcess.start("hz" + i, List.of("-conf", "conf/config-cluster.json", "-cluster", "-cluster-host", "127.0.0.1"),
        Map.of("vertx.hazelcast.config", clusterXml.toString())));
    }
    scenario(vertx, ctx, 60_000, 30_000);
  }

  @Test
  void redisNodesOfThreeJvms(Vertx vertx, VertxTestContext ctx) throws IOException {
    redis = TestRedis.start();
    String conf = new JsonObject()
      .put("broker", new JsonObject().put("type", "redis").put("redisUri", redis.uri()).put("nodeTimeoutMs", 3_000))
      .encode();
    for (int i = 0; i < 3; i++) {
      nodes.add(JarProcess.start("redis" + i, List.of("-conf", conf), Map.of()));
    }
    // nodeTimeoutMs 3 s: members of a killed node must be gone within about 1.4 x that
    scenario(vertx, ctx, 30_000, 6_000);
  }

  private void scenario(Vertx vertx, VertxTestContext ctx, long startTimeoutMs, long leftBoundMs) {
    WsClient[] c = new WsClient[3];
    long[] killedAt = {0};
    Future.all(nodes.stream().map(n -> n.ready(vertx, startTimeoutMs)).toList())
      .compose(v -> Future.all(WsClient.connect(vertx, nodes.get(0).port()), WsClient.connect(vertx, nodes.get(1).port()),
        WsClient.connect(vertx, nodes.get(2).port())))
      .compose(all -> {
        for (int i = 0; i < 3; i++) {
          c[i] = all.resultAt(i);
        }
        return c[0].join("it", "zero").compose(v -> c[1].join("it", "one")).compose(v -> c[2].join("it", "two"));
      })
      .compose(presence -> {
        ctx.verify(() -> assertEquals(List.of("zero", "one", "two"), RedisChatTest.names(presence), "presence spans the JVMs"));
        return c[0].expect(f -> "joined".equals(f.getString("type")) && "two".equals(f.getString("name")), "two joined at zero");
      })
      .compose(v -> {
        for (int i = 0; i < 80; i++) { // within the default burst of 100 frames
          c[1].send(new JsonObject().put("type", "publish").put("room", "it").put("text", "m" + i));
        }
        Future<Void> chain = Future.succeededFuture();
        for (int i = 0; i < 80; i++) { // within the default burst of 100 frames
          String expected = "m" + i;
          chain = chain.compose(x -> Future.all(c[0].expect("message", "it"), c[2].expect("message", "it")).map(both -> {
            assertEquals(expected, both.<JsonObject>resultAt(0).getString("text"), "order at node 0");
            assertEquals(expected, both.<JsonObject>resultAt(1).getString("text"), "order at node 2");
            return null;
          }));
        }
        return chain;
      })
      .compose(v -> {
        killedAt[0] = System.currentTimeMillis();
        nodes.get(2).kill();
        return Future.all(
          c[0].expect(f -> "left".equals(f.getString("type")) && "two".equals(f.getString("name")), "two left at zero", leftBoundMs),
          c[1].expect(f -> "left".equals(f.getString("type")) && "two".equals(f.getString("name")), "two left at one", leftBoundMs));
      })
      .compose(v -> {
        long took = System.currentTimeMillis() - killedAt[0];
        System.out.println("members of the killed node announced left after " + took + " ms");
        return WsClient.connect(vertx, nodes.get(1).port()).compose(late -> late.join("it", "late"));
      })
      .onComplete(ar -> {
        if (ar.failed()) {
          nodes.forEach(n -> System.out.println("---- node " + n.port() + " ----\n" + n.logText()));
        }
        ctx.verify(() -> {
          assertTrue(ar.succeeded(), String.valueOf(ar.cause()));
          assertEquals(List.of("zero", "one", "late"), RedisChatTest.names(ar.result()), "the dead node's member is gone");
        });
        ctx.completeNow();
      });
  }
}
