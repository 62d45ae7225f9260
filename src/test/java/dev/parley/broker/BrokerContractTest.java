package dev.parley.broker;

import dev.parley.core.Broker;
import dev.parley.core.ChatEvent;
import dev.parley.core.Envelope;
import dev.parley.core.Member;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
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
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The guarantees every {@link Broker} promises, run against each implementation: subclasses provide
 * brokers that share one room space (two hubs of one node, or two nodes of a cluster).
 */
@ExtendWith(VertxExtension.class)
@Timeout(value = 60, timeUnit = TimeUnit.SECONDS)
public abstract class BrokerContractTest {

  protected Broker first;
  protected Broker second;

  /** Two brokers that share rooms: each stands for a different hub or node. */
  protected abstract Future<List<Broker>> brokers(Vertx vertx);

  /** The Vert.x instance a broker runs on (subscriptions are made from one of its event loops). */
  protected Vertx vertxOf(Broker broker, Vertx testVertx) {
    return testVertx;
  }

  protected Future<Void> closeBrokers() {
    return Future.all(first.close(), second.close()).mapEmpty();
  }

  @BeforeEach
  void setUp(Vertx vertx, VertxTestContext ctx) {
    brokers(vertx).onComplete(ctx.succeeding(b -> {
      first = b.get(0);
      second = b.get(1);
      ctx.completeNow();
    }));
  }

  @AfterEach
  void tearDown(VertxTestContext ctx) {
    closeBrokers().onComplete(ctx.succeedingThenComplete());
  }

  private static Envelope message(String origin, String room, int n) {
    return new Envelope(origin, new ChatEvent.Message(room, origin + "-s", "n", "text " + n, n, origin + "-" + n));
  }

  /** Subscribes on a fresh event loop context and records what arrives, with the context it arrived on. */
  private Future<Recorder> subscribe(Vertx testVertx, Broker broker, String room) {
    Recorder r = new Recorder();
    Context context = vertxOf(broker, testVertx).getOrCreateContext();
    Promise<Recorder> done = Promise.promise();
    context.runOnContext(v -> broker.subscribe(room, e -> {
      r.threads.add(Thread.currentThread());
      r.events.add(e);
      r.check();
    }).onComplete(ar -> {
      if (ar.succeeded()) {
        r.subscription = ar.result();
        r.thread = Thread.currentThread();
        done.complete(r);
      } else {
        done.fail(ar.cause());
      }
    }));
    return done.future();
  }

  private static final class Recorder {
    final List<Envelope> events = new ArrayList<>();
    final List<Thread> threads = new ArrayList<>();
    Broker.Subscription subscription;
    Thread thread;
    int expected = -1;
    Promise<List<Envelope>> waiting;

    synchronized Future<List<Envelope>> await(int n) {
      expected = n;
      waiting = Promise.promise();
      check();
      return waiting.future();
    }

    synchronized void check() {
      if (waiting != null && events.size() >= expected) {
        waiting.tryComplete(List.copyOf(events));
      }
    }
  }

  @Test
  void eventsReachEverySubscriberOfTheRoomInPublishOrder(Vertx vertx, VertxTestContext ctx) {
    int n = 200;
    Future.all(subscribe(vertx, first, "lobby"), subscribe(vertx, second, "lobby"), subscribe(vertx, second, "other"))
      .compose(all -> {
        Recorder a = all.resultAt(0);
        Recorder b = all.resultAt(1);
        for (int i = 0; i < n; i++) {
          first.publish(message("hubA", "lobby", i));
        }
        return Future.all(a.await(n), b.await(n)).map(x -> List.of(a, b, (Recorder) all.resultAt(2)));
      })
      .onComplete(ctx.succeeding(rs -> {
        ctx.verify(() -> {
          for (Recorder r : rs.subList(0, 2)) {
            assertEquals(n, r.events.size());
            for (int i = 0; i < n; i++) {
              Envelope e = r.events.get(i);
              assertEquals("hubA", e.origin(), "the origin travels, so hubs can drop their own echoes");
              assertEquals("lobby", e.room());
              assertEquals("text " + i, ((ChatEvent.Message) e.event()).text(), "publish order kept");
            }
            for (Thread t : r.threads) {
              assertSame(r.thread, t, "handlers run on the subscriber's event loop");
            }
          }
          assertTrue(rs.get(2).events.isEmpty(), "other rooms get nothing");
        });
        ctx.completeNow();
      }));
  }

  @Test
  void theJsonArrivesIntactAndUnsubscribeStopsDelivery(Vertx vertx, VertxTestContext ctx) {
    Envelope sent = message("hubB", "r1", 1);
    Future.all(subscribe(vertx, first, "r1"), subscribe(vertx, first, "r2"))
      .compose(all -> {
        Recorder r1 = all.resultAt(0);
        Recorder r2 = all.resultAt(1);
        second.publish(sent);
        return r1.await(1).compose(got -> {
          ctx.verify(() -> assertEquals(sent.json(), got.get(0).json()));
          return r1.subscription.unsubscribe();
        }).compose(v -> {
          // after unsubscribing r1, publish to r1 then r2: r2's event arriving proves r1's had its chance
          second.publish(message("hubB", "r1", 2));
          second.publish(message("hubB", "r2", 3));
          return r2.await(1).map(x -> r1);
        });
      })
      .onComplete(ctx.succeeding(r1 -> {
        ctx.verify(() -> assertEquals(1, r1.events.size(), "nothing after unsubscribe"));
        ctx.completeNow();
      }));
  }

  @Test
  void presenceIsSharedAndKeepsJoinOrder(Vertx vertx, VertxTestContext ctx) {
    Member a = new Member("s-a", "alice");
    Member b = new Member("s-b", "bob");
    Member c = new Member("s-c", "carol");
    first.presence().add("room", a)
      .compose(v -> second.presence().add("room", b))
      .compose(v -> first.presence().add("room", c))
      .compose(v -> first.presence().add("elsewhere", a))
      .compose(v -> second.presence().members("room", 0))
      .compose(p -> {
        ctx.verify(() -> {
          assertEquals(List.of(a, b, c), p.members());
          assertNull(p.total(), "a complete list carries no total");
        });
        return second.presence().remove("room", "s-b");
      })
      .compose(v -> second.presence().members("room", 0))
      .compose(p -> {
        ctx.verify(() -> assertEquals(List.of(a, c), p.members()));
        return second.presence().members("empty-room", 10);
      })
      .onComplete(ctx.succeeding(p -> {
        ctx.verify(() -> {
          assertTrue(p.members().isEmpty());
          assertNull(p.total());
        });
        ctx.completeNow();
      }));
  }

  /**
   * A presence reply reads the first {@code limit} members and the room's size, from either node; the
   * store never has to hand over the whole room. (Members joining on different nodes within the same
   * millisecond may be ordered by session id; the ids here sort in join order.)
   */
  @Test
  void presenceListsTheFirstMembersInJoinOrderAndTheTotal(Vertx vertx, VertxTestContext ctx) {
    List<Member> all = new ArrayList<>();
    Future<Void> chain = Future.succeededFuture();
    for (int i = 0; i < 30; i++) {
      Member m = new Member(String.format("s-%03d", i), "member " + i);
      all.add(m);
      Broker on = i % 2 == 0 ? first : second;
      chain = chain.compose(v -> on.presence().add("big", m).mapEmpty());
    }
    chain
      .compose(v -> Future.all(first.presence().members("big", 10), second.presence().members("big", 10)))
      .compose(both -> {
        ctx.verify(() -> {
          for (int i = 0; i < 2; i++) {
            ChatEvent.Presence p = both.resultAt(i);
            assertEquals(all.subList(0, 10), p.members());
            assertEquals(30, p.total());
          }
        });
        return Future.all(first.presence().members("big", 0), second.presence().members("big", 30));
      })
      .compose(both -> {
        ctx.verify(() -> {
          for (int i = 0; i < 2; i++) {
            ChatEvent.Presence p = both.resultAt(i);
            assertEquals(all, p.members());
            assertNull(p.total());
          }
        });
        Future<Void> leaves = Future.succeededFuture();
        for (int i = 0; i < 5; i++) {
          Member m = all.get(i);
          Broker on = i % 2 == 0 ? first : second;
          leaves = leaves.compose(v -> on.presence().remove("big", m.session()).mapEmpty());
        }
        return leaves;
      })
      .compose(v -> second.presence().members("big", 10))
      .onComplete(ctx.succeeding(p -> {
        ctx.verify(() -> {
          assertEquals(all.subList(5, 15), p.members());
          assertEquals(25, p.total());
        });
        ctx.completeNow();
      }));
  }

  /**
   * A verified user is one member however many connections it has, on whichever nodes: only its first
   * connection is reported as a join, only its last as a leave, and presence lists it once with the count.
   */
  @Test
  void aUserWithSeveralConnectionsIsOneMemberAcrossNodes(Vertx vertx, VertxTestContext ctx) {
    Member tab1 = Member.connection("s-u1", "Alice", "alice");
    Member tab2 = Member.connection("s-u2", "Alice", "alice");
    Member bob = new Member("s-b", "bob");
    first.presence().add("users", tab1)
      .compose(firstJoin -> {
        ctx.verify(() -> assertTrue(firstJoin, "the user's first connection"));
        return second.presence().add("users", tab2);
      })
      .compose(again -> {
        ctx.verify(() -> assertFalse(again, "a second connection, on another node, is not a new member"));
        return first.presence().add("users", bob);
      })
      .compose(v -> Future.all(first.presence().members("users", 0), second.presence().members("users", 1)))
      .compose(both -> {
        ctx.verify(() -> {
          assertEquals(List.of(Member.user("alice", "Alice", 2), bob), ((ChatEvent.Presence) both.resultAt(0)).members());
          ChatEvent.Presence cut = both.resultAt(1);
          assertEquals(List.of(Member.user("alice", "Alice", 2)), cut.members());
          assertEquals(2, cut.total(), "two members, whatever the connections");
        });
        return second.presence().remove("users", "s-u2", "alice");
      })
      .compose(last -> {
        ctx.verify(() -> assertFalse(last, "one connection is left"));
        return second.presence().members("users", 0);
      })
      .compose(p -> {
        ctx.verify(() -> assertEquals(List.of(Member.user("alice", "Alice", 1), bob), p.members()));
        return first.presence().remove("users", "s-u1", "alice");
      })
      .compose(last -> {
        ctx.verify(() -> assertTrue(last, "the user's last connection"));
        return second.presence().members("users", 0);
      })
      .onComplete(ctx.succeeding(p -> {
        ctx.verify(() -> assertEquals(List.of(bob), p.members()));
        ctx.completeNow();
      }));
  }

  /** A join racing the last leave of the same room on another hub of the node is never lost. */
  @Test
  void aJoinRacingTheLastLeaveIsKept(Vertx vertx, VertxTestContext ctx) {
    int rounds = 200;
    Future<Void> chain = Future.succeededFuture();
    for (int i = 0; i < rounds; i++) {
      String room = "race-" + i;
      Member leaving = new Member("s-l" + i, "leaving");
      Member joining = new Member("s-j" + i, "joining");
      chain = chain
        .compose(v -> first.presence().add(room, leaving))
        .compose(v -> {
          // the last leave and a join of the same room, from two threads at once
          Promise<Void> left = Promise.promise();
          Promise<Void> joined = Promise.promise();
          Thread t1 = new Thread(() -> first.presence().remove(room, leaving.session()).<Void>mapEmpty().onComplete(left));
          Thread t2 = new Thread(() -> first.presence().add(room, joining).<Void>mapEmpty().onComplete(joined));
          t1.start();
          t2.start();
          return Future.all(left.future(), joined.future()).mapEmpty();
        })
        .compose(v -> Future.all(first.presence().members(room, 0), second.presence().members(room, 0)))
        .compose(both -> {
          ctx.verify(() -> {
            assertEquals(List.of(joining), ((ChatEvent.Presence) both.resultAt(0)).members(), room + " on the joiner's node");
            assertEquals(List.of(joining), ((ChatEvent.Presence) both.resultAt(1)).members(), room + " on the other node");
          });
          return first.presence().remove(room, joining.session()).mapEmpty();
        });
    }
    chain.onComplete(ctx.succeedingThenComplete());
  }

  /**
   * The node link: frames from one node reach the other in the order sent, on the context that set the
   * receiver. A single node's broker has no link and says so.
   */
  @Test
  void linkFramesReachTheOtherNodeInOrder(Vertx vertx, VertxTestContext ctx) {
    if (!first.link().enabled()) {
      assertFalse(second.link().enabled(), "both nodes of a single-node broker have no link");
      first.link().send("elsewhere", io.vertx.core.buffer.Buffer.buffer("x")).onComplete(ctx.failingThenComplete());
      return;
    }
    int count = 500;
    List<String> got = new ArrayList<>();
    Context context = vertxOf(second, vertx).getOrCreateContext();
    Promise<Void> all = Promise.promise();
    context.runOnContext(v -> second.link().receive(frame -> {
      assertSame(context, Vertx.currentContext(), "frames arrive on the receiver's context");
      got.add(frame.toString());
      if (got.size() == count) {
        all.complete();
      }
    }));
    vertxOf(first, vertx).getOrCreateContext().runOnContext(v -> {
      for (int i = 0; i < count; i++) {
        first.link().send(second.link().self(), io.vertx.core.buffer.Buffer.buffer("frame " + i));
      }
    });
    all.future().onComplete(ctx.succeeding(v -> ctx.verify(() -> {
      for (int i = 0; i < count; i++) {
        assertEquals("frame " + i, got.get(i));
      }
      ctx.completeNow();
    })));
  }

  /** A confirmed send reaches a listening node, and fails at once for a node nobody runs. */
  @Test
  void linkConfirmedSendsFailForAGoneNode(Vertx vertx, VertxTestContext ctx) {
    if (!first.link().enabled()) {
      ctx.completeNow(); // a single node has no other node to reach (linkFramesReachTheOtherNodeInOrder checks it)
      return;
    }
    Promise<Void> got = Promise.promise();
    Context context = vertxOf(second, vertx).getOrCreateContext();
    context.runOnContext(v -> second.link().receive(frame -> got.tryComplete()));
    long t0 = System.nanoTime();
    first.link().sendConfirmed(second.link().self(), io.vertx.core.buffer.Buffer.buffer("hello"), 3000)
      .compose(v -> got.future())
      .compose(v -> first.link().sendConfirmed("nobody-runs-this", io.vertx.core.buffer.Buffer.buffer("x"), 3000)
        .transform(ar -> ar.failed() ? Future.succeededFuture((System.nanoTime() - t0) / 1_000_000)
          : Future.<Long>failedFuture(new AssertionError("a send to a gone node must fail"))))
      .onComplete(ctx.succeeding(ms -> ctx.verify(() -> {
        assertTrue(ms < 2000, "failed fast, not after the timeout: " + ms + " ms");
        ctx.completeNow();
      })));
  }

  /**
   * The link's directory: a key is held by the first node to claim it; another node's claim answers the
   * holder, unless it supersedes that holder; only the holder releases it; a claim expires after its time.
   */
  @Test
  void linkClaimsAreHeldByOneNode(Vertx vertx, VertxTestContext ctx) {
    if (!first.link().enabled()) {
      first.link().claim("k", null, 1000).onComplete(ctx.succeeding(holder -> ctx.verify(() -> {
        assertEquals(first.link().self(), holder, "a single node holds everything itself");
        ctx.completeNow();
      })));
      return;
    }
    String a = first.link().self();
    String b = second.link().self();
    String key = "claim-" + System.nanoTime();
    first.link().claim(key, null, 60_000)
      .compose(h -> {
        assertEquals(a, h);
        return second.link().claim(key, null, 60_000);
      })
      .compose(h -> {
        assertEquals(a, h, "held by the first");
        second.link().release(key); // not its to release
        return first.link().claim(key, null, 60_000);
      })
      .compose(h -> {
        assertEquals(a, h, "renewed by its holder");
        return second.link().claim(key, a, 60_000);
      })
      .compose(h -> {
        assertEquals(b, h, "superseding a holder known to be gone");
        return first.link().holder(key);
      })
      .compose(h -> {
        assertEquals(b, h);
        second.link().release(key);
        return dev.parley.support.Polling.until(vertx, () -> first.link().holder(key), h2 -> h2 == null, "released");
      })
      .compose(v -> first.link().claim(key + "-short", null, 300))
      .compose(h -> dev.parley.support.Polling.until(vertx, () -> second.link().holder(key + "-short"), h2 -> h2 == null, "expired"))
      .onComplete(ctx.succeedingThenComplete());
  }
}
