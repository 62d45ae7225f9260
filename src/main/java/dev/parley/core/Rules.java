package dev.parley.core;

import java.util.regex.Pattern;

/** The naming rules of the protocol, in one place. */
public final class Rules {

  public static final int MAX_ROOM_LENGTH = 64;
  public static final int MAX_NAME_LENGTH = 32;
  private static final Pattern ROOM = Pattern.compile("[A-Za-z0-9_.-]{1," + MAX_ROOM_LENGTH + "}");
  /**
   * The shape of a session id, {@code <node>.<instance>-<n>} (see {@link Hub#open}). Outside producers
   * address one session by its id as if it were a room, so no room may have that shape: otherwise a client
   * could join a room named after another session and receive what is sent to that session alone.
   */
  private static final Pattern SESSION_ID = Pattern.compile("[A-Za-z0-9_-]{1,32}\\.[0-9]+-[0-9a-z]+");

  private Rules() {
  }

  /** Rooms are 1 to 64 characters of {@code [A-Za-z0-9_.-]}, and never shaped like a session id. */
  public static boolean validRoom(String room) {
    return room != null && ROOM.matcher(room).matches() && !isSessionId(room);
  }

  /** Whether a string has the shape of a session id (an emit to it targets that session alone). */
  public static boolean isSessionId(String s) {
    return s != null && SESSION_ID.matcher(s).matches();
  }

  /** Names are 1 to 32 characters (code points) with no control characters. */
  public static boolean validName(String name) {
    if (name == null || name.isEmpty()) {
      return false;
    }
    int count = name.codePointCount(0, name.length());
    if (count > MAX_NAME_LENGTH) {
      return false;
    }
    return name.codePoints().noneMatch(Character::isISOControl)
      && name.codePoints().noneMatch(cp -> Character.getType(cp) == Character.LINE_SEPARATOR
      || Character.getType(cp) == Character.PARAGRAPH_SEPARATOR
      || Character.getType(cp) == Character.SURROGATE);
  }

  public static String checkRoom(String room) {
    if (!validRoom(room)) {
      throw new ChatException(ErrorCode.INVALID_ROOM,
        "room must be 1 to " + MAX_ROOM_LENGTH + " characters of A-Z a-z 0-9 _ . - and not shaped like a session id");
    }
    return room;
  }

  public static String checkName(String name) {
    if (!validName(name)) {
      throw new ChatException(ErrorCode.INVALID_NAME,
        "name must be 1 to " + MAX_NAME_LENGTH + " characters without control characters");
    }
    return name;
  }
}
