package dev.parley.core;

/**
 * What a client asks of its session, whatever the transport: each transport's dialect parses its own
 * frames into these records, and {@link Session#handle} runs them with the same rules everywhere
 * (rate limit, order, limits, membership). A later capability adds a record here and is then built once.
 */
public sealed interface Command {

  /**
   * Join {@code room} under {@code name}; answered with {@link Outcome.Joined}. {@code since} (may be null)
   * asks for every message after that position first; {@code history} for the room's last that many
   * (instead, or when {@code since} cannot be recovered).
   */
  record Join(String room, String name, StreamPosition since, int history) implements Command {
    public Join(String room, String name) {
      this(room, name, null, 0);
    }
  }

  /**
   * Publish {@code text} to {@code room}; answered with {@link Outcome.Published}. With {@code joinAs}
   * set, the session first joins the room under that name if it is not a member (the vocabulary of
   * clients that send {@code chat message(user, text)} without joining first). With {@code cid} (a client
   * message id) set, a retry of the same id in the room is answered with the original message.
   */
  record Publish(String room, String text, String joinAs, String cid) implements Command {
    public Publish(String room, String text) {
      this(room, text, null, null);
    }

    public Publish(String room, String text, String joinAs) {
      this(room, text, joinAs, null);
    }
  }

  /**
   * Read a joined room's history backwards: up to {@code limit} messages before offset {@code before}
   * (0: the newest); answered with {@link Outcome.History}.
   */
  record History(String room, long before, int limit) implements Command {
  }

  /** Leave a joined room; answered with {@link Outcome.Left}. */
  record Leave(String room) implements Command {
  }

  /**
   * Present a signed token ({@code auth.mode} mixed or token); answered with {@link Outcome.Authed}. A later
   * one refreshes the identity (same user) without leaving any room.
   */
  record Auth(String token) implements Command {
  }

  /** A round trip check; answered with {@link Outcome.Pong}. */
  record Ping() implements Command {
  }

  /**
   * A frame the dialect could not read (malformed JSON, unknown type, missing field...). It still counts
   * against the rate limit, and is answered with its error like any refused command.
   */
  record Invalid(ChatException error) implements Command {
  }
}
