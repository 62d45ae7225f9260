package dev.parley.relay;

import dev.parley.ParleyNode;
import dev.parley.core.NodeLink;
import io.vertx.core.Context;
import io.vertx.core.Handler;
import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.http.ServerWebSocket;
import io.vertx.core.http.UpgradeRejectedException;
import io.vertx.core.http.WebSocket;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketClientOptions;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.SocketAddress;
import io.vertx.ext.web.RoutingContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Serves a polling request, a streaming request or a WebSocket on the node that holds its session, when a
 * load balancer without affinity sent it to another one. The node it reached (the <em>entry</em>) sends
 * the request over the broker's {@link NodeLink} to the session's node (the <em>owner</em>); the owner
 * replays it on its own HTTP port over loopback, marked as relayed, and streams the answer back (status,
 * headers, body parts, end; or WebSocket frames both ways). So the owner's transports serve it exactly as
 * a direct hit, with the same rules and limits, and no node needs another's HTTP address.
 *
 * <p>Failure: an owner that does not accept within {@link #ACCEPT_TIMEOUT_MS}, or a peer silent for
 * {@link #PEER_TIMEOUT_MS} while streams are open (each side pings the other every second), ends the
 * streams: a request not answered yet gets the transport's "unknown session" answer, so the client
 * reconnects at once; an answer under way is cut. An entry that gives up resets the owner's loopback
 * request, which the owner's transport sees as a client that went away.
 *
 * <p>Threading: frames arrive on the node context, where the owner side lives; each entry stream hops to
 * the event loop of its own request.
 */
public final class Relay {

  private static final Logger LOG = LoggerFactory.getLogger(Relay.class);

  /** How long an owner has to say it took a request. */
  static final long ACCEPT_TIMEOUT_MS = 3000;
  /** How long a peer with open streams may stay silent (it pings every second). */
  static final long PEER_TIMEOUT_MS = 3000;
  private static final long PING_EVERY_MS = 1000;

  /** The header that marks a loopback request as relayed: this node's secret, so clients cannot forge it. */
  public static final String MARK = "x-parley-relay";
  /** The entry node of a relayed request. */
  public static final String ENTRY = "x-parley-entry";
  /** The client's address, as the entry node saw it. */
  public static final String CLIENT = "x-parley-client";

  private static final byte OPEN = 1;
  private static final byte ACCEPT = 2;
  private static final byte HEAD = 3;
  private static final byte DATA = 4;
  private static final byte END = 5;
  private static final byte RESET = 6;
  private static final byte WS_OPEN = 7;
  private static final byte WS_TEXT = 8;
  private static final byte WS_BINARY = 9;
  private static final byte WS_CLOSE = 10;
  private static final byte PING = 11;
  private static final byte PONG = 12;
  /** Set on frames an entry sends to the owner (see {@link #toOwner}). */
  private static final byte TO_OWNER = 0x40;

  private static final Set<String> HOP_BY_HOP = Set.of("connection", "keep-alive", "proxy-connection",
    "transfer-encoding", "te", "trailer", "upgrade", "host", "content-length", MARK, ENTRY, CLIENT,
    "sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions", "sec-websocket-accept");

  private final Vertx vertx;
  private final ParleyNode node;
  private final NodeLink link;
  private final Context context;
  private final String secret;
  private final AtomicLong ids = new AtomicLong();
  private final AtomicLong forwarded = new AtomicLong();
  private final AtomicLong served = new AtomicLong();
  private final long maxQueueBytes;
  /** Streams this node started as the entry, by id. */
  private final Map<Long, EntryStream> entries = new ConcurrentHashMap<>();
  /** Streams this node serves as the owner, by entry node and id (node context only). */
  private final Map<String, OwnerStream> owned = new ConcurrentHashMap<>();
  /** Owner streams served one at a time per key (a SockJS session's receiving request), node context. */
  private final Map<String, OwnerStream> exclusive = new ConcurrentHashMap<>();
  /** How long a superseding request waits after the one it replaces closed, for the transport to let go. */
  private static final long SUPERSEDE_SETTLE_MS = 20;
  /** When each peer was last heard from (node context). */
  private final Map<String, Long> heard = new ConcurrentHashMap<>();
  private HttpClient loopback;
  private WebSocketClient loopbackWs;

  private Relay(Vertx vertx, ParleyNode node) {
    this.vertx = vertx;
    this.node = node;
    this.link = node.broker().link();
    this.context = node.context();
    byte[] bytes = new byte[16];
    new SecureRandom().nextBytes(bytes);
    this.secret = HexFormat.of().formatHex(bytes);
    this.maxQueueBytes = node.config().limits().outboundQueueBytes();
    if (link.enabled()) {
      context.runOnContext(v -> {
        link.receive(this::onFrame);
        int pool = Math.max(64, node.config().http().maxConnections());
        loopback = vertx.createHttpClient(new HttpClientOptions().setKeepAlive(true).setTcpNoDelay(true),
          new PoolOptions().setHttp1MaxSize(pool));
        loopbackWs = vertx.createWebSocketClient(new WebSocketClientOptions().setMaxConnections(pool)
          .setMaxFrameSize(1 << 24).setMaxMessageSize(1 << 24));
        vertx.setPeriodic(PING_EVERY_MS, t -> checkPeers());
      });
    }
  }

  /** The node's relay, created on first use. */
  public static Relay of(Vertx vertx, ParleyNode node) {
    return node.shared(Relay.class, () -> new Relay(vertx, node));
  }

  /** Whether requests can be relayed at all (a cluster). */
  public boolean enabled() {
    return link.enabled();
  }

  public String self() {
    return node.id();
  }

  /**
   * Whether {@code node} is there: a confirmed ping (Redis: someone listens on its channel; Hazelcast: its
   * address answers). A relay can fail for a node that is only slow; this tells the two apart before
   * anything of that node's is taken over.
   */
  public io.vertx.core.Future<Boolean> alive(String node) {
    return link.sendConfirmed(node, frame(PING, 0, null), ACCEPT_TIMEOUT_MS).map(true).otherwise(false);
  }

  /** How many requests this node sent to their session's node, and how many it served for others. */
  public JsonObject stats() {
    return new JsonObject().put("forwarded", forwarded.get()).put("served", served.get())
      .put("open", entries.size() + owned.size());
  }

  /** Whether this request is one the relay replayed here (it carries this node's mark). */
  public boolean relayed(HttpServerRequest request) {
    return secret.equals(request.getHeader(MARK));
  }

  /** Where a request came from: the entry node of a relayed one, or "" for a direct one. */
  public String via(HttpServerRequest request) {
    return relayed(request) ? String.valueOf(request.getHeader(ENTRY)) : "";
  }

  /**
   * Serves {@code ctx}'s request (its body already read) on {@code owner}. When the owner cannot be reached,
   * {@code unreachable} answers it instead, on the request's event loop.
   */
  public void forward(RoutingContext ctx, String owner, Handler<RoutingContext> unreachable) {
    open(ctx, owner, unreachable, false, null);
  }

  /**
   * As {@link #forward(RoutingContext, String, Handler)}, for a request of which the owner serves one at a
   * time per {@code exclusive} key (a SockJS session's receiving request). The same request arriving again
   * through another node (a load balancer re-sending it after the first node died mid-request) replaces the
   * one still pending there, instead of being refused as a second one.
   */
  public void forward(RoutingContext ctx, String owner, Handler<RoutingContext> unreachable, String exclusive) {
    open(ctx, owner, unreachable, false, exclusive);
  }

  /** Serves a WebSocket handshake on {@code owner}: accepted here once the owner accepted it there. */
  public void forwardWebSocket(RoutingContext ctx, String owner, Handler<RoutingContext> unreachable) {
    open(ctx, owner, unreachable, true, null);
  }

  private void open(RoutingContext ctx, String owner, Handler<RoutingContext> unreachable, boolean webSocket, String exclusive) {
    open(ctx, owner, unreachable, webSocket, exclusive, false);
  }

  private void open(RoutingContext ctx, String owner, Handler<RoutingContext> unreachable, boolean webSocket, String exclusive,
                    boolean retry) {
    HttpServerRequest req = ctx.request();
    long id = ids.incrementAndGet();
    forwarded.incrementAndGet();
    EntryStream s = new EntryStream(id, owner, ctx, unreachable, Vertx.currentContext());
    s.exclusive = exclusive;
    s.retry = retry;
    entries.put(id, s);
    JsonArray headers = new JsonArray();
    req.headers().forEach(h -> {
      if (!HOP_BY_HOP.contains(h.getKey().toLowerCase(java.util.Locale.ROOT))) {
        headers.add(new JsonArray().add(h.getKey()).add(h.getValue()));
      }
    });
    JsonObject head = new JsonObject().put("m", req.method().name()).put("u", req.uri()).put("h", headers)
      .put("host", req.authority() == null ? "" : req.authority().toString())
      .put("c", req.remoteAddress() == null ? "" : req.remoteAddress().hostAddress());
    if (exclusive != null) {
      head.put("k", exclusive);
    }
    Buffer body = webSocket || ctx.body() == null || ctx.body().buffer() == null ? Buffer.buffer() : ctx.body().buffer();
    byte[] h = head.encode().getBytes(StandardCharsets.UTF_8);
    Buffer payload = Buffer.buffer(8 + h.length + body.length()).appendInt(h.length).appendBytes(h).appendBuffer(body);
    if (!webSocket) {
      req.response().closeHandler(v -> s.clientGone()); // a retry's stream replaces this handler
    }
    s.webSocket = webSocket;
    Runnable send = () -> {
      s.acceptTimer = vertx.setTimer(ACCEPT_TIMEOUT_MS, t -> s.fail("no answer from node " + owner));
      context.runOnContext(v -> heard.putIfAbsent(owner, System.currentTimeMillis()));
      link.sendConfirmed(owner, toOwner(webSocket ? WS_OPEN : OPEN, id, payload), ACCEPT_TIMEOUT_MS)
        .onFailure(err -> s.fail(err.getMessage()));
    };
    if (webSocket) {
      // the handshake completes here and now (an upgrade request cannot wait for another node); the client's
      // frames follow the open to the owner, which holds them until its own WebSocket is up. A refusal
      // there closes this one (an Engine.IO client whose probe fails goes on polling).
      s.upgrade(send);
    } else {
      send.run();
    }
  }

  // ---- frames ----

  /**
   * A frame from an entry stream to its owner. Stream ids are counted by each entry node, so the same id can
   * name a stream this node serves and one it started: the direction tells them apart.
   */
  private Buffer toOwner(byte type, long id, Buffer payload) {
    return frame((byte) (type | TO_OWNER), id, payload);
  }

  private Buffer frame(byte type, long id, Buffer payload) {
    byte[] self = node.id().getBytes(StandardCharsets.UTF_8);
    Buffer b = Buffer.buffer(10 + self.length + (payload == null ? 0 : payload.length()));
    b.appendByte(type).appendLong(id).appendByte((byte) self.length).appendBytes(self);
    if (payload != null) {
      b.appendBuffer(payload);
    }
    return b;
  }

  private void onFrame(Buffer frame) {
    byte type;
    long id;
    String from;
    Buffer payload;
    try {
      type = frame.getByte(0);
      id = frame.getLong(1);
      int len = frame.getByte(9) & 0xff;
      from = frame.getString(10, 10 + len, "UTF-8");
      payload = frame.slice(10 + len, frame.length());
    } catch (RuntimeException e) {
      LOG.warn("dropping an unreadable relay frame: {}", e.toString());
      return;
    }
    heard.put(from, System.currentTimeMillis());
    if ((type & TO_OWNER) != 0) {
      byte t = (byte) (type & ~TO_OWNER);
      if (t == OPEN || t == WS_OPEN) {
        serve(t == WS_OPEN, from, id, payload);
      } else {
        OwnerStream o = owned.get(from + "/" + id);
        if (o != null) {
          o.onFrame(t, payload);
        }
      }
      return;
    }
    switch (type) {
      case PING -> link.send(from, frame(PONG, 0, null));
      case PONG -> {
      }
      default -> {
        EntryStream e = entries.get(id);
        if (e != null && e.owner.equals(from)) {
          e.onFrame(type, payload);
        }
      }
    }
  }

  /** Every second: ping the peers we have streams with; end the streams of peers silent for too long. */
  private void checkPeers() {
    long now = System.currentTimeMillis();
    Set<String> peers = new java.util.HashSet<>();
    entries.values().forEach(e -> peers.add(e.owner));
    owned.values().forEach(o -> peers.add(o.entry));
    for (String peer : peers) {
      Long last = heard.get(peer);
      if (last != null && now - last > PEER_TIMEOUT_MS) {
        LOG.info("node {} silent for {} ms: ending its relayed requests", peer, now - last);
        entries.values().stream().filter(e -> e.owner.equals(peer)).forEach(e -> e.fail("node " + peer + " is gone"));
        owned.values().stream().filter(o -> o.entry.equals(peer)).toList().forEach(OwnerStream::abort);
        heard.remove(peer);
      } else {
        link.send(peer, frame(PING, 0, null));
      }
    }
    heard.keySet().retainAll(peers);
  }

  // ---- owner side (node context) ----

  private void serve(boolean webSocket, String entry, long id, Buffer payload) {
    int headLength = payload.getInt(0);
    JsonObject head = new JsonObject(payload.getString(4, 4 + headLength, "UTF-8"));
    Buffer body = payload.slice(4 + headLength, payload.length());
    served.incrementAndGet();
    OwnerStream o = new OwnerStream(entry, id);
    owned.put(o.key(), o);
    String exclusiveKey = head.getString("k");
    if (exclusiveKey != null) {
      OwnerStream before = exclusive.put(exclusiveKey, o);
      o.exclusive = exclusiveKey;
      if (before != null && !before.done && !before.entry.equals(entry)) {
        if (!before.headSent) {
          // the same request again by another way (a balancer re-sent it after the first node died): the
          // pending loopback request stays and answers the new one (ending it would end the session)
          owned.remove(o.key(), o);
          before.send(RESET, null); // the first way's client, if still there, is cut
          owned.remove(before.key(), before);
          before.entry = entry;
          before.id = id;
          owned.put(before.key(), before);
          exclusive.put(exclusiveKey, before);
          before.send(ACCEPT, null);
          return;
        }
        // an answer already under way cannot be taken over: the old one ends, the new one is replayed
        o.send(ACCEPT, null);
        before.abortThen(() -> vertx.setTimer(SUPERSEDE_SETTLE_MS, t -> replay(o, head, body)));
        return;
      }
    }
    if (webSocket) {
      MultiMap headers = loopbackHeaders(head, entry);
      String host = head.getString("host", "");
      String loopHost = loopbackHost();
      int port = node.port();
      WebSocketConnectOptions options = new WebSocketConnectOptions().setServer(SocketAddress.inetSocketAddress(port, loopHost))
        .setHost(host.isEmpty() ? loopHost : hostOnly(host)).setPort(host.isEmpty() ? port : portOf(host)).setURI(head.getString("u")).setHeaders(headers);
      io.vertx.core.http.ClientWebSocket ws = loopbackWs.webSocket();
      o.ws = ws;
      ws.textMessageHandler(t -> o.send(WS_TEXT, Buffer.buffer(t)));
      ws.binaryMessageHandler(b -> o.send(WS_BINARY, b));
      ws.closeHandler(v -> {
        Short code = ws.closeStatusCode();
        o.finish(WS_CLOSE, closePayload(code == null ? 1006 : code, ws.closeReason()));
      });
      ws.connect(options).onComplete(ar -> {
        if (ar.succeeded()) {
          o.send(ACCEPT, null);
          o.connected();
        } else if (ar.cause() instanceof UpgradeRejectedException rejected) {
          // refused (an unknown session...): the refusal goes back as a plain HTTP answer, never accepted
          JsonArray rh = new JsonArray();
          rejected.getHeaders().forEach(e -> rh.add(new JsonArray().add(e.getKey()).add(e.getValue())));
          o.send(HEAD, Buffer.buffer(new JsonObject().put("s", rejected.getStatus()).put("h", rh).encode()));
          o.send(DATA, rejected.getBody() == null ? Buffer.buffer() : rejected.getBody());
          o.finish(END, null);
        } else {
          o.finish(RESET, null);
        }
      });
      return;
    }
    o.send(ACCEPT, null);
    replay(o, head, body);
  }

  /** Replays a relayed HTTP request on this node's own port and streams the answer back. */
  private void replay(OwnerStream o, JsonObject head, Buffer body) {
    if (o.done) {
      return;
    }
    MultiMap headers = loopbackHeaders(head, o.entry);
    String host = head.getString("host", "");
    String loopHost = loopbackHost();
    int port = node.port();
    RequestOptions options = new RequestOptions().setMethod(HttpMethod.valueOf(head.getString("m")))
      .setServer(SocketAddress.inetSocketAddress(port, loopHost))
      .setHost(host.isEmpty() ? loopHost : hostOnly(host)).setPort(host.isEmpty() ? port : portOf(host))
      .setURI(head.getString("u")).setHeaders(headers);
    loopback.request(options).onComplete(ar -> {
      if (ar.failed()) {
        o.finish(RESET, null);
        return;
      }
      HttpClientRequest request = ar.result();
      o.request = request;
      if (o.aborted) {
        request.reset();
        return;
      }
      request.exceptionHandler(err -> o.finish(RESET, null));
      request.response().onComplete(rar -> {
        if (rar.failed()) {
          o.finish(RESET, null);
          return;
        }
        var response = rar.result();
        JsonArray rh = new JsonArray();
        response.headers().forEach(e -> {
          if (!"transfer-encoding".equalsIgnoreCase(e.getKey()) && !"connection".equalsIgnoreCase(e.getKey())
            && !"keep-alive".equalsIgnoreCase(e.getKey())) {
            rh.add(new JsonArray().add(e.getKey()).add(e.getValue()));
          }
        });
        o.headSent = true;
        o.send(HEAD, Buffer.buffer(new JsonObject().put("s", response.statusCode()).put("h", rh).encode()));
        response.handler(chunk -> o.send(DATA, chunk));
        response.exceptionHandler(err -> o.finish(RESET, null));
        response.endHandler(v -> o.finish(END, null));
      });
      request.end(body);
    });
  }

  /** The client's headers as the entry sent them, marked as relayed from {@code entry}. */
  private MultiMap loopbackHeaders(JsonObject head, String entry) {
    MultiMap headers = MultiMap.caseInsensitiveMultiMap();
    JsonArray h = head.getJsonArray("h");
    for (int i = 0; i < h.size(); i++) {
      headers.add(h.getJsonArray(i).getString(0), h.getJsonArray(i).getString(1));
    }
    return headers.set(MARK, secret).set(ENTRY, entry).set(CLIENT, head.getString("c", ""));
  }

  private String loopbackHost() {
    String host = node.config().http().host();
    return switch (host) {
      case "0.0.0.0", "" -> "127.0.0.1";
      case "::", "[::]", "::0" -> "::1";
      default -> host;
    };
  }

  private static String hostOnly(String authority) {
    if (authority.startsWith("[")) {
      int end = authority.indexOf(']');
      return end > 0 ? authority.substring(0, end + 1) : authority;
    }
    int colon = authority.lastIndexOf(':');
    return colon > 0 ? authority.substring(0, colon) : authority;
  }

  /** The port of an authority as the client wrote it (the Host header is replayed as is: the origin check compares it). */
  private static int portOf(String authority) {
    int colon = authority.lastIndexOf(':');
    if (colon > 0 && colon > authority.lastIndexOf(']')) {
      try {
        return Integer.parseInt(authority.substring(colon + 1));
      } catch (NumberFormatException e) {
        return 80;
      }
    }
    return 80;
  }

  private static Buffer closePayload(int code, String reason) {
    return Buffer.buffer().appendShort((short) code).appendString(reason == null ? "" : reason);
  }

  /** A request this node serves for another: its loopback request or WebSocket. */
  private final class OwnerStream {
    String entry;
    long id;
    boolean headSent;
    HttpClientRequest request;
    WebSocket ws;
    boolean wsUp;
    final java.util.ArrayDeque<Runnable> beforeConnect = new java.util.ArrayDeque<>();
    boolean aborted;
    boolean done;
    String exclusive;

    OwnerStream(String entry, long id) {
      this.entry = entry;
      this.id = id;
    }

    String key() {
      return entry + "/" + id;
    }

    void send(byte type, Buffer payload) {
      if (!done) {
        link.send(entry, frame(type, id, payload));
      }
    }

    void finish(byte type, Buffer payload) {
      send(type, payload);
      done = true;
      forget();
    }

    void forget() {
      owned.remove(key(), this);
      if (exclusive != null) {
        Relay.this.exclusive.remove(exclusive, this);
      }
    }

    /** Aborts, then runs {@code next} once the loopback request's connection is closed (at once if none). */
    void abortThen(Runnable next) {
      HttpClientRequest r = request;
      if (r == null || r.connection() == null) {
        abort();
        next.run();
        return;
      }
      java.util.concurrent.atomic.AtomicBoolean ran = new java.util.concurrent.atomic.AtomicBoolean();
      Runnable once = () -> {
        if (ran.compareAndSet(false, true)) {
          next.run();
        }
      };
      r.connection().closeHandler(v -> once.run());
      abort();
      vertx.setTimer(SUPERSEDE_SETTLE_MS * 10, t -> once.run()); // should the close go unseen
    }

    void onFrame(byte type, Buffer payload) {
      switch (type) {
        case RESET -> abort();
        case WS_TEXT -> toLoopback(() -> ws.writeTextMessage(payload.toString(StandardCharsets.UTF_8)));
        case WS_BINARY -> toLoopback(() -> ws.writeBinaryMessage(payload));
        case WS_CLOSE -> {
          if (ws != null && !wsUp) {
            beforeConnect.add(() -> ws.close());
            return;
          }
          if (ws != null) {
            ws.close(payload.length() >= 2 ? payload.getShort(0) : 1000,
              payload.length() > 2 ? payload.getString(2, payload.length(), "UTF-8") : null);
          }
          done = true;
          owned.remove(key(), this);
        }
        default -> {
        }
      }
    }

    void toLoopback(Runnable write) {
      if (ws == null) {
        return;
      }
      if (!wsUp) {
        beforeConnect.add(write);
      } else if (!ws.isClosed()) {
        write.run();
      }
    }

    void connected() {
      wsUp = true;
      while (!beforeConnect.isEmpty() && !ws.isClosed()) {
        beforeConnect.poll().run();
      }
    }

    /** The entry gave up: the owner's transport sees its client go away. */
    void abort() {
      aborted = true;
      done = true;
      forget();
      if (request != null) {
        request.reset();
      }
      if (ws != null && !ws.isClosed()) {
        ws.close((short) 1001, "relay lost");
      }
    }
  }

  // ---- entry side ----

  /** A client's request this node sent to its owner; lives on the request's event loop. */
  private final class EntryStream {
    final long id;
    final String owner;
    final RoutingContext ctx;
    final Handler<RoutingContext> unreachable;
    final Context loop;
    boolean webSocket;
    long acceptTimer = -1;
    boolean accepted;
    boolean headSent;
    boolean ended;
    long backlog;
    String exclusive;
    boolean retry;
    ServerWebSocket ws;
    final java.util.ArrayDeque<Runnable> beforeSocket = new java.util.ArrayDeque<>();

    EntryStream(long id, String owner, RoutingContext ctx, Handler<RoutingContext> unreachable, Context loop) {
      this.id = id;
      this.owner = owner;
      this.ctx = ctx;
      this.unreachable = unreachable;
      this.loop = loop;
    }

    void onLoop(Runnable r) {
      if (Vertx.currentContext() == loop) {
        r.run();
      } else {
        loop.runOnContext(v -> r.run());
      }
    }

    void onFrame(byte type, Buffer payload) {
      onLoop(() -> handle(type, payload));
    }

    private void handle(byte type, Buffer payload) {
      if (ended) {
        return;
      }
      HttpServerResponse response = ctx.response();
      switch (type) {
        case ACCEPT -> {
          accepted = true;
          vertx.cancelTimer(acceptTimer);
        }
        case HEAD -> {
          accepted = true;
          vertx.cancelTimer(acceptTimer);
          if (webSocket) {
            // the owner refused the handshake (an unknown session...): this side's WebSocket closes
            finish();
            if (ws != null && !ws.isClosed()) {
              ws.close((short) 1008, "refused");
            }
            return;
          }
          JsonObject head = new JsonObject(payload.toString(StandardCharsets.UTF_8));
          response.setStatusCode(head.getInteger("s"));
          JsonArray h = head.getJsonArray("h");
          boolean length = false;
          for (int i = 0; i < h.size(); i++) {
            String name = h.getJsonArray(i).getString(0);
            length |= "content-length".equalsIgnoreCase(name);
            response.headers().add(name, h.getJsonArray(i).getString(1));
          }
          if (!length) {
            response.setChunked(true);
          }
          headSent = true;
        }
        case DATA -> {
          if (response.closed()) {
            return;
          }
          response.write(payload);
          if (response.writeQueueFull()) {
            // bytes handed over while the client is behind: beyond the outbound bound it is cut, as a
            // direct client that stops reading is
            backlog += payload.length();
            if (backlog > maxQueueBytes) {
              fail("client not reading");
            } else if (backlog == payload.length()) {
              response.drainHandler(v -> backlog = 0);
            }
          }
        }
        case END -> {
          finish();
          if (!response.ended() && !response.closed()) {
            response.end();
          }
        }
        case RESET -> {
          // the owner is there and ended it (its loopback request failed, or the same request came again by
          // another way and replaced this one): the client's request is cut, the session is not unknown
          finish();
          if (ws != null) {
            if (!ws.isClosed()) {
              ws.close((short) 1011, "relay ended");
            }
          } else {
            ctx.request().connection().close();
          }
        }
        case WS_TEXT -> toSocket(() -> ws.writeTextMessage(payload.toString(StandardCharsets.UTF_8)));
        case WS_BINARY -> toSocket(() -> ws.writeBinaryMessage(payload));
        case WS_CLOSE -> {
          short code = payload.length() >= 2 ? payload.getShort(0) : 1000;
          String reason = payload.length() > 2 ? payload.getString(2, payload.length(), "UTF-8") : null;
          toSocket(() -> {
            finish();
            if (code == 1006 || code == 1005) {
              ws.close();
            } else {
              ws.close(code, reason);
            }
          });
        }
        default -> {
        }
      }
    }

    private void toSocket(Runnable r) {
      if (ws != null) {
        if (!ws.isClosed()) {
          r.run();
        }
      } else {
        beforeSocket.add(r);
      }
    }

    void upgrade(Runnable open) {
      ctx.request().toWebSocket().onComplete(ar -> {
        if (ar.failed()) {
          finish();
          return;
        }
        ws = ar.result();
        open.run();
        ws.textMessageHandler(t -> link.send(owner, toOwner(WS_TEXT, id, Buffer.buffer(t))));
        ws.binaryMessageHandler(b -> link.send(owner, toOwner(WS_BINARY, id, b)));
        ws.closeHandler(v -> {
          if (!ended) {
            finish();
            Short code = ws.closeStatusCode();
            link.send(owner, toOwner(WS_CLOSE, id, closePayload(code == null ? 1006 : code, ws.closeReason())));
          }
        });
        while (!beforeSocket.isEmpty()) {
          beforeSocket.poll().run();
        }
      });
    }

    void clientGone() {
      onLoop(() -> {
        if (!ended) {
          finish();
          link.send(owner, toOwner(RESET, id, null));
        }
      });
    }

    void fail(String why) {
      onLoop(() -> {
        if (ended) {
          return;
        }
        boolean answered = headSent;
        finish();
        if (accepted) {
          link.send(owner, toOwner(RESET, id, null));
        }
        if (ws != null) {
          if (!ws.isClosed()) {
            ws.close((short) 1011, "relay lost");
          }
        } else if (!answered && !retry) {
          // a node can be slow rather than gone (a loaded machine): if it still answers a ping, try once more
          alive(owner).onComplete(ar -> onLoop(() -> {
            if (ar.succeeded() && ar.result() && !ctx.response().closed()) {
              LOG.debug("relay to {} failed ({}) but the node is there: trying once more", owner, why);
              open(ctx, owner, unreachable, false, exclusive, true);
            } else {
              LOG.debug("relay to {} failed ({}): answering as an unknown session", owner, why);
              unreachable.handle(ctx);
            }
          }));
        } else if (!answered) {
          LOG.debug("relay to {} failed again ({}): answering as an unknown session", owner, why);
          unreachable.handle(ctx);
        } else {
          ctx.request().connection().close();
        }
      });
    }

    private void finish() {
      ended = true;
      vertx.cancelTimer(acceptTimer);
      entries.remove(id, this);
    }
  }
}
