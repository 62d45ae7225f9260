package dev.parley.core;

import java.util.Arrays;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * A room name pattern: room characters {@code [A-Za-z0-9_.-]} and {@code *} for any run of them
 * ({@code team-*}, {@code *}). Used by room rules, history rules and the {@code rooms} claim of tokens.
 */
public record RoomPattern(String match, Pattern pattern) {

  private static final Pattern SHAPE = Pattern.compile("[A-Za-z0-9_.*-]{1,64}");

  /** Whether {@code match} is a well-formed pattern. */
  public static boolean valid(String match) {
    return match != null && SHAPE.matcher(match).matches();
  }

  /** The pattern; throws {@link IllegalArgumentException} for a malformed one (see {@link #valid}). */
  public static RoomPattern of(String match) {
    if (!valid(match)) {
      throw new IllegalArgumentException("not a room pattern: " + match);
    }
    String regex = Arrays.stream(match.split("\\*", -1)).map(Pattern::quote)
      .collect(Collectors.joining("[A-Za-z0-9_.-]*"));
    return new RoomPattern(match, Pattern.compile(regex));
  }

  public boolean matches(String room) {
    return room != null && pattern.matcher(room).matches();
  }

  /** Whether any of {@code patterns} matches {@code room}. */
  public static boolean any(List<RoomPattern> patterns, String room) {
    for (RoomPattern p : patterns) {
      if (p.matches(room)) {
        return true;
      }
    }
    return false;
  }

  @Override
  public String toString() {
    return match;
  }
}
