package dev.parley;

import dev.parley.support.ChatFlows;
import dev.parley.support.NativeChatClient;
import dev.parley.support.Polling;
import dev.parley.support.SioChatClient;
import dev.parley.support.SioClient;
import dev.parley.support.SockJsXhrClient;
import dev.parley.support.TestNginx;
import dev.parley.support.WsClient;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Polling without session affinity: every HTTP request of a client goes to the next node in turn, as a
 * round-robin load balancer sends it; requests that reach a node without the session are relayed to the
 * node that holds it. Run for each cluster mode (two nodes on one Redis, two Hazelcast members).
 */
@ExtendWith(VertxExtension.class)
@org.junit.jupiter.api.TestInstance(org.junit.jupiter.api.TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 60, timeUnit = TimeUnit.SECONDS)
abstract class NoAffinityTest {

  /** The HTTP ports of three nodes of one cluster, started once per test class. */
  protected int portA;
  protected int portB;
  protected int portC;

  /** Starts three nodes of the cluster mode under test; answers their ports. */
  protected abstract int[] startNodes() throws Exception;

  protected abstract void stopNodes() throws Exception;

  @BeforeAll
  void start() throws Exception {
    int[] ports = startNodes();
    portA = ports[0];
    portB = ports[1];
    portC = ports[2];
  }

  @AfterAll
  void stop() throws Exception {
    stopNodes();
  }

  private static List<String> numbered(String prefix, int count) {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      out.add(prefix + i);
    }
    return out;
  }

  static Future<JsonObject> health(Vertx vertx, int port) {
    io.vertx.core.http.HttpClient http = vertx.createHttpClient();
    return http.request(io.vertx.core.http.HttpMethod.GET, port, "127.0.0.1", "/health")
      .compose(req -> req.send()).compose(resp -> resp.body()).map(b -> new JsonObject(b.toString()))
      .eventually(http::close);
  }

  /** An Engine.IO polling client whose requests alternate between the nodes chats with a member of each node. */
  @Test
  void socketIoPollingAlternatingBetweenNodesChats(Vertx vertx, VertxTestContext ctx) {
    Future.all(SioClient.roundRobin(vertx, portA, portB).map(SioChatClient::new),
        WsClient.connect(vertx, portA).map(NativeChatClient::new), WsClient.connect(vertx, portB).map(NativeChatClient::new))
      .compose(all -> {
        SioChatClient sio = all.resultAt(0);
        NativeChatClient onA = all.resultAt(1);
        NativeChatClient onB = all.resultAt(2);
        List<String> fromSio = numbered("s-", 30);
        List<String> fromA = numbered("a-", 30);
        return onA.join("rr", "anna").compose(p -> onB.join("rr", "bert")).compose(p -> sio.join("rr", "polly"))
          .compose(p -> ChatFlows.probe(onB, sio, "rr", 40))
          .compose(p -> Future.all(ChatFlows.publishAll(sio, "rr", fromSio), ChatFlows.publishAll(onA, "rr", fromA)))
          .compose(v -> Future.all(ChatFlows.messagesFrom(onB, "rr", "polly", 30), ChatFlows.messagesFrom(sio, "rr", "anna", 30)))
          .compose(got -> {
            assertEquals(fromSio, got.resultAt(0), "the node without the session got the polling client's messages in order");
            assertEquals(fromA, got.resultAt(1), "the polling client got node A's messages in order");
            return Future.all(health(vertx, portA), health(vertx, portB));
          })
          .map(h -> {
            JsonObject a = h.<JsonObject>resultAt(0).getJsonObject("relay");
            JsonObject b = h.<JsonObject>resultAt(1).getJsonObject("relay");
            // the session is on one node; about half its requests reached the other and were relayed
            assertTrue(a.getLong("forwarded") + b.getLong("forwarded") >= 20, "requests relayed: " + a + " " + b);
            return null;
          });
      })
      .onComplete(ctx.succeedingThenComplete());
  }

  /** A SockJS client of each HTTP transport whose requests alternate between the nodes chats with a member of each node. */
  @ParameterizedTest
  @EnumSource(SockJsXhrClient.Mode.class)
  void sockJsAlternatingBetweenNodesChats(SockJsXhrClient.Mode mode, Vertx vertx, VertxTestContext ctx) {
    Future.all(SockJsXhrClient.roundRobin(vertx, mode, portA, portB).map(NativeChatClient::new),
        WsClient.connect(vertx, portA).map(NativeChatClient::new), WsClient.connect(vertx, portB).map(NativeChatClient::new))
      .compose(all -> {
        NativeChatClient sockjs = all.resultAt(0);
        NativeChatClient onA = all.resultAt(1);
        NativeChatClient onB = all.resultAt(2);
        List<String> fromSockJs = numbered("s-", 30);
        List<String> fromB = numbered("b-", 30);
        return onA.join("rr", "anna").compose(p -> onB.join("rr", "bert")).compose(p -> sockjs.join("rr", "sid"))
          .compose(p -> ChatFlows.probe(onA, sockjs, "rr", 40))
          .compose(p -> Future.all(ChatFlows.publishAll(sockjs, "rr", fromSockJs), ChatFlows.publishAll(onB, "rr", fromB)))
          .compose(v -> Future.all(ChatFlows.messagesFrom(onA, "rr", "sid", 30), ChatFlows.messagesFrom(sockjs, "rr", "bert", 30)))
          .compose(got -> {
            assertEquals(fromSockJs, got.resultAt(0), "members got the SockJS client's messages in order");
            assertEquals(fromB, got.resultAt(1), "the SockJS client got node B's messages in order");
            return Future.all(health(vertx, portA), health(vertx, portB));
          })
          .map(h -> {
            JsonObject a = h.<JsonObject>resultAt(0).getJsonObject("relay");
            JsonObject b = h.<JsonObject>resultAt(1).getJsonObject("relay");
            assertTrue(a.getLong("forwarded") + b.getLong("forwarded") >= 10, "requests relayed: " + a + " " + b);
            return null;
          });
      })
      .onComplete(ctx.succeedingThenComplete());
  }

  /**
   * A real nginx balancing plain round robin over the three nodes, no affinity: socket.io-client 4.8
   * polling-only, default (polling, then the upgrade, whose WebSocket usually lands on another node than the
   * session) and WebSocket-only chat through it; each gets every other's 20 messages once, in order.
   */
  @Test
  void socketIoClientsOfEveryModeChatThroughNginx(Vertx vertx, VertxTestContext ctx) throws Exception {
    assertTrue(TestNginx.installed(), "nginx is needed (apt-get install nginx-light; .ci/run installs it)");
    TestNginx nginx = TestNginx.start(List.of(portA, portB, portC));
    SocketIoNodeClientTest.installed();
    SocketIoNodeClientTest.node(vertx, "lb-chat.mjs", "lb-sio", nginx.url(), "20")
      .eventually(() -> vertx.executeBlocking(() -> {
        nginx.close();
        return null;
      }))
      .onComplete(ctx.succeeding(report -> ctx.verify(() -> {
        List<String> names = List.of("polling", "default", "websocket");
        for (String name : names) {
          JsonObject got = report.getJsonObject(name).getJsonObject("got");
          for (String other : names) {
            if (!other.equals(name)) {
              assertEquals(numbered(other + "-", 20), got.getJsonArray(other).getList(), name + " got " + other + "'s messages once, in order");
            }
          }
        }
        assertEquals("polling", report.getJsonObject("polling").getString("transport"));
        assertEquals("websocket", report.getJsonObject("default").getString("transport"), "the upgrade went through");
        ctx.completeNow();
      })));
  }

  private static Future<String> request(io.vertx.core.http.HttpClient http, io.vertx.core.http.HttpMethod method, int port,
                                        String uri, String body) {
    return http.request(method, port, "127.0.0.1", uri)
      .compose(req -> req.putHeader("Content-Type", "text/plain;charset=UTF-8").send(body == null ? "" : body))
      .compose(resp -> resp.body().map(b -> resp.statusCode() + " " + b));
  }

  /**
   * A load balancer re-sends a long-poll through another node when the first died mid-request: an
   * Engine.IO poll pending through node B arrives again through node C. The second takes over (the first
   * ends with a noop) and the session goes on: the answer to an event posted afterwards comes down the
   * second poll.
   */
  @Test
  void anEngineIoPollArrivingTwiceByDifferentNodesDoesNotEndTheSession(Vertx vertx, VertxTestContext ctx) {
    io.vertx.core.http.HttpClient http = vertx.createHttpClient(new io.vertx.core.http.PoolOptions().setHttp1MaxSize(8));
    var GET = io.vertx.core.http.HttpMethod.GET;
    var POST = io.vertx.core.http.HttpMethod.POST;
    request(http, GET, portA, "/socket.io/?EIO=4&transport=polling", null)
      .compose(open -> {
        String sid = new JsonObject(open.substring(open.indexOf('{'))).getString("sid");
        String uri = "/socket.io/?EIO=4&transport=polling&sid=" + sid;
        return request(http, POST, portA, uri, "40")
          .compose(ok -> request(http, GET, portB, uri, null)) // the namespace's CONNECT answer
          .compose(connected -> {
            assertTrue(connected.startsWith("200 40"), connected);
            Future<String> first = request(http, GET, portB, uri, null); // pending, through B
            return Polling.until(vertx, () -> health(vertx, portA), h -> h.getJsonObject("relay").getLong("open") > 0, "the first poll pending")
              .compose(v -> {
                Future<String> second = request(http, GET, portC, uri, null); // the same poll again, through C
                return first.compose(firstAnswer -> {
                  assertEquals("200 6", firstAnswer, "the replaced poll ends with a noop");
                  return request(http, POST, portA, uri, "420[\"join\",{\"room\":\"dup\",\"name\":\"d\"}]");
                }).compose(posted -> second);
              });
          })
          .map(second -> {
            assertTrue(second.startsWith("200 ") && (second.contains("430[") || second.contains("\"joined\"")),
              "what the join brings comes down the second poll: " + second);
            return null;
          });
      })
      .eventually(http::close)
      .onComplete(ctx.succeedingThenComplete());
  }

  /**
   * The same for SockJS: a receiving request of a session held by node A, pending through node B, arrives
   * again through node C; the session goes on and what it sends next comes down the second request.
   */
  @Test
  void aSockJsReceiveArrivingTwiceByDifferentNodesDoesNotEndTheSession(Vertx vertx, VertxTestContext ctx) {
    io.vertx.core.http.HttpClient http = vertx.createHttpClient(new io.vertx.core.http.PoolOptions().setHttp1MaxSize(8));
    var POST = io.vertx.core.http.HttpMethod.POST;
    String base = "/sockjs/000/" + java.util.UUID.randomUUID().toString().substring(0, 8);
    request(http, POST, portA, base + "/xhr", null)
      .compose(open -> {
        assertEquals("200 o\n", open);
        return request(http, POST, portA, base + "/xhr", null);
      })
      .compose(welcome -> {
        assertTrue(welcome.contains("welcome"), welcome);
        Future<String> first = request(http, POST, portB, base + "/xhr", null);
        return Polling.until(vertx, () -> health(vertx, portA), h -> h.getJsonObject("relay").getLong("open") > 0, "the first receive pending")
          .compose(v -> {
            Future<String> second = request(http, POST, portC, base + "/xhr", null);
            first.otherwiseEmpty(); // the replaced request is cut: its client was gone
            return Polling.until(vertx, () -> health(vertx, portA), h -> h.getJsonObject("relay").getLong("open") > 0
                && h.getJsonObject("relay").getLong("served") > 0, "the second receive pending")
              .compose(w -> first.transform(ar -> Future.succeededFuture()))
              .compose(w -> request(http, POST, portA, base + "/xhr_send",
                new io.vertx.core.json.JsonArray().add(new JsonObject().put("type", "join").put("room", "dup").put("name", "d").encode()).encode()))
              .compose(sent -> {
                assertEquals("204 ", sent);
                return second;
              });
          });
      })
      .map(second -> {
        assertTrue(second.startsWith("200 a[") && (second.contains("presence") || second.contains("joined")),
          "what the join brings comes down the second request: " + second);
        return null;
      })
      .eventually(http::close)
      .onComplete(ctx.succeedingThenComplete());
  }

  /**
   * A SockJS client of each HTTP transport through the real round-robin nginx chats with members of two
   * nodes: its session's requests land on all three nodes in turn.
   */
  @ParameterizedTest
  @EnumSource(SockJsXhrClient.Mode.class)
  void sockJsThroughNginxChats(SockJsXhrClient.Mode mode, Vertx vertx, VertxTestContext ctx) throws Exception {
    assertTrue(TestNginx.installed(), "nginx is needed (apt-get install nginx-light; .ci/run installs it)");
    TestNginx nginx = TestNginx.start(List.of(portA, portB, portC));
    Future.all(SockJsXhrClient.roundRobin(vertx, mode, nginx.port()).map(NativeChatClient::new),
        WsClient.connect(vertx, portA).map(NativeChatClient::new), WsClient.connect(vertx, portC).map(NativeChatClient::new))
      .compose(all -> {
        NativeChatClient sockjs = all.resultAt(0);
        NativeChatClient onA = all.resultAt(1);
        NativeChatClient onC = all.resultAt(2);
        List<String> fromSockJs = numbered("s-", 20);
        List<String> fromC = numbered("c-", 20);
        return onA.join("lb-sockjs", "anna").compose(p -> onC.join("lb-sockjs", "carl")).compose(p -> sockjs.join("lb-sockjs", "sid"))
          .compose(p -> ChatFlows.probe(onA, sockjs, "lb-sockjs", 40))
          .compose(p -> ChatFlows.probe(onC, sockjs, "lb-sockjs", 40))
          .compose(p -> Future.all(ChatFlows.publishAll(sockjs, "lb-sockjs", fromSockJs), ChatFlows.publishAll(onC, "lb-sockjs", fromC)))
          .compose(v -> Future.all(ChatFlows.messagesFrom(onA, "lb-sockjs", "sid", 20), ChatFlows.messagesFrom(sockjs, "lb-sockjs", "carl", 20)))
          .map(got -> {
            assertEquals(fromSockJs, got.resultAt(0), "members got the SockJS client's messages in order");
            assertEquals(fromC, got.resultAt(1), "the SockJS client got node C's messages in order");
            return null;
          });
      })
      .eventually(() -> vertx.executeBlocking(() -> {
        nginx.close();
        return null;
      }))
      .onComplete(ctx.succeedingThenComplete());
  }
}
