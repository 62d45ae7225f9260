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

  /** Rooms whose name starts with this are the server's own (the nodes' control channel); clients cannot use them. */
  public static final String RESERVED_PREFIX = "__";

  /**
   * Rooms are 1 to 64 characters of {@code [A-Za-z0-9_.-]}, never shaped like a session id and never starting
   * with {@value #RESERVED_PREFIX}.
   */
  public static boolean validRoom(String room) {
    return room != null && ROOM.matcher(room).matches() && !isSessionId(room) && !room.startsWith(RESERVED_PREFIX);
  }

  /** Whether a string has the shape of a session id (an emit to it targets that session alone). */
  public static boolean isSessionId(String s) {
    return s != null && SESSION_ID.matcher(s).matches();
  }

  /**
   * Names are 1 to 32 characters (code points, after NFC normalization), not blank, with no control
   * characters and nothing invisible or direction-changing: no format characters (zero-width spaces and
   * joiners, bidirectional marks, overrides and isolates, soft hyphens), no blank fillers, nothing
   * unassigned or private (a zero-width joiner between two emoji is part of the emoji and allowed). Those
   * let one member pass for another on every client that renders names.
   */
  public static boolean validName(String name) {
    if (name == null || name.isEmpty()) {
      return false;
    }
    String n = java.text.Normalizer.normalize(name, java.text.Normalizer.Form.NFC);
    int count = n.codePointCount(0, n.length());
    if (count > MAX_NAME_LENGTH || n.isBlank()) {
      return false;
    }
    int[] cps = n.codePoints().toArray();
    for (int i = 0; i < cps.length; i++) {
      boolean emojiJoiner = cps[i] == ZWJ && i > 0 && i < cps.length - 1 && isSymbol(cps[i - 1]) && isSymbol(cps[i + 1]);
      if (!emojiJoiner && !visibleInName(cps[i])) {
        return false;
      }
    }
    return true;
  }

  /** The zero-width joiner, allowed only inside an emoji sequence (👩‍💻), where it changes the picture. */
  private static final int ZWJ = 0x200D;

  private static boolean isSymbol(int cp) {
    return Character.getType(cp) == Character.OTHER_SYMBOL;
  }

  private static boolean visibleInName(int cp) {
    int type = Character.getType(cp);
    if (Character.isISOControl(cp) || type == Character.LINE_SEPARATOR || type == Character.PARAGRAPH_SEPARATOR
      || type == Character.SURROGATE || type == Character.FORMAT || type == Character.UNASSIGNED
      || type == Character.PRIVATE_USE) {
      return false;
    }
    // letters and symbols that render as nothing: Hangul fillers, the blank braille pattern, the Mongolian
    // vowel separator, the combining grapheme joiner
    return cp != 0x115F && cp != 0x1160 && cp != 0x3164 && cp != 0xFFA0 && cp != 0x2800 && cp != 0x180E && cp != 0x034F;
  }

  /** The name as stored and shown: NFC-normalized (so one name has one spelling). Call after {@link #checkName}. */
  public static String normalizeName(String name) {
    return java.text.Normalizer.normalize(name, java.text.Normalizer.Form.NFC);
  }

  public static String checkRoom(String room) {
    if (!validRoom(room)) {
      throw new ChatException(ErrorCode.INVALID_ROOM,
        "room must be 1 to " + MAX_ROOM_LENGTH + " characters of A-Z a-z 0-9 _ . -, not start with __ and not be shaped like a session id");
    }
    return room;
  }

  public static String checkName(String name) {
    if (!validName(name)) {
      throw new ChatException(ErrorCode.INVALID_NAME,
        "name must be 1 to " + MAX_NAME_LENGTH + " visible characters, without control, invisible or direction characters");
    }
    return name;
  }
}
