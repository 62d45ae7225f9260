package dev.parley.broker;

import dev.parley.core.ChatEvent;
import dev.parley.core.HistoryStore;
import dev.parley.core.HistoryStore.Replay;
import dev.parley.core.StreamPosition;
import io.vertx.core.Vertx;
import io.vertx.junit5.VertxTestContext;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The history contract on the single node's in-memory store (both handles are the same store), plus its bounds. */
class MemoryHistoryContractTest extends HistoryContractTest {

  @Override
  protected List<HistoryStore> stores(Vertx vertx) {
    MemoryHistoryStore store = new MemoryHistoryStore(SIZE, 3_600_000, 64L << 20, System::currentTimeMillis);
    return List.of(store, store);
  }

  @Test
  void passingTheMemoryBudgetDropsTheLeastRecentlyWrittenStreamWithItsEpoch(VertxTestContext ctx) {
    // each message is charged about 2 x 1000 + overhead bytes: 1 MB holds about 470 of them
    MemoryHistoryStore store = new MemoryHistoryStore(1000, 3_600_000, 1 << 20, System::currentTimeMillis);
    String text = "x".repeat(1000);
    ChatEvent.Message old = store.append(new ChatEvent.Message("old", "s", "n", text, 1, "i0"), null).result().message();
    for (int i = 0; i < 600; i++) {
      store.append(new ChatEvent.Message("busy", "s", "n", text, 1, "i" + i), null);
    }
    ctx.verify(() -> {
      assertTrue(store.bytes() <= 1 << 20, "within the budget: " + store.bytes());
      Replay r = store.since("old", new StreamPosition(old.epoch(), 0)).result();
      assertEquals(Replay.EPOCH_CHANGED, r.failure(), "the dropped stream's position is refused, not silently empty");
      Replay busy = store.before("busy", 0, 1000).result();
      assertTrue(busy.messages().size() < 600 && busy.messages().size() > 300, "the busy room was trimmed from the front");
    });
    ctx.completeNow();
  }

  @Test
  void messagesOlderThanTheTtlAreForgotten(VertxTestContext ctx) {
    AtomicLong now = new AtomicLong(1_000_000);
    MemoryHistoryStore store = new MemoryHistoryStore(100, 10_000, 64L << 20, now::get);
    ChatEvent.Message first = store.append(new ChatEvent.Message("r", "s", "n", "a", 1, "i1"), null).result().message();
    now.addAndGet(6_000);
    store.append(new ChatEvent.Message("r", "s", "n", "b", 1, "i2"), null);
    now.addAndGet(6_000);
    ctx.verify(() -> {
      assertEquals(Replay.TOO_OLD, store.since("r", new StreamPosition(first.epoch(), 0)).result().failure());
      assertEquals(1, store.since("r", new StreamPosition(first.epoch(), 1)).result().messages().size());
      now.addAndGet(6_000);
      store.sweep();
      assertNotEquals(first.epoch(), store.top("r").result().epoch(), "an expired, empty stream starts afresh");
    });
    ctx.completeNow();
  }
}
