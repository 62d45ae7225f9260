package dev.parley.ops;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.ParleyNode;
import dev.parley.core.Broker;
import dev.parley.core.ChatEvent;
import dev.parley.core.Envelope;
import dev.parley.core.Json;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The nodes' control channel: the reserved room {@value #ROOM} on the node's broker. Every node publishes its
 * figures there each {@value #PERIOD_MS} ms (connections, deliveries and publishes so far, its busiest rooms,
 * readiness), so any node's admin view shows the whole cluster; the same message, coming back to its sender,
 * measures the broker's round trip. Operators' actions (disconnect a session, close a room, a notice) go out
 * on it and every node applies them to its own hubs. Runs on the node's context.
 */
public final class Control {

  private static final Logger LOG = LoggerFactory.getLogger(Control.class);
  public static final String ROOM = "__parley.control";
  static final long PERIOD_MS = 1_000;
  /** A node not heard of for this long is left out of the view. */
  static final long STALE_MS = 5_000;

  private final Vertx vertx;
  private final ParleyNode node;
  private final Metrics metrics;
  private final String origin;
  private final Map<String, ObjectNode> nodes = new ConcurrentHashMap<>();
  private final Map<String, Long> heardAt = new ConcurrentHashMap<>();
  private Broker.Subscription subscription;
  private long timer = -1;

  private Control(Vertx vertx, ParleyNode node, Metrics metrics) {
    this.vertx = vertx;
    this.node = node;
    this.metrics = metrics;
    this.origin = node.id() + ".control";
  }

  /** Subscribes to the control room and starts publishing this node's figures. Call on the node's context. */
  public static Future<Control> start(Vertx vertx, ParleyNode node, Metrics metrics) {
    Control c = new Control(vertx, node, metrics);
    return node.broker().subscribe(ROOM, c::onEnvelope).map(sub -> {
      c.subscription = sub;
      c.timer = vertx.setPeriodic(PERIOD_MS, t -> c.publishFigures());
      c.publishFigures();
      return c;
    });
  }

  public Future<Void> stop() {
    if (timer >= 0) {
      vertx.cancelTimer(timer);
    }
    return subscription == null ? Future.succeededFuture() : subscription.unsubscribe();
  }

  private void publishFigures() {
    busiestRooms(10).onComplete(ar -> {
      ObjectNode f = Json.MAPPER.createObjectNode()
        .put("node", node.id())
        .put("ts", System.currentTimeMillis())
        .put("sentAt", System.nanoTime())
        .put("connections", node.connections())
        .put("deliveries", metrics.deliveryTotal())
        .put("publishes", metrics.publishTotal())
        .put("ready", node.ready())
        .put("broker", node.broker().state().name().toLowerCase(java.util.Locale.ROOT));
      ArrayNode rooms = f.putArray("rooms");
      if (ar.succeeded()) {
        ar.result().forEach(e -> rooms.addObject().put("room", e.getKey()).put("members", e.getValue()));
      }
      node.broker().publish(event("parley.node", f));
      record(f); // this node is in its own view even while the broker is down
    });
  }

  private Envelope event(String name, ObjectNode body) {
    ArrayNode args = Json.MAPPER.createArrayNode().add(body);
    return new Envelope(origin, new ChatEvent.External(name, args, ROOM));
  }

  private void onEnvelope(Envelope e) {
    if (!(e.event() instanceof ChatEvent.External x) || x.args() == null || !x.args().isArray() || x.args().isEmpty()) {
      return;
    }
    JsonNode body = x.args().get(0);
    switch (x.event()) {
      case "parley.node" -> {
        if (origin.equals(e.origin())) {
          metrics.brokerRoundTrip(System.nanoTime() - body.path("sentAt").asLong());
        } else if (body.isObject()) {
          record((ObjectNode) body);
        }
      }
      case "parley.admin" -> {
        if (!origin.equals(e.origin())) {
          apply(body); // the sender applied it already
        }
      }
      default -> LOG.debug("unknown control event {}", x.event());
    }
  }

  private void record(ObjectNode figures) {
    String id = figures.path("node").asText();
    nodes.put(id, figures);
    heardAt.put(id, System.currentTimeMillis());
  }

  /** The latest figures of every node heard of lately, by node id. */
  public List<ObjectNode> nodes() {
    long now = System.currentTimeMillis();
    heardAt.entrySet().removeIf(h -> now - h.getValue() > STALE_MS && nodes.remove(h.getKey()) != null);
    List<ObjectNode> out = new ArrayList<>(nodes.values());
    out.sort(Comparator.comparing(n -> n.path("node").asText()));
    return out;
  }

  /** This node's busiest rooms over all its hubs (members here). */
  private Future<List<Map.Entry<String, Integer>>> busiestRooms(int n) {
    List<Future<List<Map.Entry<String, Integer>>>> parts = new ArrayList<>();
    node.forEachHubAndWait(hub -> hub.busiestRooms(n), parts);
    return Future.join(parts).map(v -> {
      Map<String, Integer> sum = new HashMap<>();
      for (Future<List<Map.Entry<String, Integer>>> p : parts) {
        if (p.succeeded()) {
          p.result().forEach(e -> sum.merge(e.getKey(), e.getValue(), Integer::sum));
        }
      }
      return sum.entrySet().stream().sorted(Map.Entry.<String, Integer>comparingByValue().reversed()).limit(n).toList();
    });
  }

  /** An operator's action, for every node: {@code {"action":"disconnect","session"}}, {@code close-room}, {@code notice}. */
  public void broadcast(ObjectNode action) {
    node.broker().publish(event("parley.admin", action));
    apply(action); // this node does not wait for its own echo (nor for a broker that is down)
  }

  private void apply(JsonNode a) {
    String action = a.path("action").asText();
    String by = a.path("by").asText("");
    switch (action) {
      case "disconnect" -> {
        String session = a.path("session").asText();
        if (dev.parley.core.Rules.isSessionId(session) && session.startsWith(node.id() + ".")) {
          LOG.info("admin: disconnecting session {} ({})", session, by);
          node.forEachHub(hub -> hub.remoteDisconnect(java.util.Set.of(session), java.util.Set.of()));
        }
      }
      case "close-room" -> {
        String room = a.path("room").asText();
        String text = a.path("text").asText("This room was closed by an operator.");
        LOG.info("admin: closing room {} ({})", room, by);
        node.forEachHub(hub -> hub.closeRoom(room, text));
      }
      case "notice" -> {
        String room = a.hasNonNull("room") ? a.get("room").asText() : null;
        String text = a.path("text").asText();
        LOG.info("admin: notice to {} ({})", room == null ? "everyone" : room, by);
        node.forEachHub(hub -> hub.notice(room, text));
      }
      default -> LOG.debug("unknown admin action {}", action);
    }
  }

}
