package dev.parley.broker.hazelcast;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.hazelcast.cluster.MembershipEvent;
import com.hazelcast.cluster.MembershipListener;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.EntryProcessor;
import com.hazelcast.map.IMap;
import dev.parley.broker.Callers;
import dev.parley.core.ChatEvent;
import dev.parley.core.Envelope;
import dev.parley.core.Json;
import dev.parley.core.Member;
import dev.parley.core.PresenceStore;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Cluster-wide presence in a Hazelcast map ({@code parley.presence}: room to a JSON array of members in
 * join order), changed only through entry processors, so concurrent joins on different nodes never
 * overwrite each other. A second map ({@code parley.nodes}) ties each Hazelcast member to its Parley
 * node id.
 *
 * <p>When Hazelcast declares a member gone (a kill -9 is noticed when its connections drop, a silent
 * one after {@code hazelcast.max.no.heartbeat.seconds}), the oldest surviving member removes that
 * node's members and publishes a {@code left} for each. A graceful stop removes its members itself.
 */
public final class HazelcastPresenceStore implements PresenceStore {

  private static final Logger LOG = LoggerFactory.getLogger(HazelcastPresenceStore.class);

  private final Vertx vertx;
  private final String nodeId;
  private final HazelcastInstance hazelcast;
  private final IMap<String, String> rooms;
  private final IMap<String, String> nodes;
  private final Consumer<Envelope> publish;
  private final String listenerId;

  HazelcastPresenceStore(Vertx vertx, String nodeId, HazelcastInstance hazelcast, Consumer<Envelope> publish) {
    this.vertx = vertx;
    this.nodeId = nodeId;
    this.hazelcast = hazelcast;
    this.rooms = hazelcast.getMap("parley.presence");
    this.nodes = hazelcast.getMap("parley.nodes");
    this.publish = publish;
    this.listenerId = hazelcast.getCluster().addMembershipListener(new MembershipListener() {
      @Override
      public void memberAdded(MembershipEvent event) {
      }

      @Override
      public void memberRemoved(MembershipEvent event) {
        memberGone(event.getMember().getUuid().toString());
      }
    }).toString();
  }

  Future<Void> start() {
    String me = hazelcast.getCluster().getLocalMember().getUuid().toString();
    return Future.fromCompletionStage(nodes.putAsync(me, nodeId)).mapEmpty();
  }

  Future<Void> close() {
    hazelcast.getCluster().removeMembershipListener(java.util.UUID.fromString(listenerId));
    String me = hazelcast.getCluster().getLocalMember().getUuid().toString();
    return Future.fromCompletionStage(nodes.removeAsync(me)).<Void>mapEmpty().recover(err -> Future.succeededFuture());
  }

  @Override
  public Future<Void> add(String room, Member member) {
    return Callers.onCaller(Future.fromCompletionStage(rooms.submitToKey(room, new Add(member.session(), member.name()))).mapEmpty());
  }

  @Override
  public Future<Void> remove(String room, String session) {
    return Callers.onCaller(Future.fromCompletionStage(rooms.submitToKey(room, new Remove(session))).mapEmpty());
  }

  @Override
  public Future<List<Member>> members(String room) {
    return Callers.onCaller(Future.fromCompletionStage(rooms.getAsync(room)).map(HazelcastPresenceStore::parse));
  }

  private static List<Member> parse(String json) {
    List<Member> out = new ArrayList<>();
    if (json != null) {
      for (JsonNode m : Json.parseTree(json)) {
        out.add(new Member(m.path("s").asText(), m.path("n").asText()));
      }
    }
    return out;
  }

  private void memberGone(String uuid) {
    // Runs on a Hazelcast thread: the map calls below may block, so hand them to a worker.
    vertx.executeBlocking(() -> {
      var members = hazelcast.getCluster().getMembers();
      boolean oldest = !members.isEmpty() && members.iterator().next().localMember();
      if (!oldest) {
        return 0;
      }
      String deadNode = nodes.remove(uuid);
      if (deadNode == null) {
        return 0;
      }
      Map<String, String> removed = rooms.executeOnEntries(new RemoveNode(deadNode + "."));
      int count = 0;
      long now = System.currentTimeMillis();
      for (Map.Entry<String, String> e : removed.entrySet()) {
        for (Member m : parse(e.getValue())) {
          publish.accept(new Envelope(nodeId + ".reaper", new ChatEvent.Left(e.getKey(), m.session(), m.name(), now)));
          count++;
        }
      }
      LOG.info("node {} left the cluster: announced {} members as left", deadNode, count);
      return count;
    }, false).onFailure(err -> LOG.warn("could not clean up after a departed member {}", uuid, err));
  }

  /** Appends a member, or renames it if already there. */
  static final class Add implements EntryProcessor<String, String, Void> {
    private final String session;
    private final String name;

    Add(String session, String name) {
      this.session = session;
      this.name = name;
    }

    @Override
    public Void process(Map.Entry<String, String> entry) {
      ArrayNode list = entry.getValue() == null ? Json.MAPPER.createArrayNode() : (ArrayNode) Json.parseTree(entry.getValue());
      for (JsonNode m : list) {
        if (session.equals(m.path("s").asText())) {
          ((com.fasterxml.jackson.databind.node.ObjectNode) m).put("n", name);
          entry.setValue(list.toString());
          return null;
        }
      }
      list.addObject().put("s", session).put("n", name);
      entry.setValue(list.toString());
      return null;
    }
  }

  /** Removes one session; deletes the entry when the room is empty. */
  static final class Remove implements EntryProcessor<String, String, Void> {
    private final String session;

    Remove(String session) {
      this.session = session;
    }

    @Override
    public Void process(Map.Entry<String, String> entry) {
      if (entry.getValue() == null) {
        return null;
      }
      ArrayNode list = (ArrayNode) Json.parseTree(entry.getValue());
      ArrayNode kept = Json.MAPPER.createArrayNode();
      for (JsonNode m : list) {
        if (!session.equals(m.path("s").asText())) {
          kept.add(m);
        }
      }
      entry.setValue(kept.isEmpty() ? null : kept.toString());
      return null;
    }
  }

  /** Removes every session of one node (ids start with {@code <node>.}); returns the removed ones. */
  static final class RemoveNode implements EntryProcessor<String, String, String> {
    private final String prefix;

    RemoveNode(String prefix) {
      this.prefix = prefix;
    }

    @Override
    public String process(Map.Entry<String, String> entry) {
      if (entry.getValue() == null) {
        return null;
      }
      ArrayNode list = (ArrayNode) Json.parseTree(entry.getValue());
      ArrayNode kept = Json.MAPPER.createArrayNode();
      ArrayNode removed = Json.MAPPER.createArrayNode();
      for (JsonNode m : list) {
        (m.path("s").asText().startsWith(prefix) ? removed : kept).add(m);
      }
      if (removed.isEmpty()) {
        return null;
      }
      entry.setValue(kept.isEmpty() ? null : kept.toString());
      return removed.toString();
    }
  }
}
