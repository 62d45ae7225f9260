package dev.parley.transport.sockjs;

import dev.parley.ParleyNode;
import dev.parley.core.NodeLink;
import dev.parley.relay.Relay;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.shareddata.LocalMap;
import io.vertx.ext.web.RoutingContext;

import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * SockJS's HTTP transports without load balancer affinity. A SockJS client picks its session id itself
 * ({@code <prefix>/<server>/<session>/<transport>}), so the node that opens a session claims its id in the
 * cluster directory ({@link NodeLink#claim}); a request that reaches a node without the session is served
 * on the claiming node through the {@link Relay} (the holder is remembered for 30 s, so a session's requests
 * ask the directory only now and then). Claims are renewed every minute while the session lives
 * and given up when it ends. A session whose node is gone is taken over here: a receiving request then
 * opens a fresh session, which sockjs-client reports as "Server lost session" and reconnects from; a send
 * gets the unknown session's 404. WebSocket transports need none of this (one connection is the session).
 * Mount after the body handler, before the SockJS router.
 */
public final class SockJsRelay implements Handler<RoutingContext> {

  /** How long a claim lasts unless renewed (renewed every {@link #RENEW_EVERY_MS}). */
  static final long CLAIM_TTL_MS = 5 * 60_000;
  private static final long RENEW_EVERY_MS = 60_000;
  /** vertx-web keeps every SockJS session of a Vert.x instance in this local map, by session id. */
  private static final String SESSIONS_MAP = "_vertx.sockjssessions";
  private static final Set<String> RECEIVING = Set.of("xhr", "xhr_streaming", "eventsource", "htmlfile", "jsonp");
  private static final Set<String> SENDING = Set.of("xhr_send", "jsonp_send");

  private final Relay relay;
  private final NodeLink link;
  private final LocalMap<String, Object> sessions;
  private final Set<String> claimed;
  private final int prefixSegments;
  private final Holders holders;

  private SockJsRelay(Vertx vertx, ParleyNode node, String prefix) {
    this.relay = Relay.of(vertx, node);
    this.link = node.broker().link();
    this.sessions = vertx.sharedData().getLocalMap(SESSIONS_MAP);
    this.claimed = node.shared(Claims.class, () -> {
      Claims c = new Claims();
      if (link.enabled()) {
        node.context().runOnContext(v -> vertx.setPeriodic(RENEW_EVERY_MS, t -> c.renew(link, sessions)));
      }
      return c;
    }).ids;
    this.prefixSegments = prefix.split("/").length; // "/sockjs" -> ["", "sockjs"]
    this.holders = node.shared(Holders.class, Holders::new);
  }

  /** The handler for the SockJS endpoint mounted at {@code prefix} ({@code /sockjs}, {@code /eventbus}). */
  public static SockJsRelay create(Vertx vertx, ParleyNode node, String prefix) {
    return new SockJsRelay(vertx, node, prefix);
  }

  /** The session ids this node claimed, renewed while their sessions live. */
  private static final class Claims {
    final Set<String> ids = ConcurrentHashMap.newKeySet();

    void renew(NodeLink link, LocalMap<String, Object> sessions) {
      for (String id : ids) {
        if (sessions.containsKey(id)) {
          link.claim(id, null, CLAIM_TTL_MS);
        } else {
          ids.remove(id);
          link.release(id);
        }
      }
    }
  }

  @Override
  public void handle(RoutingContext ctx) {
    if (!relay.enabled() || relay.relayed(ctx.request())) {
      ctx.next();
      return;
    }
    String[] parts = ctx.request().path().split("/");
    if (parts.length != prefixSegments + 3) {
      ctx.next(); // /info, the iframe page, the greeting
      return;
    }
    String session = parts[prefixSegments + 1];
    String transport = parts[prefixSegments + 2];
    boolean receiving = RECEIVING.contains(transport);
    if (!receiving && !SENDING.contains(transport) || session.isEmpty() || sessions.containsKey(session)) {
      ctx.next();
      return;
    }
    String known = holders.known(session);
    if (known != null) {
      forward(ctx, session, known, receiving);
      return;
    }
    link.holder(session).onComplete(ar -> {
      if (ar.failed()) {
        ctx.next(); // the directory is out of reach: serve it here, as a single node would
        return;
      }
      String holder = ar.result();
      if (holder != null && !holder.equals(relay.self())) {
        holders.remember(session, holder);
        forward(ctx, session, holder, receiving);
      } else if (holder == null && receiving) {
        claimHere(ctx, session, null);
      } else {
        ctx.next();
      }
    });
  }

  private void forward(RoutingContext ctx, String session, String holder, boolean receiving) {
    relay.forward(ctx, holder, c -> {
      holders.forget(session);
      takeOver(c, session, holder, receiving);
    }, receiving ? "sockjs:" + session : null);
  }

  /**
   * Sessions of other nodes this node relayed to lately: a session's every request asks the directory
   * only once in a while. Bounded; forgotten when a relay to the holder fails.
   */
  private static final class Holders {
    private static final int MAX = 10_000;
    private static final long KEEP_MS = 30_000;
    private final Map<String, Long> until = new ConcurrentHashMap<>();
    private final Map<String, String> holder = new ConcurrentHashMap<>();

    String known(String session) {
      Long t = until.get(session);
      if (t == null) {
        return null;
      }
      if (t < System.currentTimeMillis()) {
        forget(session);
        return null;
      }
      return holder.get(session);
    }

    void remember(String session, String node) {
      if (holder.size() >= MAX) {
        long now = System.currentTimeMillis();
        until.entrySet().removeIf(e -> e.getValue() < now);
        holder.keySet().retainAll(until.keySet());
        if (holder.size() >= MAX) {
          return; // full of live entries: ask the directory for the rest
        }
      }
      holder.put(session, node);
      until.put(session, System.currentTimeMillis() + KEEP_MS);
    }

    void forget(String session) {
      until.remove(session);
      holder.remove(session);
    }
  }

  /** Claims the session for this node and lets the SockJS router open it; relays if another node won. */
  private void claimHere(RoutingContext ctx, String session, String supersede) {
    link.claim(session, supersede, CLAIM_TTL_MS).onComplete(ar -> {
      if (ar.failed() || ar.result() == null || ar.result().equals(relay.self())) {
        claimed.add(session);
        ctx.next();
      } else if (supersede == null) {
        holders.remember(session, ar.result());
        forward(ctx, session, ar.result(), true);
      } else {
        relay.forward(ctx, ar.result(), c -> c.next(), "sockjs:" + session);
      }
    });
  }

  /**
   * The relay to the holder failed. If the holder is gone, a receiving request opens the session here (the
   * client learns it was lost) and a send gets the unknown session's 404. If it is only slow (a loaded
   * machine), its session is not taken from it: the request is answered 503 and the client tries again.
   */
  private void takeOver(RoutingContext ctx, String session, String gone, boolean receiving) {
    relay.alive(gone).onComplete(ar -> {
      if (ar.succeeded() && ar.result()) {
        if (!ctx.response().ended() && !ctx.response().closed()) {
          ctx.response().setStatusCode(503).putHeader("Retry-After", "1").end("the session's node is busy, try again");
        }
      } else if (receiving) {
        claimHere(ctx, session, gone);
      } else {
        ctx.next();
      }
    });
  }
}
