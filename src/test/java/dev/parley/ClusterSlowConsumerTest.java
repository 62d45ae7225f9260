package dev.parley;

import dev.parley.support.BridgeChatClient;
import dev.parley.support.BridgeClient;
import dev.parley.support.ChatClient;
import dev.parley.support.ChatFlows;
import dev.parley.support.NativeChatClient;
import dev.parley.support.SioChatClient;
import dev.parley.support.SioClient;
import dev.parley.support.SockJsWsClient;
import dev.parley.support.TestCluster;
import dev.parley.support.TestServer;
import dev.parley.support.WsClient;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.WebSocketConnectOptions;
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
 * Slow consumers of three transports in a two-node Hazelcast cluster: a paused Socket.IO member, a paused
 * SockJS member and a paused bridge member on node 0 are each dropped while a {@code /ws} publisher on
 * node 0 floods their room; the other members, on both nodes, get every message in order, the publisher
 * gets every acknowledgement, and both nodes hear the three {@code left}.
 */
@ExtendWith(VertxExtension.class)
@Timeout(value = 120, timeUnit = TimeUnit.SECONDS)
class ClusterSlowConsumerTest {

  private static final int RECEIVE_BUFFER = 16 * 1024;
  private TestCluster cluster;
  private final List<Integer> ports = new ArrayList<>();

  @BeforeEach
  void start(VertxTestContext ctx) throws Exception {
    cluster = TestCluster.start(2);
    List<Future<Integer>> started = new ArrayList<>();
    for (int i = 0; i < 2; i++) {
      JsonObject cfg = TestServer.config(new JsonObject()
        .put("broker", new JsonObject().put("type", "hazelcast"))
        .put("limits", new JsonObject().put("outboundQueueBytes", 64 * 1024).put("maxTextLength", 2000)));
      started.add(TestServer.startExactly(cluster.node(i), cfg));
    }
    Future.all(started).onComplete(ctx.succeeding(all -> {
      ports.add(all.resultAt(0));
      ports.add(all.resultAt(1));
      ctx.completeNow();
    }));
  }

  @AfterEach
  void stop() throws Exception {
    cluster.close();
  }

  @Test
  void pausedMembersOfEveryKindAreDroppedAndTheRestOfTheClusterGetsEverything(Vertx vertx, VertxTestContext ctx) {
    int node0 = ports.get(0);
    int node1 = ports.get(1);
    int count = 3000; // 3000 x 2 KB: more than kernel buffers and the 64 KB queue of a member that stops reading
    List<String> texts = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      texts.add(i + " " + "z".repeat(1900));
    }
    Future.all(List.of(
        SioClient.connect(vertx, node0, SioClient.Mode.WEBSOCKET, RECEIVE_BUFFER).map(c -> (ChatClient) new SioChatClient(c)),
        SockJsWsClient.connect(vertx, node0, RECEIVE_BUFFER).map(c -> (ChatClient) new NativeChatClient(c)),
        BridgeClient.open(vertx, node0, RECEIVE_BUFFER).map(c -> (ChatClient) new BridgeChatClient(c)),
        WsClient.connect(vertx, node0).map(c -> (ChatClient) new NativeChatClient(c)),
        WsClient.connect(vertx, node0).map(c -> (ChatClient) new NativeChatClient(c)),
        WsClient.connect(vertx, node1, new WebSocketConnectOptions(), 0).map(c -> (ChatClient) new NativeChatClient(c))))
      .compose(all -> {
        ChatClient sio = all.resultAt(0);
        ChatClient sockjs = all.resultAt(1);
        ChatClient bridge = all.resultAt(2);
        ChatClient publisher = all.resultAt(3);
        ChatClient here = all.resultAt(4);
        ChatClient there = all.resultAt(5);
        return sio.join("flood", "sio").compose(p -> sockjs.join("flood", "sockjs")).compose(p -> bridge.join("flood", "bridge"))
          .compose(p -> here.join("flood", "here")).compose(p -> there.join("flood", "there"))
          // node 0 knows node 1's new subscription once a probe from node 0 arrives there
          .compose(p -> ChatFlows.probe(here, there, "flood", 20))
          .compose(p -> publisher.join("flood", "publisher"))
          .compose(p -> {
            sio.pause();
            sockjs.pause();
            bridge.pause();
            return ChatFlows.floodInBatches(publisher, "publisher", "flood", texts, List.of(here, there));
          })
          .compose(got -> Future.all(List.of("sio", "sockjs", "bridge").stream()
              .map(name -> there.event("left", l -> name.equals(l.getString("name")), name + " left, seen on node 1"))
              .toList())
            .map(left -> got))
          .onComplete(ctx.succeeding(got -> ctx.verify(() -> {
            assertEquals(texts, got.get(0), "the healthy member on the publisher's node got every message in order");
            assertEquals(texts, got.get(1), "the member on the other node got every message in order");
            sio.resume();
            sockjs.resume();
            bridge.resume();
            ctx.completeNow();
          })));
      }).onFailure(ctx::failNow);
  }
}
