package dev.parley;

import dev.parley.support.ChatFlows;
import dev.parley.support.NativeChatClient;
import dev.parley.support.TestCluster;
import dev.parley.support.TestServer;
import dev.parley.support.WsClient;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Three Parley nodes on a real Hazelcast cluster in this JVM (broker {@code hazelcast}): one chat
 * server whichever node a client reaches, presence across nodes, per-publisher order, and members of a
 * node that stops (gracefully or by crashing) announced as left.
 */
@ExtendWith(VertxExtension.class)
@Timeout(value = 90, timeUnit = TimeUnit.SECONDS)
class ClusterChatTest {

  private TestCluster cluster;
  private final List<Integer> ports = new ArrayList<>();

  @BeforeEach
  void start(VertxTestContext ctx) throws Exception {
    cluster = TestCluster.start(3);
    List<Future<Integer>> started = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      JsonObject cfg = TestServer.config(ChatFlows.mixedAuth().put("broker", new JsonObject().put("type", "hazelcast")));
      started.add(TestServer.startExactly(cluster.node(i), cfg));
    }
    Future.all(started).onComplete(ctx.succeeding(all -> {
      for (int i = 0; i < 3; i++) {
        ports.add(all.resultAt(i));
      }
      ctx.completeNow();
    }));
  }

  @AfterEach
  void stop() throws Exception {
    cluster.close();
  }

  /**
   * History in the Hazelcast cluster: cut off on node 0 while members of nodes 1 and 2 post, back on node 1,
   * nothing missing or doubled.
   */
  @Test
  void aClientCutOffOnOneNodeRecoversOnAnother(Vertx vertx, VertxTestContext ctx) {
    ChatFlows.cutOffAndRecoverOnAnotherNode(
        () -> WsClient.connect(vertx, ports.get(0)).map(NativeChatClient::new),
        () -> WsClient.connect(vertx, ports.get(1)).map(NativeChatClient::new),
        () -> WsClient.connect(vertx, ports.get(2)).map(NativeChatClient::new),
        () -> WsClient.connect(vertx, ports.get(1)).map(NativeChatClient::new), 50)
      .onComplete(ctx.succeedingThenComplete());
  }

  /** socket.io-client 4.8 cut off from node 0 reconnects to node 2 and recovers. */
  @Test
  void aSocketIoClientRecoversOnAnotherNode(Vertx vertx, VertxTestContext ctx) {
    SocketIoNodeClientTest.installed();
    SocketIoNodeClientTest.node(vertx, "recovery.mjs", "polling", "sio-rec", "http://127.0.0.1:" + ports.get(0),
        "http://127.0.0.1:" + ports.get(2))
      .onComplete(ctx.succeeding(result -> {
        ctx.verify(() -> {
          assertEquals(Boolean.TRUE, result.getBoolean("recovered"), "socket.recovered: " + result);
          List<Object> expected = new java.util.ArrayList<>(List.of("before"));
          for (int i = 0; i < 10; i++) {
            expected.add("missed " + i);
          }
          expected.add("after");
          assertEquals(expected, result.getJsonArray("got").getList(), "each missed message once, in order");
        });
        ctx.completeNow();
      }));
  }

  @Test
  void threeNodesBehaveAsOneChatServer(Vertx vertx, VertxTestContext ctx) {
    WsClient[] c = new WsClient[3];
    Future.all(WsClient.connect(vertx, ports.get(0)), WsClient.connect(vertx, ports.get(1)), WsClient.connect(vertx, ports.get(2)))
      .compose(all -> {
        for (int i = 0; i < 3; i++) {
          c[i] = all.resultAt(i);
        }
        return c[0].join("global", "n0");
      })
      .compose(v -> c[1].join("global", "n1"))
      .compose(v -> c[2].join("global", "n2"))
      .compose(presence -> {
        ctx.verify(() -> assertEquals(List.of("n0", "n1", "n2"), names(presence)));
        return Future.all(c[0].expect(f -> "joined".equals(f.getString("type")) && "n2".equals(f.getString("name")), "n2 joined at n0"),
          c[1].expect(f -> "joined".equals(f.getString("type")) && "n2".equals(f.getString("name")), "n2 joined at n1"));
      })
      .compose(v -> {
        for (int i = 0; i < 100; i++) {
          c[2].send(new JsonObject().put("type", "publish").put("room", "global").put("text", "m" + i));
        }
        return Future.all(inOrder(c[0], 100), inOrder(c[1], 100));
      })
      .compose(v -> c[0].publish("global", "from node 0"))
      .compose(v -> c[2].expect(f -> "from node 0".equals(f.getString("text")), "cross-node message"))
      .compose(v -> {
        // a graceful stop of node 1 announces its member at once
        return cluster.node(1).close().compose(x -> c[0].expect("left", "global"));
      })
      .compose(left -> {
        ctx.verify(() -> assertEquals("n1", left.getString("name")));
        return WsClient.connect(vertx, ports.get(2)).compose(late -> late.join("global", "late"));
      })
      .onComplete(ctx.succeeding(presence -> {
        ctx.verify(() -> assertEquals(List.of("n0", "n2", "late"), names(presence)));
        ctx.completeNow();
      }));
  }

  @Test
  void oneUserWithConnectionsOnTwoNodesIsOneMember(Vertx vertx, VertxTestContext ctx) {
    ChatFlows.oneUserOnTwoNodes(vertx, ports.get(0), ports.get(2)).onComplete(ctx.succeedingThenComplete());
  }

  @Test
  void aCrashedNodesMembersAreAnnouncedLeft(Vertx vertx, VertxTestContext ctx) {
    WsClient[] c = new WsClient[2];
    Future.all(WsClient.connect(vertx, ports.get(0)), WsClient.connect(vertx, ports.get(2)))
      .compose(all -> {
        c[0] = all.resultAt(0);
        c[1] = all.resultAt(1);
        return c[0].join("crash", "survivor").compose(v -> c[1].join("crash", "victim"));
      })
      .compose(v -> c[0].expect(f -> "joined".equals(f.getString("type")) && "victim".equals(f.getString("name")), "victim joined"))
      .compose(v -> {
        // No goodbye: Hazelcast on node 2 is terminated as a killed process would be.
        cluster.crash(2);
        return c[0].expect(f -> "left".equals(f.getString("type")) && "victim".equals(f.getString("name")), "victim left", 40_000);
      })
      .compose(v -> WsClient.connect(vertx, ports.get(1)).compose(other -> other.join("crash", "newcomer")))
      .onComplete(ctx.succeeding(presence -> {
        ctx.verify(() -> assertEquals(List.of("survivor", "newcomer"), names(presence)));
        ctx.completeNow();
      }));
  }

  private static List<String> names(JsonObject presence) {
    return presence.getJsonArray("members").stream().map(m -> ((JsonObject) m).getString("name")).toList();
  }

  private static Future<Void> inOrder(WsClient c, int n) {
    Future<Void> chain = Future.succeededFuture();
    for (int i = 0; i < n; i++) {
      String expected = "m" + i;
      chain = chain.compose(x -> c.expect("message", "global").map(m -> {
        assertEquals(expected, m.getString("text"), "per-publisher order across nodes");
        return null;
      }));
    }
    return chain;
  }
}
