package dev.parley.broker;

import dev.parley.core.ChatEvent;
import dev.parley.core.HistoryStore;
import dev.parley.core.HistoryStore.Replay;
import dev.parley.core.StreamPosition;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The guarantees every {@link HistoryStore} promises, run against each implementation: subclasses provide
 * two handles on one store (two hubs of a node, or two nodes of a cluster) kept to {@link #SIZE} messages.
 */
@ExtendWith(VertxExtension.class)
@Timeout(value = 60, timeUnit = TimeUnit.SECONDS)
public abstract class HistoryContractTest {

  protected static final int SIZE = 50;

  protected HistoryStore first;
  protected HistoryStore second;

  /** Two handles on one store that keeps {@link #SIZE} messages per room. */
  protected abstract List<HistoryStore> stores(Vertx vertx);

  @BeforeEach
  void setUp(Vertx vertx) {
    List<HistoryStore> s = stores(vertx);
    first = s.get(0);
    second = s.get(1);
  }

  private static ChatEvent.Message message(String room, int n) {
    return new ChatEvent.Message(room, "s-" + n % 3, "name", "text " + n, 1000 + n, "id-" + n);
  }

  /** Appends messages 0..count-1 alternately through both handles, one after the other. */
  private Future<List<ChatEvent.Message>> appendAll(String room, int count) {
    List<ChatEvent.Message> out = new ArrayList<>();
    Future<Void> chain = Future.succeededFuture();
    for (int i = 0; i < count; i++) {
      int n = i;
      HistoryStore via = i % 2 == 0 ? first : second;
      chain = chain.compose(v -> via.append(message(room, n), null).map(a -> {
        out.add(a.message());
        return null;
      }));
    }
    return chain.map(out);
  }

  @Test
  void offsetsGrowByOneAndEveryReaderSeesTheSameStream(VertxTestContext ctx) {
    appendAll("r1", 10).compose(appended -> {
      ctx.verify(() -> {
        for (int i = 0; i < 10; i++) {
          assertEquals(i + 1, appended.get(i).offset());
          assertEquals(appended.get(0).epoch(), appended.get(i).epoch());
          assertEquals("text " + i, appended.get(i).text());
        }
      });
      StreamPosition at3 = new StreamPosition(appended.get(0).epoch(), 3);
      return Future.all(first.since("r1", at3), second.since("r1", at3), second.top("r1")).map(all -> {
        ctx.verify(() -> {
          Replay a = all.resultAt(0);
          Replay b = all.resultAt(1);
          assertTrue(a.recovered());
          assertEquals(appended.subList(3, 10), a.messages());
          assertEquals(a.messages(), b.messages());
          assertEquals(new StreamPosition(appended.get(0).epoch(), 10), all.resultAt(2));
        });
        return null;
      });
    }).onComplete(ctx.succeedingThenComplete());
  }

  @Test
  void aPositionAtTheTopGivesNothingAndAForeignEpochIsRefused(VertxTestContext ctx) {
    appendAll("r2", 3).compose(appended -> {
      String epoch = appended.get(0).epoch();
      return Future.all(first.since("r2", new StreamPosition(epoch, 3)), first.since("r2", new StreamPosition("other", 1)),
        first.since("r2", new StreamPosition(epoch, 99)), first.since("never-written", new StreamPosition(epoch, 1)));
    }).onComplete(ctx.succeeding(all -> {
      ctx.verify(() -> {
        Replay atTop = all.resultAt(0);
        assertTrue(atTop.recovered());
        assertTrue(atTop.messages().isEmpty());
        assertEquals(Replay.EPOCH_CHANGED, ((Replay) all.resultAt(1)).failure());
        assertEquals(Replay.EPOCH_CHANGED, ((Replay) all.resultAt(2)).failure(), "an offset past the top is not of this stream");
        assertEquals(Replay.EPOCH_CHANGED, ((Replay) all.resultAt(3)).failure());
      });
      ctx.completeNow();
    }));
  }

  @Test
  void onlyTheLastSizeMessagesAreKeptAndOlderPositionsAreTooOld(VertxTestContext ctx) {
    appendAll("r3", SIZE + 20).compose(appended -> {
      String epoch = appended.get(0).epoch();
      return Future.all(second.since("r3", new StreamPosition(epoch, 5)), second.since("r3", new StreamPosition(epoch, 20)),
        second.before("r3", 0, 10), second.before("r3", 31, 5)).map(all -> {
          ctx.verify(() -> {
            assertEquals(Replay.TOO_OLD, ((Replay) all.resultAt(0)).failure());
            Replay fromOldest = all.resultAt(1);
            assertTrue(fromOldest.recovered(), "offset 20 is just before the oldest kept (21)");
            assertEquals(appended.subList(20, SIZE + 20), fromOldest.messages());
            assertEquals(appended.subList(SIZE + 10, SIZE + 20), ((Replay) all.resultAt(2)).messages(), "the newest 10");
            assertEquals(appended.subList(25, 30), ((Replay) all.resultAt(3)).messages(), "5 before offset 31");
          });
          return null;
        });
    }).onComplete(ctx.succeedingThenComplete());
  }

  @Test
  void aRetriedClientMessageIdIsAnsweredWithTheOriginal(VertxTestContext ctx) {
    first.append(message("r4", 1), "c-1")
      .compose(original -> second.append(message("r4", 2), "c-1").compose(retry -> second.append(message("r4", 3), "c-2")
        .compose(other -> second.since("r4", new StreamPosition(original.message().epoch(), 0)).map(all -> {
          ctx.verify(() -> {
            assertFalse(original.duplicate());
            assertTrue(retry.duplicate());
            assertEquals(original.message(), retry.message(), "the original, not the retry's text");
            assertEquals(2L, other.message().offset());
            assertEquals(2, all.messages().size(), "posted once");
          });
          return null;
        }))))
      .onComplete(ctx.succeedingThenComplete());
  }

  @Test
  void concurrentAppendsGetDistinctConsecutiveOffsets(VertxTestContext ctx) {
    List<Future<HistoryStore.Appended>> all = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      all.add((i % 2 == 0 ? first : second).append(message("r5", i), null));
    }
    Future.all(all).onComplete(ctx.succeeding(done -> {
      ctx.verify(() -> {
        List<Long> offsets = new ArrayList<>();
        for (Future<HistoryStore.Appended> f : all) {
          offsets.add(f.result().message().offset());
          assertNull(null);
        }
        offsets.sort(Long::compare);
        for (int i = 0; i < 40; i++) {
          assertEquals(i + 1, offsets.get(i));
        }
      });
      ctx.completeNow();
    }));
  }

  /** An epoch names one life of a stream: another room's stream has another. */
  @Test
  void streamsOfDifferentRoomsHaveTheirOwnEpochAndOffsets(VertxTestContext ctx) {
    Future.all(first.append(message("r6", 1), null), first.append(message("r7", 1), null)).onComplete(ctx.succeeding(both -> {
      ctx.verify(() -> {
        HistoryStore.Appended a = both.resultAt(0);
        HistoryStore.Appended b = both.resultAt(1);
        assertEquals(1L, a.message().offset());
        assertEquals(1L, b.message().offset());
        assertNotEquals(a.message().epoch(), b.message().epoch());
      });
      ctx.completeNow();
    }));
  }
}
