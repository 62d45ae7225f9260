package dev.parley.transport.socketio;

import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.ServerWebSocket;
import io.vertx.ext.web.RoutingContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.parley.ParleyNode;
import dev.parley.transport.Outbound;
import dev.parley.transport.websocket.FrameWriter;
import dev.parley.transport.websocket.WsChannels;
import io.netty.channel.ChannelHandlerContext;
import io.vertx.core.Future;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Base64;

/**
 * One Engine.IO v4 session: HTTP long-polling or WebSocket, the upgrade from one to the other, and
 * the server-driven heartbeat. All state is confined to the event loop that created it; requests and
 * frames that arrive on another loop (another {@code -instances} verticle) are handed over.
 *
 * <p>Packets are kept as Engine.IO text ({@code "4hello"}, {@code "2"}) or as a {@link Buffer} for a
 * binary message. Polling answers join queued packets with the record separator (0x1e), binary ones as
 * {@code b<base64>}; the queue is bounded ({@code limits.outboundQueueBytes}), and a session whose
 * client does not collect its packets is closed.
 */
public final class EngineSession {

  private static final Logger LOG = LoggerFactory.getLogger(EngineSession.class);
  static final char SEPARATOR = '\u001e';

  private final Vertx vertx;
  private final EngineServer server;
  private final String sid;
  private final Context context;
  private final EngineListener listener;
  // small at first: a WebSocket session queues nothing here, a polling one grows it as it needs
  private final ArrayDeque<Object> outbox = new ArrayDeque<>(1);
  private long outboxBytes;
  private RoutingContext pendingGet;
  private ServerWebSocket ws;
  private volatile ServerWebSocket probe;
  /** Upgrade requests of this session whose WebSocket is not attached yet (set from any thread, see {@link #UPGRADING}). */
  private volatile int upgrading;
  private static final java.util.concurrent.atomic.AtomicIntegerFieldUpdater<EngineSession> UPGRADING =
    java.util.concurrent.atomic.AtomicIntegerFieldUpdater.newUpdater(EngineSession.class, "upgrading");
  private static final java.util.concurrent.atomic.AtomicIntegerFieldUpdater<EngineSession> UPGRADE_ORDER =
    java.util.concurrent.atomic.AtomicIntegerFieldUpdater.newUpdater(EngineSession.class, "upgradeOrder");
  private boolean probed;
  private boolean closed;
  private boolean closing;
  private long pingTimer = -1;
  private long pongTimer = -1;
  private final Thread ownerThread;
  private final Outbound outbound;
  /**
   * The Netty channel of the WebSocket transport when it lives on this session's own event loop (else null):
   * frames then take the shared fast path ({@link FrameWriter}: a room event's packet encoded once into a
   * complete frame for every recipient on the loop, flushes coalesced per turn) and the backlog is read from
   * the channel itself.
   */
  private FrameWriter.Target fast;
  private final ParleyNode.Ticket ticket;

  /** Created on the event loop of {@code context}, which then owns the session. */
  EngineSession(Vertx vertx, EngineServer server, String sid, Context context, EngineListener listener,
                ParleyNode.Ticket ticket) {
    this.ticket = ticket;
    this.vertx = vertx;
    this.server = server;
    this.sid = sid;
    this.context = context;
    this.listener = listener;
    this.ownerThread = Thread.currentThread();
    this.outbound = new Outbound(context, server.maxQueueBytes(), server.memory(),
      () -> fast == null ? 0 : WsChannels.pendingBytes(fast.channel()),
      (code, reason) -> close("slow consumer"), this);
  }

  @Override
  public String toString() {
    return "sid=" + sid + " transport=socket.io";
  }

  public String id() {
    return sid;
  }

  private String authorization;
  private String address;

  /** The client address of the handshake request (for logs). */
  public String address() {
    return address;
  }

  void address(String value) {
    this.address = value;
  }

  /** The handshake request's {@code Authorization} header (null when none): a Bearer token for non-browser clients. */
  public String authorization() {
    return authorization;
  }

  void authorization(String value) {
    this.authorization = value;
  }

  public Context context() {
    return context;
  }

  public boolean isWebSocket() {
    return ws != null;
  }

  ParleyNode.Ticket ticket() {
    return ticket;
  }

  public boolean isClosed() {
    return closed;
  }

  /**
   * Runs an HTTP request or a new WebSocket of this session on its loop. While an upgrade is in progress
   * (a probe WebSocket is attached) it waits {@link #UPGRADE_SETTLE_MS} first: a client that sends
   * {@code 2probe} and {@code 5} and then polls must find the upgrade done, although the poll came on
   * another connection that the server may read, and Vert.x dispatch, before the WebSocket's frames. A
   * real client never polls during an upgrade (it pauses polling), so the wait costs nothing in practice.
   */
  void onInput(Runnable action) {
    boolean settling = probe != null || upgrading > 0;
    if (Thread.currentThread() == ownerThread && !settling) {
      action.run();
    } else if (settling) {
      vertx.setTimer(UPGRADE_SETTLE_MS, t -> onLoop(action));
    } else {
      context.runOnContext(v -> action.run());
    }
  }

  /**
   * An upgrade request for this session arrived (on any thread): until its WebSocket is attached, the
   * session's HTTP requests wait as they do behind an attached probe, since the client may already have
   * sent {@code 2probe} and {@code 5} on it.
   */
  int upgradeRequested() {
    UPGRADING.incrementAndGet(this);
    return UPGRADE_ORDER.incrementAndGet(this);
  }

  /** The upgrade request's WebSocket is attached, or the handshake failed. */
  void upgradeSettled() {
    UPGRADING.decrementAndGet(this);
  }

  /** Numbers upgrade requests in the order they arrived (any thread). */
  private volatile int upgradeOrder;
  /** The next upgrade request, by arrival, whose WebSocket may be attached (session loop). */
  private int nextUpgrade = 1;
  /** WebSockets whose handshake completed before an earlier request's did, by request number (session loop). */
  private java.util.TreeMap<Integer, Runnable> laterUpgrades;

  /**
   * Runs {@code attach} for upgrade request {@code order} once every earlier request has been attached or has
   * failed: two WebSockets of one session (a second one opened right after the first's {@code 2probe} and
   * {@code 5}) can finish their handshakes on different event loops in either order, and the first to arrive
   * is the one that upgrades. {@code attach} null: request {@code order} failed.
   */
  private void inRequestOrder(int order, Runnable attach) {
    if (laterUpgrades == null) {
      laterUpgrades = new java.util.TreeMap<>();
    }
    laterUpgrades.put(order, attach == null ? () -> { } : attach);
    while (laterUpgrades.containsKey(nextUpgrade)) {
      laterUpgrades.remove(nextUpgrade++).run();
    }
  }

  /** Upgrade request {@code order}'s handshake failed: later ones need not wait for it. */
  void upgradeFailed(int order) {
    onLoop(() -> {
      upgradeSettled();
      inRequestOrder(order, null);
    });
  }

  /** How long a request of a session that is upgrading waits behind the probe WebSocket's frames. */
  static final long UPGRADE_SETTLE_MS = 50;

  /** Runs on the session's loop: now if already there, else handed over. */
  void onLoop(Runnable action) {
    if (Thread.currentThread() == ownerThread) {
      action.run();
    } else {
      context.runOnContext(v -> action.run());
    }
  }

  void started() {
    listener.onOpen(this);
    schedulePing();
  }

  private boolean requested;

  /**
   * A polling session whose client makes no request at all within {@code ms} of the handshake is closed:
   * a real client polls at once, and a handshake alone must not hold a place in {@code http.maxConnections}
   * for a whole heartbeat.
   */
  void expectRequestWithin(long ms) {
    vertx.setTimer(ms, t -> onLoop(() -> {
      if (!requested && !closed && ws == null && probe == null) {
        LOG.debug("closing Engine.IO session {}: no request after the handshake", sid);
        close("no request after handshake");
      }
    }));
  }

  // ---------------------------------------------------------------- sending

  /**
   * Sends an Engine.IO message packet (type 4) with this text. Over the WebSocket fast path, every
   * recipient given the same {@code text} object in one turn of the loop shares one encoded frame.
   */
  public void sendMessage(String text) {
    if (fastPath()) {
      if (outbound.admit(text.length() + 1) && !ws.isClosed()) {
        server.writer().writeShared(fast, "4", text);
      }
      return;
    }
    enqueue("4" + text);
  }

  /** Whether frames go to the WebSocket's channel directly (see {@link #fast}). */
  private boolean fastPath() {
    if (fast == null || closed || probe != null) {
      return false;
    }
    boolean inLoop = fast.ctx().executor().inEventLoop();
    assert inLoop : "Engine.IO write off its event loop: " + Thread.currentThread().getName();
    return inLoop;
  }

  /**
   * Takes the fast path for the WebSocket that is now the transport, when its channel is on this session's
   * loop (a WebSocket opened directly always is; an upgrade may have come on another loop).
   */
  private void useFastPath(ServerWebSocket socket) {
    ChannelHandlerContext channel = WsChannels.channelOf(socket);
    fast = channel != null && channel.executor().inEventLoop() && Thread.currentThread() == ownerThread
      ? new FrameWriter.Target(channel) : null;
  }

  /** Whether the caller runs on this session's own event loop. */
  boolean onOwnLoop() {
    return Thread.currentThread() == ownerThread;
  }

  /** Sends a binary message. */
  public void sendBinary(Buffer data) {
    enqueue(data);
  }

  /**
   * Queues or writes one packet under the shared outbound policy: polling packets wait in the outbox
   * (counted), WebSocket frames count until written; a client that lets more than
   * {@code limits.outboundQueueBytes} pile up is closed as a slow consumer on a later turn of the loop.
   */
  void enqueue(Object packet) {
    if (closed) {
      return;
    }
    int size = packet instanceof Buffer b ? b.length() : ((String) packet).length();
    if (!outbound.admit(size)) {
      return;
    }
    if (ws != null && probe == null) {
      if (ws.isClosed()) {
        return;
      }
      if (fastPath()) {
        // every frame of this transport takes the fast path, so none can overtake another
        if (packet instanceof String text) {
          server.writer().writeText(fast, text);
        } else {
          server.writer().writeBinary(fast, ((Buffer) packet).getBytes());
        }
      } else {
        outbound.track(size, writeFrame(ws, packet));
      }
      return;
    }
    outbox.add(packet);
    outboxBytes += size;
    outbound.track(size);
    flushPolling();
  }

  private static Future<Void> writeFrame(ServerWebSocket socket, Object packet) {
    if (packet instanceof Buffer b) {
      return socket.writeBinaryMessage(b);
    }
    return socket.writeTextMessage((String) packet);
  }

  /** Forgets the outbox (sent, moved to the WebSocket, or dropped on close). */
  private void clearOutbox() {
    outbox.clear();
    outbound.untrack(outboxBytes);
    outboxBytes = 0;
  }

  private void flushPolling() {
    if (pendingGet == null || outbox.isEmpty()) {
      return;
    }
    RoutingContext get = pendingGet;
    pendingGet = null;
    StringBuilder payload = new StringBuilder();
    while (!outbox.isEmpty()) {
      Object p = outbox.poll();
      if (payload.length() > 0) {
        payload.append(SEPARATOR);
      }
      if (p instanceof Buffer b) {
        payload.append('b').append(Base64.getEncoder().encodeToString(b.getBytes()));
      } else {
        payload.append((String) p);
      }
    }
    clearOutbox();
    server.answer(get, 200, "text/plain; charset=UTF-8", payload.toString());
  }

  // ---------------------------------------------------------------- polling

  /**
   * Refuses a polling request of a session that is closed or upgraded. After an upgrade the refusal comes
   * {@link #UPGRADE_SETTLE_MS} late: a client that polls right after sending {@code 5} must have seen its
   * WebSocket's {@code 3probe} first, and answers written on two connections less than a millisecond apart
   * may be read by the client in either order. A real client never polls once upgraded.
   */
  private void refuseAfterUpgrade(RoutingContext ctx) {
    if (closed || ws == null) {
      server.error(ctx, 400, 3, "Bad request");
    } else {
      vertx.setTimer(UPGRADE_SETTLE_MS, t -> onLoop(() -> server.error(ctx, 400, 3, "Bad request")));
    }
  }

  void onGet(RoutingContext ctx) {
    requested = true;
    if (closed || ws != null && probe == null) {
      refuseAfterUpgrade(ctx);
      return;
    }
    if (pendingGet != null && !server.relay().via(pendingGet.request()).equals(server.relay().via(ctx.request()))) {
      // the same poll again by another way (a load balancer that re-sent it to another node when the first
      // one died mid-request): the new one takes over, the old one (its client gone) ends with a noop
      RoutingContext old = pendingGet;
      pendingGet = null;
      server.answer(old, 200, "text/plain; charset=UTF-8", "6");
    }
    if (pendingGet != null) {
      // one outstanding GET per session: the first one learns the session is closed, the second is refused
      RoutingContext first = pendingGet;
      pendingGet = null;
      server.answer(first, 200, "text/plain; charset=UTF-8", "1");
      server.error(ctx, 400, 3, "Bad request");
      close("multiple polling requests");
      return;
    }
    if (probed) {
      // upgrading: the client is pausing polling and waits for this request to end
      server.answer(ctx, 200, "text/plain; charset=UTF-8", "6");
      return;
    }
    pendingGet = ctx;
    ctx.request().connection().closeHandler(v -> onLoop(() -> {
      if (pendingGet == ctx) {
        pendingGet = null;
      }
    }));
    if (closing && !outbox.isEmpty()) {
      flushPolling(); // what was queued first, alone (see closeGracefully); the close comes with the next poll
      return;
    }
    if (closing) {
      outbox.add("1");
      flushPolling();
      finishClose("server close");
      return;
    }
    flushPolling();
  }

  void onPost(RoutingContext ctx, String body) {
    requested = true;
    if (closed || ws != null && probe == null) {
      refuseAfterUpgrade(ctx);
      return;
    }
    if (body.length() > server.maxPayload()) {
      server.error(ctx, 413, 3, "Payload too large");
      close("payload too large");
      return;
    }
    List<String> packets = splitPayload(body);
    if (packets == null) {
      server.error(ctx, 400, 3, "Bad request");
      close("parse error");
      return;
    }
    server.answer(ctx, 200, "text/html; charset=UTF-8", "ok");
    for (String p : packets) {
      if (closed) {
        return;
      }
      if (p.charAt(0) == 'b') {
        try {
          listener.onBinary(this, Buffer.buffer(Base64.getDecoder().decode(p.substring(1))));
        } catch (IllegalArgumentException e) {
          close("parse error");
        }
      } else {
        onPacket(p, false);
      }
    }
  }

  /** The packets of a polling payload (joined by 0x1e), or null when one of them is not a packet. */
  static List<String> splitPayload(String body) {
    String[] packets = body.split(String.valueOf(SEPARATOR), -1);
    for (String p : packets) {
      if (!validPacket(p)) {
        return null;
      }
    }
    return List.of(packets);
  }

  private static boolean validPacket(String p) {
    if (p.isEmpty()) {
      return false;
    }
    char t = p.charAt(0);
    return t == 'b' || t >= '0' && t <= '6';
  }

  // ---------------------------------------------------------------- websocket

  /** A WebSocket that is this session's only transport (no polling before). */
  void attachWebSocket(ServerWebSocket socket) {
    ws = socket;
    bindFrames(socket);
    useFastPath(socket);
  }

  /**
   * The WebSocket of an upgrade request (called on its own loop, once the 101 is sent, before any of its
   * frames). Its handlers are bound here, so no frame is missed; they hand each frame to the session's loop,
   * after the attachment queued here. When another WebSocket of the session is already probing or has taken
   * over, this one waits {@link #UPGRADE_SETTLE_MS} like a poll would: the other's {@code 2probe} and
   * {@code 5}, sent before this connection was opened, may still be on their way to the session's loop,
   * and its refusal must not reach the client before the other's {@code 3probe}.
   */
  void attachUpgrade(ServerWebSocket socket, int order) {
    bindFrames(socket);
    onLoop(() -> inRequestOrder(order, () -> {
      Runnable attach = () -> {
        upgradeSettled();
        attachProbe(socket);
      };
      if (probe != null || ws != null) {
        vertx.setTimer(UPGRADE_SETTLE_MS, t -> onLoop(attach));
      } else {
        attach.run();
      }
    }));
  }

  /** A WebSocket that wants to take over from polling: it must send {@code 2probe} then {@code 5}. */
  void attachProbe(ServerWebSocket socket) {
    if (closed || ws != null || probe != null) {
      socket.close((short) 1002, "upgrade refused");
      return;
    }
    probe = socket; // its frames are already bound (attachUpgrade)
  }

  private void bindFrames(ServerWebSocket socket) {
    socket.textMessageHandler(text -> onLoop(() -> onWsText(socket, text)));
    socket.binaryMessageHandler(data -> onLoop(() -> {
      if (socket == ws && probe == null) {
        listener.onBinary(this, data);
      }
    }));
    socket.exceptionHandler(err -> onLoop(() -> {
      if (socket == ws || socket == probe) {
        LOG.debug("Engine.IO WebSocket error: sid={}", sid, err);
        if (err.getMessage() != null && err.getMessage().contains("max message size")) {
          close("payload too large");
        }
      }
    }));
    socket.closeHandler(v -> onLoop(() -> {
      if (socket == probe) {
        probe = null; // upgrade abandoned: polling goes on
        probed = false;
      } else if (socket == ws) {
        close("transport close");
      }
    }));
  }

  private void onWsText(ServerWebSocket socket, String text) {
    if (closed) {
      return;
    }
    if (socket == probe) {
      if ("2probe".equals(text)) {
        probed = true;
        socket.writeTextMessage("3probe");
        // let the pending poll return so the client can pause polling
        if (pendingGet != null) {
          outbox.add("6");
          flushPolling();
        }
      } else if ("5".equals(text)) {
        ServerWebSocket old = ws;
        ws = socket;
        probe = null;
        useFastPath(socket);
        probed = false;
        if (pendingGet != null) {
          server.answer(pendingGet, 200, "text/plain; charset=UTF-8", "6");
          pendingGet = null;
        }
        // whatever was waiting for the next poll now goes over the WebSocket
        List<Object> waiting = new ArrayList<>(outbox);
        clearOutbox();
        for (Object packet : waiting) {
          enqueue(packet);
        }
        if (old != null && old != socket) {
          old.close();
        }
      } else {
        close("parse error");
      }
      return;
    }
    if (socket != ws) {
      return;
    }
    if (text.length() > server.maxPayload()) {
      // the WebSocket's own limit is set for the largest transport of the server, not for Socket.IO's
      close("payload too large");
      return;
    }
    if (text.isEmpty() || text.charAt(0) < '0' || text.charAt(0) > '6') {
      close("parse error");
      return;
    }
    onPacket(text, true);
  }

  // ---------------------------------------------------------------- packets

  private void onPacket(String p, boolean overWebSocket) {
    switch (p.charAt(0)) {
      case '1' -> {
        // the client closes: a pending poll ends with a noop
        if (pendingGet != null) {
          server.answer(pendingGet, 200, "text/plain; charset=UTF-8", "6");
          pendingGet = null;
        }
        close("transport close");
      }
      case '2' -> enqueue("3" + p.substring(1)); // a client ping (Engine.IO v3 habit): answer it
      case '3' -> {
        if (pongTimer >= 0) {
          vertx.cancelTimer(pongTimer);
          pongTimer = -1;
          schedulePing();
        }
      }
      case '4' -> listener.onMessage(this, p.substring(1));
      case '5', '6' -> {
      }
      default -> close("parse error");
    }
  }

  // ---------------------------------------------------------------- heartbeat

  private void schedulePing() {
    if (closed) {
      return;
    }
    pingTimer = vertx.setTimer(server.pingIntervalMs(), t -> onLoop(() -> {
      pingTimer = -1;
      if (closed) {
        return;
      }
      enqueue("2");
      pongTimer = vertx.setTimer(server.pingTimeoutMs(), t2 -> onLoop(() -> {
        pongTimer = -1;
        close("ping timeout");
      }));
    }));
  }

  // ---------------------------------------------------------------- close

  /** Closes the session now: the transport is dropped and the listener told. */
  public void close(String reason) {
    if (closed) {
      return;
    }
    // everything the session holds is let go before the client is told it is closed
    RoutingContext get = pendingGet;
    pendingGet = null;
    finishClose(reason);
    if (get != null) {
      server.answer(get, 200, "text/plain; charset=UTF-8", "1");
    }
  }

  /**
   * Closes after the client has collected what is queued (a server-side disconnect): over WebSocket
   * at once after the queued frames, over polling at the next poll (or after the ping timeout).
   */
  public void closeGracefully(String reason) {
    if (closed || closing) {
      return;
    }
    if (ws != null && probe == null) {
      finishClose(reason);
      return;
    }
    closing = true;
    if (pendingGet != null && !outbox.isEmpty()) {
      // what is queued (a DISCONNECT, say) goes out alone: socket.io-client handles the Socket.IO packets of a
      // payload a tick later than an Engine.IO close in the same payload, so the close would win; the next
      // poll gets the close (or the session ends after pingTimeoutMs)
      flushPolling();
      vertx.setTimer(server.pingTimeoutMs(), t -> onLoop(() -> finishClose(reason)));
    } else if (pendingGet != null) {
      outbox.add("1");
      flushPolling();
      finishClose(reason);
    } else {
      vertx.setTimer(server.pingTimeoutMs(), t -> onLoop(() -> finishClose(reason)));
    }
  }

  private void finishClose(String reason) {
    if (closed) {
      return;
    }
    closed = true;
    if (pingTimer >= 0) {
      vertx.cancelTimer(pingTimer);
    }
    if (pongTimer >= 0) {
      vertx.cancelTimer(pongTimer);
    }
    server.forget(this);
    if (ws != null && !ws.isClosed()) {
      ws.close();
    }
    if (probe != null && !probe.isClosed()) {
      probe.close();
    }
    clearOutbox();
    outbound.closing();
    try {
      listener.onClose(this, reason);
    } catch (RuntimeException e) {
      LOG.warn("Engine.IO close handler failed: sid={}", sid, e);
    }
  }
}
