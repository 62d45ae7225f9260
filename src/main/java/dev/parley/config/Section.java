package dev.parley.config;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Typed, path-aware reader over one JSON object of the configuration tree. Every read names the key
 * it reads; {@link #done()} rejects keys nobody read, so a typo such as {@code "prot"} fails start-up
 * instead of being ignored.
 */
final class Section {

  private final String path;
  private final JsonObject json;
  private final Set<String> read = new HashSet<>();
  private final Catalog catalog;

  /** The kinds of value a key takes, as an environment variable's text must be read for it. */
  enum Kind { STRING, NUMBER, BOOLEAN, STRINGS, OBJECTS, SECTION }

  /** Every key a parse asked for, by section path ("" for the top level), with its kind. */
  static final class Catalog {
    final java.util.Map<String, java.util.Map<String, Kind>> keys = new java.util.LinkedHashMap<>();

    void add(String section, String key, Kind kind) {
      keys.computeIfAbsent(section, s -> new java.util.LinkedHashMap<>()).putIfAbsent(key, kind);
    }
  }

  private Section(String path, JsonObject json, Catalog catalog) {
    this.path = path;
    this.json = json;
    this.catalog = catalog;
  }

  static Section root(JsonObject json) {
    return root(json, null);
  }

  static Section root(JsonObject json, Catalog catalog) {
    return new Section("", json == null ? new JsonObject() : json, catalog);
  }

  private void note(String name, Kind kind) {
    read.add(name);
    if (catalog != null) {
      catalog.add(path, name, kind);
    }
  }

  private String key(String name) {
    return path.isEmpty() ? name : path + "." + name;
  }

  Section section(String name) {
    note(name, Kind.SECTION);
    Object v = json.getValue(name);
    if (v == null) {
      return new Section(key(name), new JsonObject(), catalog);
    }
    if (!(v instanceof JsonObject o)) {
      throw new ConfigException(key(name) + " must be a JSON object, got " + describe(v));
    }
    return new Section(key(name), o, catalog);
  }

  String string(String name, String def) {
    note(name, Kind.STRING);
    Object v = json.getValue(name);
    if (v == null) {
      return def;
    }
    if (!(v instanceof String s)) {
      throw new ConfigException(key(name) + " must be a string, got " + describe(v));
    }
    return s;
  }

  String nonEmptyString(String name, String def) {
    String s = string(name, def);
    if (s == null || s.isBlank()) {
      throw new ConfigException(key(name) + " must not be empty");
    }
    return s;
  }

  long longValue(String name, long def, long min, long max) {
    note(name, Kind.NUMBER);
    Object v = json.getValue(name);
    if (v == null) {
      return def;
    }
    if (!(v instanceof Number n) || n.doubleValue() != Math.rint(n.doubleValue())) {
      throw new ConfigException(key(name) + " must be an integer, got " + describe(v));
    }
    long l = n.longValue();
    if (l < min || l > max) {
      throw new ConfigException(key(name) + " must be between " + min + " and " + max + ", got " + l);
    }
    return l;
  }

  int intValue(String name, int def, int min, int max) {
    return (int) longValue(name, def, min, max);
  }

  boolean bool(String name, boolean def) {
    note(name, Kind.BOOLEAN);
    Object v = json.getValue(name);
    if (v == null) {
      return def;
    }
    if (!(v instanceof Boolean b)) {
      throw new ConfigException(key(name) + " must be true or false, got " + describe(v));
    }
    return b;
  }

  List<String> strings(String name, List<String> def) {
    note(name, Kind.STRINGS);
    Object v = json.getValue(name);
    if (v == null) {
      return def;
    }
    if (!(v instanceof JsonArray a)) {
      throw new ConfigException(key(name) + " must be an array of strings, got " + describe(v));
    }
    List<String> out = new ArrayList<>();
    for (int i = 0; i < a.size(); i++) {
      if (!(a.getValue(i) instanceof String s)) {
        throw new ConfigException(key(name) + "[" + i + "] must be a string, got " + describe(a.getValue(i)));
      }
      out.add(s);
    }
    return List.copyOf(out);
  }

  /** The raw JSON value of a key (null when absent), for keys that take more than one shape. */
  Object raw(String name) {
    note(name, Kind.STRING);
    return json.getValue(name);
  }

  /** A nested object read as a section, for a value already fetched with {@link #raw}. */
  Section child(String name, JsonObject o) {
    return new Section(key(name), o, null);
  }

  /** An array of objects, each read as a section ({@code name[i]}); empty when absent. */
  List<Section> sections(String name) {
    note(name, Kind.OBJECTS);
    Object v = json.getValue(name);
    if (v == null) {
      return List.of();
    }
    if (!(v instanceof io.vertx.core.json.JsonArray array)) {
      throw new ConfigException(key(name) + " must be a JSON array of objects, got " + describe(v));
    }
    List<Section> out = new java.util.ArrayList<>();
    for (int i = 0; i < array.size(); i++) {
      if (!(array.getValue(i) instanceof JsonObject o)) {
        throw new ConfigException(key(name) + "[" + i + "] must be a JSON object, got " + describe(array.getValue(i)));
      }
      out.add(new Section(key(name) + "[" + i + "]", o, null));
    }
    return out;
  }

  ConfigException invalid(String name, String why) {
    return new ConfigException(key(name) + " " + why);
  }

  /** Fails on any key of this section that no reader asked for. */
  void done() {
    for (String name : json.fieldNames()) {
      if (!read.contains(name)) {
        throw new ConfigException("unknown configuration key " + key(name));
      }
    }
  }

  private static String describe(Object v) {
    if (v instanceof String s) {
      return "\"" + s + "\"";
    }
    return String.valueOf(v);
  }
}
