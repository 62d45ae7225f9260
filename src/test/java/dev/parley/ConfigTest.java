package dev.parley;

import dev.parley.config.ConfigException;
import dev.parley.config.ParleyConfig;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The configuration tree: defaults, validation messages that name the key, overrides, the shipped file. */
class ConfigTest {

  private static ParleyConfig read(String json) {
    return ParleyConfig.from(new JsonObject(json), Map.of(), new Properties());
  }

  private static void assertRejected(String json, String expectedInMessage) {
    ConfigException e = assertThrows(ConfigException.class, () -> read(json));
    assertTrue(e.getMessage().contains(expectedInMessage), e.getMessage());
  }

  @Test
  void emptyConfigGivesTheDocumentedDefaults() {
    ParleyConfig c = read("{}");
    assertEquals("127.0.0.1", c.http().host());
    assertEquals(8080, c.http().port());
    assertEquals(25_000, c.heartbeat().intervalMs());
    assertEquals(20_000, c.heartbeat().timeoutMs());
    assertEquals(65_536, c.limits().maxFrameBytes());
    assertEquals(1 << 20, c.limits().outboundQueueBytes());
    assertEquals("local", c.broker().type());
  }

  @Test
  void theShippedConfigIsValidAndEqualsTheDefaults() throws IOException {
    JsonObject shipped = new JsonObject(Files.readString(Path.of("conf/config.json")));
    assertEquals(read("{}"), ParleyConfig.from(shipped, Map.of(), new Properties()));
  }

  @Test
  void badValuesNameTheirKey() {
    assertRejected("{\"http\":{\"port\":70000}}", "http.port");
    assertRejected("{\"http\":{\"port\":\"80\"}}", "http.port must be an integer");
    assertRejected("{\"http\":{\"prot\":80}}", "unknown configuration key http.prot");
    assertRejected("{\"heartbeat\":{\"intervalMs\":-1}}", "heartbeat.intervalMs");
    assertRejected("{\"heartbeat\":5}", "heartbeat must be a JSON object");
    assertRejected("{\"limits\":{\"maxTextLength\":100000}}", "limits.maxTextLength");
    assertRejected("{\"broker\":{\"type\":\"kafka\"}}", "broker.type");
    assertRejected("{\"sockjs\":{\"disabledTransports\":[\"CARRIER_PIGEON\"]}}", "sockjs.disabledTransports");
    assertRejected("{\"node\":{\"id\":\"has space\"}}", "node.id");
    assertRejected("{\"extra\":true}", "unknown configuration key extra");
    assertRejected("{\"history\":{\"rooms\":[{\"match\":\"bad room\"}]}}", "history.rooms[0].match");
    assertRejected("{\"history\":{\"rooms\":[{\"match\":\"a*\",\"sise\":3}]}}", "unknown configuration key history.rooms[0].sise");
    assertRejected("{\"history\":{\"rooms\":{}}}", "history.rooms must be a JSON array");
  }

  @Test
  void historyRulesByRoomPatternFirstMatchWins() {
    var h = read("{\"history\":{\"size\":100,\"rooms\":[{\"match\":\"quiet-*\",\"size\":0},"
      + "{\"match\":\"support-*\",\"size\":2000,\"ttlMs\":60000},{\"match\":\"*\",\"size\":7}]}}").history();
    assertEquals(0, h.size("quiet-1"));
    assertEquals(2000, h.size("support-eu"));
    assertEquals(60_000, h.ttlMs("support-eu"));
    assertEquals(7, h.size("lobby"));
    assertEquals(h.ttlMs(), h.ttlMs("lobby"), "a rule without ttlMs keeps the default");
  }

  @Test
  void portAndHostCanBeOverriddenWithoutEditingTheFile() {
    Properties props = new Properties();
    ParleyConfig fromEnv = ParleyConfig.from(new JsonObject("{\"http\":{\"port\":8080}}"),
      Map.of("PARLEY_HTTP_PORT", "9091", "PARLEY_HTTP_HOST", "0.0.0.0"), props);
    assertEquals(9091, fromEnv.http().port());
    assertEquals("0.0.0.0", fromEnv.http().host());
    props.setProperty("parley.http.port", "9092");
    assertEquals(9092, ParleyConfig.from(new JsonObject(), Map.of("PARLEY_HTTP_PORT", "9091"), props).http().port());
    ConfigException e = assertThrows(ConfigException.class,
      () -> ParleyConfig.from(new JsonObject(), Map.of("PARLEY_HTTP_PORT", "eighty"), new Properties()));
    assertTrue(e.getMessage().contains("PARLEY_HTTP_PORT"), e.getMessage());
  }

  /** Any key from PARLEY_<SECTION>_<KEY>, typed like the file and validated like it; other PARLEY_ variables are left alone. */
  @Test
  void everyKeyCanComeFromTheEnvironment() {
    Map<String, String> env = Map.of(
      "PARLEY_BROKER_TYPE", "redis",
      "PARLEY_BROKER_REDIS_URI", "redis://cache:6380",
      "PARLEY_API_KEYS", "key-number-one-0123,key-number-two-0123",
      "PARLEY_SOCKETIO_ENABLED", "false",
      "PARLEY_LIMITS_MAXTEXTLENGTH", "100",
      "PARLEY_MANAGEMENT_ADMIN_KEYS", "[\"admin-key-0123456789\"]",
      "PARLEY_ROOMS", "[{\"match\":\"lobby\",\"presence\":false}]",
      "PARLEY_LOG_LEVEL", "DEBUG",
      "PARLEY_JAR", "target/other.jar");
    ParleyConfig c = ParleyConfig.from(new JsonObject().put("broker", new JsonObject().put("type", "local")), env, new Properties());
    assertEquals("redis", c.broker().type(), "the environment wins over the file");
    assertEquals("redis://cache:6380", c.broker().redisUri());
    assertEquals(List.of("key-number-one-0123", "key-number-two-0123"), c.api().keys());
    assertEquals(false, c.socketio().enabled());
    assertEquals(100, c.limits().maxTextLength());
    assertEquals(List.of("admin-key-0123456789"), c.management().adminKeys());
    assertEquals(false, c.rooms().get(0).presence());

    assertRejectedEnv(Map.of("PARLEY_BROKER_TYPO", "x"), "PARLEY_BROKER_TYPO");
    assertRejectedEnv(Map.of("PARLEY_HTTP_PORT", "eighty"), "PARLEY_HTTP_PORT");
    assertRejectedEnv(Map.of("PARLEY_HTTP_PORT", "70000"), "http.port");
    assertRejectedEnv(Map.of("PARLEY_SOCKETIO_ENABLED", "yes"), "PARLEY_SOCKETIO_ENABLED");
    assertRejectedEnv(Map.of("PARLEY_BROKER", "redis"), "PARLEY_BROKER");
  }

  private static void assertRejectedEnv(Map<String, String> env, String naming) {
    ConfigException e = org.junit.jupiter.api.Assertions.assertThrows(ConfigException.class,
      () -> ParleyConfig.from(new JsonObject(), env, new Properties()));
    org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains(naming), e.getMessage());
  }

  @Test
  void launcherRefusesMissingUnreadableAndInvalidFiles(@TempDir Path dir) throws Exception {
    Path missing = dir.resolve("missing.json");
    Run r1 = launch("-conf", missing.toString());
    assertEquals(1, r1.exit);
    assertTrue(r1.output.contains("missing.json") && r1.output.contains("does not exist"), r1.output);

    Path broken = dir.resolve("broken.json");
    Files.writeString(broken, "{ \"http\": ");
    Run r2 = launch("-conf", broken.toString());
    assertEquals(1, r2.exit);
    assertTrue(r2.output.contains("broken.json") && r2.output.contains("not a JSON object"), r2.output);

    Path typo = dir.resolve("typo.json");
    Files.writeString(typo, "{\"http\":{\"port\":\"eighty\"}}");
    Run r3 = launch("--conf=" + typo);
    assertEquals(1, r3.exit);
    assertTrue(r3.output.contains("http.port"), r3.output);

    Run r4 = launch("-conf", "{\"limits\":{\"nope\":1}}");
    assertEquals(1, r4.exit);
    assertTrue(r4.output.contains("limits.nope"), r4.output);

    Path dirAsFile = dir.resolve("adir");
    Files.createDirectory(dirAsFile);
    Run r5 = launch("-conf", dirAsFile.toString());
    assertEquals(1, r5.exit);
    assertTrue(r5.output.contains("cannot be read"), r5.output);
  }

  private record Run(int exit, String output) {
  }

  /** Runs the real launcher in a child JVM, as {@code java -jar} would, and collects its output. */
  private static Run launch(String... args) throws Exception {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> cmd = new java.util.ArrayList<>(List.of(java, "-cp", System.getProperty("java.class.path"), Parley.class.getName()));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    return new Run(p.waitFor(), out);
  }
}
