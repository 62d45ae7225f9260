package dev.parley.core;

import java.util.regex.Pattern;

/** The naming rules of the protocol, in one place. */
public final class Rules {

  public static final int MAX_ROOM_LENGTH = 64;
  public static final int MAX_NAME_LENGTH = 32;
  private static final Pattern ROOM = Pattern.compile("[A-Za-z0-9_.-]{1," + MAX_ROOM_LENGTH + "}");

  private Rules() {
  }

  /** Rooms are 1 to 64 characters of {@code [A-Za-z0-9_.-]}. */
  public static boolean validRoom(String room) {
    return room != null && ROOM.matcher(room).matches();
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
        "room must be 1 to " + MAX_ROOM_LENGTH + " characters of A-Z a-z 0-9 _ . -");
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
