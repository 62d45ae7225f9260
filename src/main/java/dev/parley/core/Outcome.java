package dev.parley.core;

/**
 * How a {@link Command} ended, as {@link Session#handle} hands it to the session's
 * {@link Connection#reply}: each transport renders it in its own framing (an {@code ack} frame, a
 * Socket.IO ack, a bridge reply).
 */
public sealed interface Outcome {

  /** The session is a member; {@code presence} is who is in the room. */
  record Joined(ChatEvent.Presence presence) implements Outcome {
  }

  /** The message as every member receives it (its {@code id} identifies it). */
  record Published(ChatEvent.Message message) implements Outcome {
  }

  /** A page of a room's history, oldest first, and where the room's stream stands. */
  record History(String room, java.util.List<ChatEvent.Message> messages, StreamPosition top) implements Outcome {
  }

  /** The session left the room. */
  record Left(String room) implements Outcome {
  }

  /** The token was accepted: who the session is now, and until when. */
  record Authed(Identity identity) implements Outcome {
  }

  /** Answer to {@link Command.Ping}. */
  record Pong() implements Outcome {
  }

  /** The command was refused or failed; nothing was done. */
  record Failed(ChatException error) implements Outcome {
  }
}
