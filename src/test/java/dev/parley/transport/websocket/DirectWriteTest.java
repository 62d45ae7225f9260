package dev.parley.transport.websocket;

import dev.parley.ParleyNode;
import dev.parley.support.ChatClient;
import dev.parley.support.NativeChatClient;
import dev.parley.support.SioChatClient;
import dev.parley.support.SioClient;
import dev.parley.support.TestClient;
import dev.parley.support.TestServer;
import dev.parley.support.WsClient;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The direct write of {@link FrameWriter} (a frame written straight to the socket when nothing waits in the
 * channel; turned on with {@code -Dparley.directWrites=true}) on Netty's epoll transport, as the server runs
 * from its jar, for {@code /ws} and for Socket.IO
 * over WebSocket. A reader with a 4 KB receive buffer stops reading while 60 frames of 150 KB (9 MB, more than the
 * kernel's socket buffers hold) are published:
 * the socket takes the first frames only in part (the rest goes through the channel), a backlog forms in the
 * middle of a turn, and later frames queue behind it. Everything must then arrive whole and in order, a close
 * must come after the queued frames, and a reader that stays stopped must be dropped as a slow consumer
 * while the others get everything.
 */
@ExtendWith(VertxExtension.class)
@Timeout(value = 60, timeUnit = TimeUnit.SECONDS)
class DirectWriteTest {

  private static final String ADMIN_KEY = "direct-write-test-admin-key-0123456789";
  private static final int FRAMES = 60;
  private static final int TEXT = 150_000;
  private static final int BURST = 20;

  private Vertx vertx;

  @BeforeEach
  void nativeTransport() {
    FrameWriter.directWrites(true); // off by default (-Dparley.directWrites=true in production)
    vertx = Vertx.vertx(new VertxOptions().setPreferNativeTransport(true));
  }

  @AfterEach
  void close(VertxTestContext ctx) {
    FrameWriter.directWrites(false);
    vertx.close().onComplete(ctx.succeedingThenComplete());
  }

  private static JsonObject config(int outboundQueueBytes) {
    return new JsonObject()
      .put("limits", new JsonObject().put("maxTextLength", 200_000).put("maxFrameBytes", 256_000)
        .put("outboundQueueBytes", outboundQueueBytes))
      .put("management", new JsonObject().put("adminKeys", new JsonArray().add(ADMIN_KEY)));
  }

  /** A raw client of this kind ({@code ws} or {@code sio}); with {@code receiveBuffer} 4096, a slow reader. */
  private Future<TestClient> connect(String kind, int port, int receiveBuffer) {
    if ("ws".equals(kind)) {
      return WsClient.connect(vertx, port, new WebSocketConnectOptions().setHost("127.0.0.1").setPort(port).setURI("/ws"),
        receiveBuffer).map(c -> c);
    }
    return SioClient.connect(vertx, port, SioClient.Mode.WEBSOCKET, receiveBuffer).map(c -> c);
  }

  private static ChatClient chat(TestClient client) {
    return client instanceof SioClient sio ? new SioChatClient(sio) : new NativeChatClient(client);
  }

  /** The publisher's own copies of the burst, whole and in order (it took the paced ones as they came). */
  private static Future<Void> receivesBurst(ChatClient client) {
    Future<Void> f = Future.succeededFuture();
    for (int i = FRAMES; i < FRAMES + BURST; i++) {
      int n = i;
      f = f.compose(v -> receives(client, n));
    }
    return f;
  }

  private static String text(int i) {
    String head = i + ":";
    return head + String.valueOf((char) ('a' + i % 26)).repeat(TEXT - head.length());
  }

  /** Publishes the 60 frames, each acknowledged (so each was written to every member before the next is checked). */
  private static Future<Void> publishAll(ChatClient publisher) {
    return publishBurst(publisher, 0, FRAMES);
  }

  /** Publishes frames {@code from} to {@code to - 1} at once (one or a few turns of the server's loop). */
  private static Future<Void> publishBurst(ChatClient publisher, int from, int to) {
    List<Future<String>> acks = new ArrayList<>();
    for (int i = from; i < to; i++) {
      acks.add(publisher.publish("big", text(i)));
    }
    return Future.all(acks).mapEmpty();
  }

  /**
   * Publishes the frames one at a time, each once the readers got the one before, whole and in order: a
   * reader that keeps up never holds more than one frame, whatever the machine's speed.
   */
  private static Future<Void> publishPaced(ChatClient publisher, ChatClient... readers) {
    return publishPaced(FRAMES, publisher, readers);
  }

  private static Future<Void> publishPaced(int frames, ChatClient publisher, ChatClient... readers) {
    Future<Void> f = Future.succeededFuture();
    for (int i = 0; i < frames; i++) {
      int n = i;
      f = f.compose(v -> publisher.publish("big", text(n))).compose(id -> {
        List<Future<Void>> got = new ArrayList<>();
        for (ChatClient r : readers) {
          got.add(receives(r, n));
        }
        return Future.all(got).mapEmpty();
      });
    }
    return f;
  }

  /** The client's next message is text {@code n}, whole. */
  private static Future<Void> receives(ChatClient client, int n) {
    return client.event("message", m -> true, "message " + n).map(m -> {
      String got = m.getString("text");
      if (!text(n).equals(got)) {
        throw new AssertionError("message " + n + " is not whole or not in order: starts "
          + (got == null ? null : got.substring(0, Math.min(12, got.length()))) + ", length "
          + (got == null ? 0 : got.length()));
      }
      return null;
    });
  }

  /** The next 60 messages of the client are the 40 texts, whole and in order. */
  private static Future<Void> receivesAllInOrder(ChatClient client) {
    return receivesInOrder(client, FRAMES);
  }

  private static Future<Void> receivesInOrder(ChatClient client, int frames) {
    Future<Void> f = Future.succeededFuture();
    for (int i = 0; i < frames; i++) {
      int n = i;
      f = f.compose(v -> receives(client, n));
    }
    return f;
  }

  @ParameterizedTest
  @ValueSource(strings = {"ws", "sio"})
  void partialWritesAndABacklogFormedMidTurnArriveWholeAndInOrder(String kind, VertxTestContext ctx) {
    long direct = FrameWriter.directWrites();
    long partial = FrameWriter.partialWrites();
    TestServer.start(vertx, config(32 << 20), 1).compose(port -> Future.all(connect(kind, port, 4096), connect(kind, port, 0))
      .compose(all -> {
        ctx.verify(() -> assertTrue(vertx.isNativeTransportEnabled(), "epoll is what the jar runs on"));
        ChatClient reader = chat(all.resultAt(0));
        ChatClient publisher = chat(all.resultAt(1));
        return reader.join("big", "reader").compose(p -> publisher.join("big", "publisher"))
          .compose(p -> {
            reader.pause();
            // one frame per turn: each is the turn's first to the reader, so it goes straight to its socket
            // until the socket is full, and the write that fills it is taken only in part
            return publishPaced(FRAMES, publisher, publisher);
          })
          .compose(v -> {
            ctx.verify(() -> assertTrue(FrameWriter.partialWrites() > partial, "the socket took a frame only in part"));
            // then a burst: the publisher's own copies form a backlog in the middle of a turn, the reader's
            // queue behind what its socket did not take
            return publishBurst(publisher, FRAMES, FRAMES + BURST);
          })
          .compose(v -> {
            reader.resume();
            return Future.all(receivesInOrder(reader, FRAMES + BURST), receivesBurst(publisher));
          });
      }))
      .onComplete(ctx.succeeding(v -> ctx.verify(() -> {
        assertTrue(FrameWriter.directWrites() > direct, "frames were written straight to the socket");
        ctx.completeNow();
      })));
  }

  @ParameterizedTest
  @ValueSource(strings = {"ws", "sio"})
  void aCloseComesAfterTheFramesQueuedBeforeIt(String kind, VertxTestContext ctx) {
    var http = vertx.createHttpClient();
    TestServer.start(vertx, config(32 << 20), 1).compose(port -> Future.all(connect(kind, port, 4096), connect(kind, port, 0))
      .compose(all -> {
        TestClient raw = all.resultAt(0);
        ChatClient reader = chat(raw);
        ChatClient publisher = chat(all.resultAt(1));
        return reader.join("big", "reader").compose(p -> publisher.join("big", "publisher"))
          .compose(p -> {
            reader.pause();
            return publishAll(publisher);
          })
          .compose(v -> http.request(HttpMethod.POST, ParleyNode.of(vertx).managementPort(), "127.0.0.1", "/admin/api/disconnect")
            .compose(r -> r.putHeader("Authorization", "Bearer " + ADMIN_KEY).putHeader("Content-Type", "application/json")
              .send(new JsonObject().put("session", raw.session()).encode())))
          .compose(r -> {
            ctx.verify(() -> assertEquals(202, r.statusCode()));
            reader.resume();
            return receivesAllInOrder(reader);
          })
          .compose(v -> reader.closeCode());
      }))
      .onComplete(ctx.succeeding(code -> ctx.verify(() -> {
        // Socket.IO has no close codes: its DISCONNECT packet came after the queued frames
        assertEquals("ws".equals(kind) ? 4003 : -1, code, "disconnected by an operator, after everything queued before");
        ctx.completeNow();
      })));
  }

  @ParameterizedTest
  @ValueSource(strings = {"ws", "sio"})
  void aReaderThatStaysStoppedIsDroppedAndTheOthersGetEverything(String kind, VertxTestContext ctx) {
    TestServer.start(vertx, config(256 << 10), 1)
      .compose(port -> Future.all(connect(kind, port, 4096), connect(kind, port, 0), connect(kind, port, 0))
      .compose(all -> {
        ChatClient stopped = chat(all.resultAt(0));
        ChatClient publisher = chat(all.resultAt(1));
        ChatClient healthy = chat(all.resultAt(2));
        return stopped.join("big", "stopped").compose(p -> publisher.join("big", "publisher"))
          .compose(p -> healthy.join("big", "healthy"))
          .compose(p -> {
            stopped.pause();
            return publishPaced(publisher, publisher, healthy);
          })
          .compose(v -> {
            stopped.resume();
            return stopped.closeCode();
          });
      }))
      .onComplete(ctx.succeeding(code -> ctx.verify(() -> {
        assertEquals("ws".equals(kind) ? 4001 : -1, code, "a slow consumer (Socket.IO: the connection ends, no code)");
        ctx.completeNow();
      })));
  }
}
