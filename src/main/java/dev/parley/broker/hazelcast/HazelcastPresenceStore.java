package dev.parley.broker.hazelcast;

import com.hazelcast.config.InMemoryFormat;
import com.hazelcast.config.MapConfig;
import com.hazelcast.cluster.MembershipEvent;
import com.hazelcast.cluster.MembershipListener;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.core.ReadOnly;
import com.hazelcast.map.EntryProcessor;
import com.hazelcast.map.IMap;
import dev.parley.broker.Callers;
import dev.parley.broker.MemberConnections;
import dev.parley.core.ChatEvent;
import dev.parley.core.Envelope;
import dev.parley.core.Member;
import dev.parley.core.PresenceStore;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Cluster-wide presence in a Hazelcast map ({@code parley.presence.members}: room to its members in join
 * order), changed only through entry processors, so concurrent joins on different nodes never overwrite
 * each other. The map keeps its values as objects ({@code InMemoryFormat.OBJECT}, set here before first
 * use), so an entry processor changes a room in place: a join or a leave costs the same in a room of ten
 * and of a million, and a presence reply reads only the first {@code limit} members. A second map
 * ({@code parley.nodes}) ties each Hazelcast member to its Parley node id.
 *
 * <p>When Hazelcast declares a member gone (a kill -9 is noticed when its connections drop, a silent
 * one after {@code hazelcast.max.no.heartbeat.seconds}), the oldest surviving member removes that
 * node's members and publishes a {@code left} for each. A graceful stop removes its members itself.
 */
public final class HazelcastPresenceStore implements PresenceStore {

  private static final Logger LOG = LoggerFactory.getLogger(HazelcastPresenceStore.class);
  static final String ROOMS = "parley.presence.members";

  private final Vertx vertx;
  private final String nodeId;
  private final HazelcastInstance hazelcast;
  private final IMap<String, RoomMembers> rooms;
  private final IMap<String, String> nodes;
  private final Consumer<Envelope> publish;
  private final String listenerId;

  HazelcastPresenceStore(Vertx vertx, String nodeId, HazelcastInstance hazelcast, Consumer<Envelope> publish) {
    this.vertx = vertx;
    this.nodeId = nodeId;
    this.hazelcast = hazelcast;
    // the same definition on every node; a cluster accepts an identical dynamic map config again
    hazelcast.getConfig().addMapConfig(new MapConfig(ROOMS).setInMemoryFormat(InMemoryFormat.OBJECT));
    this.rooms = hazelcast.getMap(ROOMS);
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
  public Future<Boolean> add(String room, Member member) {
    return Callers.onCaller(Future.fromCompletionStage(rooms.submitToKey(room,
      new Add(member.key(), member.session(), member.name(), member.user()))));
  }

  @Override
  public Future<Boolean> remove(String room, String session, String user) {
    return Callers.onCaller(Future.fromCompletionStage(rooms.submitToKey(room, new Remove(Member.key(session, user), session)))
      .map(Boolean.TRUE::equals));
  }

  @Override
  public Future<ChatEvent.Presence> members(String room, int limit) {
    return Callers.onCaller(Future.fromCompletionStage(rooms.submitToKey(room, new First(limit)))
      .map(window -> window == null ? new ChatEvent.Presence(room, List.of()) : window.presence(room)));
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
      Map<String, RoomMembers> removed = rooms.executeOnEntries(new RemoveNode(deadNode + "."));
      int count = 0;
      long now = System.currentTimeMillis();
      for (Map.Entry<String, RoomMembers> e : removed.entrySet()) {
        if (e.getValue() == null) {
          continue;
        }
        for (MemberConnections g : e.getValue().members.values()) {
          String session = g.sessions.isEmpty() ? null : g.sessions.iterator().next();
          publish.accept(new Envelope(nodeId + ".reaper", new ChatEvent.Left(e.getKey(), session, g.name, now, g.user)));
          count++;
        }
      }
      LOG.info("node {} left the cluster: announced {} members as left", deadNode, count);
      return count;
    }, false).onFailure(err -> LOG.warn("could not clean up after a departed member {}", uuid, err));
  }

  /** A room's members in join order: member key to the member's connections. Stored as an object and changed in place. */
  static final class RoomMembers implements Serializable {
    private static final long serialVersionUID = 2L;
    final LinkedHashMap<String, MemberConnections> members = new LinkedHashMap<>();
  }

  /** The first members of a room and its size, as a presence reply needs them. */
  record Window(List<String> sessions, List<String> names, List<String> users, List<Integer> counts, int total)
    implements Serializable {
    ChatEvent.Presence presence(String room) {
      List<Member> out = new ArrayList<>(sessions.size());
      for (int i = 0; i < sessions.size(); i++) {
        out.add(users.get(i) == null ? new Member(sessions.get(i), names.get(i)) : Member.user(users.get(i), names.get(i), counts.get(i)));
      }
      return total > out.size() ? new ChatEvent.Presence(room, out, total) : new ChatEvent.Presence(room, out);
    }
  }

  /** Adds a connection to its member (appended when new); returns whether it is the member's first. */
  static final class Add implements EntryProcessor<String, RoomMembers, Boolean> {
    private final String key;
    private final String session;
    private final String name;
    private final String user;

    Add(String key, String session, String name, String user) {
      this.key = key;
      this.session = session;
      this.name = name;
      this.user = user;
    }

    @Override
    public Boolean process(Map.Entry<String, RoomMembers> entry) {
      RoomMembers room = entry.getValue() == null ? new RoomMembers() : entry.getValue();
      MemberConnections g = room.members.computeIfAbsent(key, k -> new MemberConnections(name, user));
      boolean first = g.sessions.isEmpty();
      g.sessions.add(session);
      entry.setValue(room);
      return first;
    }
  }

  /** Removes one connection; deletes its member when it was the last, and the entry when the room is empty. */
  static final class Remove implements EntryProcessor<String, RoomMembers, Boolean> {
    private final String key;
    private final String session;

    Remove(String key, String session) {
      this.key = key;
      this.session = session;
    }

    @Override
    public Boolean process(Map.Entry<String, RoomMembers> entry) {
      RoomMembers room = entry.getValue();
      MemberConnections g = room == null ? null : room.members.get(key);
      if (g == null || !g.sessions.remove(session)) {
        return false;
      }
      boolean last = g.sessions.isEmpty();
      if (last) {
        room.members.remove(key);
      }
      entry.setValue(room.members.isEmpty() ? null : room);
      return last;
    }
  }

  /** Reads the first {@code limit} members (all for 0) without copying the room. */
  static final class First implements EntryProcessor<String, RoomMembers, Window>, ReadOnly {
    private final int limit;

    First(int limit) {
      this.limit = limit;
    }

    @Override
    public Window process(Map.Entry<String, RoomMembers> entry) {
      RoomMembers room = entry.getValue();
      if (room == null) {
        return null;
      }
      int n = limit > 0 ? Math.min(limit, room.members.size()) : room.members.size();
      List<String> sessions = new ArrayList<>(n);
      List<String> names = new ArrayList<>(n);
      List<String> users = new ArrayList<>(n);
      List<Integer> counts = new ArrayList<>(n);
      for (MemberConnections g : room.members.values()) {
        if (sessions.size() == n) {
          break;
        }
        sessions.add(g.sessions.iterator().next());
        names.add(g.name);
        users.add(g.user);
        counts.add(g.sessions.size());
      }
      return new Window(sessions, names, users, counts, room.members.size());
    }

    @Override
    public EntryProcessor<String, RoomMembers, Window> getBackupProcessor() {
      return null;
    }
  }

  /**
   * Removes every connection of one node (session ids start with {@code <node>.}); returns the members that
   * had no connection left (each with one of the removed sessions), which are then announced as left.
   */
  static final class RemoveNode implements EntryProcessor<String, RoomMembers, RoomMembers> {
    private final String prefix;

    RemoveNode(String prefix) {
      this.prefix = prefix;
    }

    @Override
    public RoomMembers process(Map.Entry<String, RoomMembers> entry) {
      RoomMembers room = entry.getValue();
      if (room == null) {
        return null;
      }
      RoomMembers gone = new RoomMembers();
      boolean changed = false;
      for (var it = room.members.entrySet().iterator(); it.hasNext(); ) {
        Map.Entry<String, MemberConnections> m = it.next();
        String removed = null;
        for (var s = m.getValue().sessions.iterator(); s.hasNext(); ) {
          String session = s.next();
          if (session.startsWith(prefix)) {
            s.remove();
            removed = session;
            changed = true;
          }
        }
        if (removed != null && m.getValue().sessions.isEmpty()) {
          it.remove();
          MemberConnections g = new MemberConnections(m.getValue().name, m.getValue().user);
          g.sessions.add(removed);
          gone.members.put(m.getKey(), g);
        }
      }
      if (!changed) {
        return null;
      }
      entry.setValue(room.members.isEmpty() ? null : room);
      return gone.members.isEmpty() ? null : gone;
    }
  }
}
