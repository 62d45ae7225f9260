package dev.parley.support;

import io.vertx.core.Future;

import io.vertx.core.json.JsonObject;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Multi-step chat flows shared by the transport contract suite and the cluster tests. */
public final class ChatFlows {

  private ChatFlows() {
  }

  /** The next {@code count} messages of {@code room} from the member called {@code name}, in arrival order. */
  public static Future<List<String>> messagesFrom(ChatClient c, String room, String name, int count) {
    List<String> texts = new ArrayList<>();
    Future<Void> chain = Future.succeededFuture();
    for (int i = 0; i < count; i++) {
      chain = chain.compose(v -> c.event("message", m -> room.equals(m.getString("room")) && name.equals(m.getString("name")),
        "message " + texts.size() + " from " + name).map(m -> {
        texts.add(m.getString("text"));
        return null;
      }));
    }
    return chain.map(texts);
  }

  /** Publishes every text at once; completes when all are acknowledged (fails on the first refusal). */
  public static Future<Void> publishAll(ChatClient c, String room, List<String> texts) {
    List<Future<String>> acks = new ArrayList<>();
    for (String t : texts) {
      acks.add(c.publish(room, t));
    }
    return Future.all(acks).mapEmpty();
  }

  /**
   * Floods {@code room} from {@code publisher} in batches of ten, each sent once every reader has the
   * previous one, so readers that keep reading are never more than a batch behind; completes with what
   * each reader got from the publisher, in order.
   */
  public static Future<List<List<String>>> floodInBatches(ChatClient publisher, String publisherName, String room,
                                                         List<String> texts, List<ChatClient> readers) {
    List<List<String>> got = new ArrayList<>();
    readers.forEach(r -> got.add(new ArrayList<>()));
    Future<Void> batches = Future.succeededFuture();
    for (int i = 0; i < texts.size(); i += 10) {
      List<String> batch = texts.subList(i, Math.min(texts.size(), i + 10));
      batches = batches.compose(v -> publishAll(publisher, room, batch))
        .compose(v -> {
          List<Future<List<String>>> each = new ArrayList<>();
          for (ChatClient r : readers) {
            each.add(messagesFrom(r, room, publisherName, batch.size()));
          }
          return Future.all(each).map(all -> {
            for (int k = 0; k < readers.size(); k++) {
              got.get(k).addAll(all.resultAt(k));
            }
            return null;
          });
        });
    }
    return batches.map(got);
  }

  /**
   * A client of one node is cut off (its TCP connection reset, no close frame) while a member of each node posts {@code perNode} messages
   * each; it joins again on the other node with the position of the last message it got, and must receive
   * exactly what it missed (consecutive offsets, in offset order, each once, each publisher's in its own
   * order), then a live message. Fails with the first assertion that does not hold.
   */
  public static Future<Void> cutOffAndRecoverOnAnotherNode(Supplier<Future<NativeChatClient>> onFirstNode,
                                                          Supplier<Future<NativeChatClient>> onSecondNode, int perNode) {
    return cutOffAndRecoverOnAnotherNode(onFirstNode, onFirstNode, onSecondNode, onSecondNode, perNode);
  }

  /**
   * The same over more nodes: the client is cut off on {@code cutNode}, members of {@code publisherA} and
   * {@code publisherB} post meanwhile, and it comes back on {@code backNode}.
   */
  public static Future<Void> cutOffAndRecoverOnAnotherNode(Supplier<Future<NativeChatClient>> cutNode,
                                                          Supplier<Future<NativeChatClient>> publisherA,
                                                          Supplier<Future<NativeChatClient>> publisherB,
                                                          Supplier<Future<NativeChatClient>> backNode, int perNode) {
    Supplier<Future<NativeChatClient>> onSecondNode = backNode;
    List<String> posted = new ArrayList<>();
    return Future.all(cutNode.get(), publisherA.get(), publisherB.get()).compose(all -> {
      NativeChatClient cut = all.resultAt(0);
      NativeChatClient onA = all.resultAt(1);
      NativeChatClient onB = all.resultAt(2);
      return onA.join("rec", "anna").compose(p -> onB.join("rec", "bert")).compose(p -> cut.join("rec", "cut"))
        .compose(p -> probe(onB, cut, "rec", 40))
        .compose(last -> {
          JsonObject since = new JsonObject().put("epoch", last.getString("epoch")).put("offset", last.getLong("offset"));
          cut.cut();
          Future<Void> chain = Future.succeededFuture();
          for (int i = 0; i < perNode; i++) {
            String a = "a-" + i;
            String b = "b-" + i;
            posted.add(a);
            posted.add(b);
            chain = chain.compose(v -> Future.all(onA.publish("rec", a), onB.publish("rec", b)).mapEmpty());
          }
          return chain.compose(v -> onSecondNode.get()).compose(back -> back.join("rec", "cut", new JsonObject().put("since", since))
            .compose(p -> back.event("joined", j -> "cut".equals(j.getString("name")), "own joined"))
            .compose(own -> {
              assertEquals(Boolean.TRUE, own.getBoolean("recovered"), "recovered: " + own);
              // live from the first publisher's node once it knows the new subscription (probes are positioned
              // messages too: they stay in the offset check and leave the text comparison)
              return probe(onA, back, "rec", 40);
            })
            .compose(probed -> onA.publish("rec", "live").compose(id -> messagesUntil(back, "rec", "live", posted.size() + 50))
              .map(rest -> {
                // the probe was taken out of the arrivals when it came: put it back in its place
                List<JsonObject> arrived = new ArrayList<>(rest);
                arrived.add(probed);
                arrived.sort(java.util.Comparator.comparingLong(m -> m.getLong("offset")));
                return arrived;
              }))
            .map(got -> {
              long first = since.getLong("offset") + 1;
              List<String> texts = new ArrayList<>();
              for (int i = 0; i < got.size(); i++) {
                assertEquals(first + i, got.get(i).getLong("offset"), "consecutive offsets: " + got.get(i));
                texts.add(got.get(i).getString("text"));
              }
              texts.removeIf(t -> t.startsWith("probe-"));
              assertEquals("live", texts.remove(texts.size() - 1), "the live message comes after the replay");
              assertEquals(posted.size(), texts.size(), "each once");
              assertEquals(new HashSet<>(posted), new HashSet<>(texts), "every missed message");
              for (String prefix : List.of("a-", "b-")) {
                assertEquals(posted.stream().filter(t -> t.startsWith(prefix)).toList(),
                  texts.stream().filter(t -> t.startsWith(prefix)).toList(), "each publisher's order");
              }
              return null;
            }));
        });
    });
  }

  /**
   * Publishes probes from {@code from} until {@code to} receives one (bounded); completes with that message.
   * Across nodes this is the barrier before relying on delivery: a new subscription reaches the other
   * nodes of a cluster a moment after it is made, and events are delivered at most once.
   */
  public static Future<JsonObject> probe(ChatClient from, ChatClient to, String room, int attempts) {
    String text = "probe-" + attempts;
    return from.publish(room, text).compose(id -> to.event("message", m -> text.equals(m.getString("text")), "probe")
      .recover(err -> attempts > 0 ? probe(from, to, room, attempts - 1) : Future.failedFuture(err)));
  }

  /** The messages of a room, whoever sent them, in arrival order, up to the first with {@code text} (at most {@code max}). */
  public static Future<List<JsonObject>> messagesUntil(ChatClient c, String room, String text, int max) {
    List<JsonObject> got = new ArrayList<>();
    return nextUntil(c, room, text, max, got).map(got);
  }

  private static Future<Void> nextUntil(ChatClient c, String room, String text, int max, List<JsonObject> got) {
    if (got.size() >= max) {
      return Future.failedFuture(new AssertionError("no \"" + text + "\" within " + max + " messages"));
    }
    return c.event("message", m -> room.equals(m.getString("room")), "message " + got.size()).compose(m -> {
      got.add(m);
      return text.equals(m.getString("text")) ? Future.succeededFuture() : nextUntil(c, room, text, max, got);
    });
  }

  /** The next {@code count} messages of a room, whoever sent them, in arrival order. */
  public static Future<List<JsonObject>> messages(ChatClient c, String room, int count) {
    List<JsonObject> got = new ArrayList<>();
    Future<Void> chain = Future.succeededFuture();
    for (int i = 0; i < count; i++) {
      chain = chain.compose(v -> c.event("message", m -> room.equals(m.getString("room")), "message " + got.size()).map(m -> {
        got.add(m);
        return null;
      }));
    }
    return chain.map(got);
  }

  /**
   * The configuration that lets {@link #oneUserOnTwoNodes} present tokens while anonymous clients keep
   * joining any room: mixed mode, every room open to anyone.
   */
  public static JsonObject mixedAuth() {
    return new JsonObject().put("auth", Tokens.auth("mixed"))
      .put("rooms", new io.vertx.core.json.JsonArray().add(new JsonObject().put("match", "*").put("join", "anyone").put("publish", "anyone")));
  }

  /**
   * One user with a connection on each of two nodes is one member: an anonymous observer on the first node
   * hears it join once, a newcomer on the second node sees it listed once with two connections, one
   * connection ending is not the user leaving, and the last one ending is.
   */
  public static Future<Void> oneUserOnTwoNodes(io.vertx.core.Vertx vertx, int portA, int portB) {
    String alice = Tokens.of(vertx, "alice", "Alice", 600);
    return Future.all(WsClient.connect(vertx, portA), WsClient.connect(vertx, portA), WsClient.connect(vertx, portB),
      WsClient.connect(vertx, portB)).compose(all -> {
      NativeChatClient observer = new NativeChatClient(all.resultAt(0));
      NativeChatClient tab1 = new NativeChatClient(all.resultAt(1));
      NativeChatClient tab2 = new NativeChatClient(all.resultAt(2));
      NativeChatClient newcomer = new NativeChatClient(all.resultAt(3));
      return observer.join("crew", "observer")
        .compose(p -> Future.all(tab1.auth(alice), tab2.auth(alice)))
        .compose(v -> tab1.join("crew", null))
        .compose(p -> observer.event("joined", j -> "alice".equals(j.getString("user")), "alice joined"))
        .compose(j -> tab2.join("crew", null))
        .compose(p -> tab2.publish("crew", "second tab joined"))
        .compose(id -> observer.event("message", m -> "second tab joined".equals(m.getString("text")), "marker"))
        .compose(m -> newcomer.join("crew", "newcomer"))
        .compose(p -> {
          JsonObject user = p.getJsonArray("members").stream().map(JsonObject.class::cast)
            .filter(x -> "alice".equals(x.getString("user"))).findFirst().orElse(null);
          if (p.getJsonArray("members").size() != 3 || user == null || user.getInteger("connections") != 2
            || !"Alice".equals(user.getString("name"))) {
            throw new AssertionError("alice once, with two connections, among three members: " + p);
          }
          return observer.client().unread();
        })
        .compose(unread -> {
          if (unread.stream().anyMatch(f -> "joined".equals(f.getString("type")) && "alice".equals(f.getString("user")))) {
            throw new AssertionError("the second connection was announced as a join: " + unread);
          }
          tab1.close();
          return tab1.closed();
        })
        .compose(v -> tab2.publish("crew", "alice is still here"))
        .compose(id -> observer.event("message", m -> "alice is still here".equals(m.getString("text")), "second marker"))
        .compose(m -> observer.client().unread())
        .compose(unread -> {
          if (unread.stream().anyMatch(f -> "left".equals(f.getString("type")))) {
            throw new AssertionError("one connection closing is not the user leaving: " + unread);
          }
          tab2.close();
          return observer.event("left", l -> "alice".equals(l.getString("user")), "alice left");
        })
        .mapEmpty();
    });
  }
}
