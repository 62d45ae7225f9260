package dev.parley.support;

import io.vertx.core.Future;

import java.util.ArrayList;
import java.util.List;

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
}
