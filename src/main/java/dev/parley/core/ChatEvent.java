package dev.parley.core;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import com.fasterxml.jackson.databind.JsonNode;

import java.util.List;

/**
 * What a room tells its members: the server-to-client half of the native protocol (docs/protocol.md).
 * The JSON form of each record is exactly the frame a native client receives, with its {@code type}
 * discriminator; the same JSON travels between nodes, so it is encoded once per event.
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, include = JsonTypeInfo.As.EXISTING_PROPERTY, property = "type")
@JsonSubTypes({
  @JsonSubTypes.Type(value = ChatEvent.Joined.class, name = "joined"),
  @JsonSubTypes.Type(value = ChatEvent.Left.class, name = "left"),
  @JsonSubTypes.Type(value = ChatEvent.Message.class, name = "message"),
  @JsonSubTypes.Type(value = ChatEvent.Presence.class, name = "presence"),
  @JsonSubTypes.Type(value = ChatEvent.External.class, name = "event")
})
@JsonInclude(JsonInclude.Include.NON_NULL)
public sealed interface ChatEvent {

  /** The room the event belongs to; {@code null} only for an {@link External} event sent to several rooms or all. */
  String room();

  /** The {@code type} discriminator on the wire. */
  @JsonProperty("type")
  String type();

  /**
   * A member joined the room; sent to every member, the joiner included. For a verified user ({@code user}
   * set) it is sent when the user's first connection joins; later connections of the same user get only
   * their own copy. The joiner's own copy, with
   * history on, also says where the room's stream stood once what it missed was replayed ({@code epoch},
   * {@code offset}) and, when it asked to recover ({@code since}), whether that worked ({@code recovered})
   * and if not why ({@code reason}: {@code epoch_changed}, {@code too_old}, {@code history_off}).
   */
  @JsonPropertyOrder({"type", "room", "session", "user", "name", "ts", "recovered", "reason", "epoch", "offset"})
  record Joined(String room, String session, String name, long ts, Boolean recovered, String reason, String epoch,
                Long offset, String user) implements ChatEvent {
    public Joined(String room, String session, String name, long ts) {
      this(room, session, name, ts, null, null, null, null, null);
    }

    /** A verified user's join ({@code user}: the token's subject; null for an anonymous session). */
    public Joined(String room, String session, String name, long ts, String user) {
      this(room, session, name, ts, null, null, null, null, user);
    }

    /** The joiner's own copy: where the stream stands, and how recovery went when it was asked for. */
    public Joined forJoiner(StreamPosition top, Boolean recovered, String reason) {
      return new Joined(room, session, name, ts, recovered, reason, top == null ? null : top.epoch(),
        top == null ? null : top.offset(), user);
    }

    @Override
    public String type() {
      return "joined";
    }
  }

  /**
   * A member left the room, by command or because its connection ended; sent to the remaining members. For
   * a verified user, when its last connection in the room left.
   */
  @JsonPropertyOrder({"type", "room", "session", "user", "name", "ts"})
  record Left(String room, String session, String name, long ts, String user) implements ChatEvent {
    public Left(String room, String session, String name, long ts) {
      this(room, session, name, ts, null);
    }

    @Override
    public String type() {
      return "left";
    }
  }

  /**
   * A published message; sent to every member, the sender included. With history on, {@code offset} and
   * {@code epoch} give its place in the room's stream (see {@link StreamPosition}); otherwise they are absent.
   * {@code cid} is the client message id the publisher gave, if any (so it recognizes its own message
   * whichever connection it arrives on). {@code user} is set when a verified user (a token's subject) sent it.
   */
  @JsonPropertyOrder({"type", "room", "session", "user", "name", "text", "ts", "id", "offset", "epoch", "cid"})
  record Message(String room, String session, String name, String text, long ts, String id, Long offset, String epoch,
                 String cid, String user) implements ChatEvent {
    public Message(String room, String session, String name, String text, long ts, String id) {
      this(room, session, name, text, ts, id, null, null, null, null);
    }

    public Message(String room, String session, String name, String text, long ts, String id, Long offset, String epoch,
                   String cid) {
      this(room, session, name, text, ts, id, offset, epoch, cid, null);
    }

    /** The same message at a place in its room's stream. */
    public Message at(StreamPosition position) {
      return new Message(room, session, name, text, ts, id, position.offset(), position.epoch(), cid, user);
    }

    @Override
    public String type() {
      return "message";
    }
  }

  /**
   * Who is in the room, on every node; sent to a joiner right after its own {@code joined}. With
   * {@code limits.maxPresenceMembers} set, a bigger room lists only that many members and {@code total}
   * gives the full count ({@code total} is absent when the list is complete).
   */
  @JsonPropertyOrder({"type", "room", "members", "total"})
  record Presence(String room, List<Member> members, @JsonInclude(JsonInclude.Include.NON_NULL) Integer total)
    implements ChatEvent {
    public Presence {
      members = List.copyOf(members);
    }

    public Presence(String room, List<Member> members) {
      this(room, members, null);
    }

    /** The presence of {@code members}, cut to the first {@code max} of them when {@code max > 0}. */
    public static Presence of(String room, List<Member> members, int max) {
      return max > 0 && members.size() > max
        ? new Presence(room, members.subList(0, max), members.size())
        : new Presence(room, members, null);
    }

    @Override
    public String type() {
      return "presence";
    }

    @JsonIgnore
    public int size() {
      return members.size();
    }
  }

  /**
   * An event from a producer outside the chat protocol (a Socket.IO emitter process, say): an event
   * name and its arguments, as given. {@code room} is set when exactly one room was targeted.
   */
  @JsonPropertyOrder({"type", "event", "args", "room"})
  record External(String event, JsonNode args, String room) implements ChatEvent {
    @Override
    public String type() {
      return "event";
    }
  }
}
