// Parley connection: one logical link to the server that survives network trouble.
//
// - WebSocket at /ws first; SockJS at /sockjs when WebSocket is missing or cannot reach `welcome`.
// - `?transport=` forces a transport (see TRANSPORT_MODES).
// - Reconnects with exponential backoff and jitter; the owner re-joins its rooms on every `welcome`.
// - Over SockJS, a `ping` every 20 s keeps the session busy and detects dead links.
// - stop() gives up until restart() (the owner's call: a sign-in refused where one is required).

/** SockJS transports used when a native WebSocket exists but failed: its SockJS twin would fail too. */
const HTTP_TRANSPORTS = ['xhr-streaming', 'eventsource', 'xhr-polling'];

/**
 * `?transport=` values. `kind` is the link to open; `transports` restricts SockJS (undefined = any).
 */
export const TRANSPORT_MODES = Object.freeze({
  auto: { kind: 'auto' },
  websocket: { kind: 'websocket' },
  sockjs: { kind: 'sockjs' },
  'sockjs-websocket': { kind: 'sockjs', transports: ['websocket'] },
  'xhr-streaming': { kind: 'sockjs', transports: ['xhr-streaming'] },
  'xhr-polling': { kind: 'sockjs', transports: ['xhr-polling'] },
  eventsource: { kind: 'sockjs', transports: ['eventsource'] },
  htmlfile: { kind: 'sockjs', transports: ['htmlfile', 'iframe-htmlfile'] },
  'jsonp-polling': { kind: 'sockjs', transports: ['jsonp-polling'] },
});

/** The mode named by the page's `?transport=` parameter, or `auto`. */
export function transportModeFrom(search) {
  const wanted = new URLSearchParams(search).get('transport');
  if (wanted && Object.prototype.hasOwnProperty.call(TRANSPORT_MODES, wanted)) {
    return wanted;
  }
  return 'auto';
}

const WELCOME_TIMEOUT_MS = 10_000;
const PROBE_TIMEOUT_MS = 5_000;
const SOCKJS_PING_INTERVAL_MS = 20_000;
const PONG_TIMEOUT_MS = 10_000;
const BACKOFF_BASE_MS = 1_000;
const BACKOFF_CAP_MS = 30_000;
const SERVER_FULL_MIN_DELAY_MS = 10_000;
/** A link that stayed live this long resets the backoff. */
const STABLE_AFTER_MS = 10_000;

/** Readable text for close codes the server documents (docs/protocol.md, "Close codes"). */
export const CLOSE_REASONS = Object.freeze({
  1000: 'connection closed',
  1001: 'server restarting',
  1002: 'protocol error',
  1006: 'connection lost',
  1009: 'a message was too large for the server',
  1011: 'server error',
  4000: 'heartbeat timeout',
  4001: 'connection too slow to keep up',
  4002: 'server is full',
  4003: 'disconnected by the server',
  4004: 'sign-in refused',
  4005: 'sign-in expired',
  4006: 'too many connections for this user',
});

/**
 * @typedef {object} ConnectionHandlers
 * @property {(frame: object) => void} onFrame       every parsed frame, `welcome` included
 * @property {(status: Status) => void} onStatus     every status change (and every countdown second)
 * @property {(info: {code: number, reason: string, wasLive: boolean}) => void} [onDisconnect]
 *           a link ended (after `welcome` or not); a retry is scheduled unless it calls stop()
 *
 * @typedef {object} Status
 * @property {'connecting'|'live'|'reconnecting'|'stopped'} state  `stopped`: stop() was called
 * @property {string} text           what the status indicator shows
 * @property {string} transport      live transport (`websocket`, `sockjs-xhr-streaming`, ...) or ''
 * @property {number|null} retryInS  seconds until the next attempt while waiting, else null
 * @property {string} detail         why the last link ended, or ''
 */

export class Connection {
  /**
   * @param {{mode?: string, handlers: ConnectionHandlers, location?: Location}} options
   */
  constructor({ mode = 'auto', handlers, location = window.location }) {
    this.mode = TRANSPORT_MODES[mode] ? mode : 'auto';
    this.handlers = handlers;
    this.location = location;
    this.link = null;          // the current link object (see _openNative/_openSockJs)
    this.generation = 0;       // bumps on every attempt; stale callbacks compare against it
    this.everLive = false;
    this.failures = 0;
    this.liveSince = 0;
    this.wsStrikes = 0;        // attempts where native WebSocket failed but SockJS then worked
    this.wsBroken = false;     // two strikes in a row: skip native WebSocket from now on
    this.retryTimer = null;
    this.countdownTimer = null;
    this.retryAt = 0;
    this.pingTimer = null;
    this.pongTimer = null;
    this.pingSeq = 0;
    this.lastDetail = '';
    this.status = null;
    this.stopped = false;      // stop() was called: no more attempts until restart()
  }

  /** Starts connecting; call once. */
  start() {
    window.addEventListener('online', () => {
      if (this.retryTimer) this.retryNow();
    });
    // The browser says the network is gone: the link is most likely dead, though it may take the TCP
    // stack minutes to notice. Drop it now and reconnect when the network is back; the rooms then
    // recover what was said meanwhile, so nothing is lost by dropping a link that was in fact alive.
    window.addEventListener('offline', () => {
      const link = this.link;
      if (link && !link.closed && !link.ended) {
        this._linkEnded(this.generation, link, 1006, 'the network went offline', null);
        link.close(1000, 'network offline');
      }
    });
    this._attempt();
  }

  /** Whether a `welcome` arrived on the current link and it is still open. */
  get live() {
    return !!(this.link && this.link.welcomed && !this.link.closed);
  }

  /** Sends one protocol frame; false when not live (nothing is queued). */
  send(frame) {
    if (!this.live) return false;
    try {
      this.link.send(JSON.stringify(frame));
      return true;
    } catch (e) {
      return false;
    }
  }

  /** Skips the rest of the backoff wait. */
  retryNow() {
    if (this.live || (this.link && !this.link.closed)) return;
    this._clearRetry();
    this._attempt();
  }

  /**
   * Gives up for good (until restart()): ends the link, if any, and makes no more attempts. May be called
   * from onDisconnect. `detail` says why.
   */
  stop(detail) {
    this.stopped = true;
    this._clearRetry();
    const link = this.link;
    if (link && !link.closed && !link.ended) {
      link.closed = true;
      link.close(1000, 'stopped');
      this._linkEnded(this.generation, link, 1000, detail, null);
    }
    this._stopPings();
    this.lastDetail = detail;
    this._setStatus('stopped');
  }

  /** Ends the current link (as a disconnect the owner is told about) and connects again at once. */
  restart() {
    this.stopped = false;
    const link = this.link;
    if (link && !link.closed && !link.ended) {
      link.closed = true;
      link.close(1000, 'reconnecting');
      this._linkEnded(this.generation, link, 1000, 'reconnecting', null);
    }
    this._clearRetry();
    this.failures = 0;
    this._attempt();
  }

  /** Best effort goodbye when the page goes away. */
  close() {
    this.generation++;
    this._clearRetry();
    this._stopPings();
    if (this.link) this.link.close(1000, 'page closed');
  }

  // ---- attempts -----------------------------------------------------------------------------

  _attempt() {
    const gen = ++this.generation;
    this._setStatus(this.everLive || this.failures > 0 ? 'reconnecting' : 'connecting');
    const mode = TRANSPORT_MODES[this.mode];
    const hasWebSocket = typeof window.WebSocket === 'function';
    if (mode.kind === 'websocket') {
      this._openNative(gen, null);
    } else if (mode.kind === 'sockjs') {
      this._openSockJs(gen, mode.transports, false);
    } else if (hasWebSocket && !this.wsBroken) {
      // Auto: native first; on failure before `welcome`, SockJS over HTTP in the same attempt.
      const toSockJs = () => this._openSockJs(gen, HTTP_TRANSPORTS, true, true);
      this._openNative(gen, (link) => {
        if (link.opened || link.timedOut) {
          toSockJs(); // the server was reachable, WebSocket itself is the problem
          return;
        }
        // Refused before it opened: is the server down (then wait and retry, do not switch
        // transports), or does only WebSocket fail? Ask over plain HTTP, then give WebSocket one more
        // chance, since the server may have come up just now (after a restart, say).
        this._probe(gen, () => this._openNative(gen, toSockJs));
      });
    } else {
      this._openSockJs(gen, hasWebSocket ? HTTP_TRANSPORTS : undefined, true);
    }
  }

  /**
   * @param {number} gen
   * @param {null|((link: object) => void)} fallback  called instead of a reconnect when the link dies
   *        before welcome
   */
  _openNative(gen, fallback) {
    const scheme = this.location.protocol === 'https:' ? 'wss:' : 'ws:';
    const url = `${scheme}//${this.location.host}/ws`;
    const link = this._newLink('websocket', 'WebSocket');
    let ws;
    try {
      if (typeof window.WebSocket !== 'function') throw new Error('WebSocket is not available');
      ws = new window.WebSocket(url);
    } catch (e) {
      link.closed = true;
      this._linkEnded(gen, link, 1006, String(e && e.message || e), fallback);
      return;
    }
    link.send = (data) => ws.send(data);
    link.close = (code, reason) => {
      try { ws.close(code, reason); } catch (e) { ws.close(); }
    };
    ws.onopen = () => { link.opened = true; };
    ws.onmessage = (event) => this._received(gen, link, event.data);
    ws.onclose = (event) => {
      link.closed = true;
      this._linkEnded(gen, link, event.code, event.reason, fallback);
    };
    this._adopt(gen, link, fallback);
  }

  /**
   * @param {number} gen
   * @param {string[]|undefined} transports  SockJS whitelist (undefined = every transport)
   * @param {boolean} fallback                whether this is the automatic fallback (for the label)
   * @param {boolean} [afterNativeFailed]     native WebSocket just failed in this attempt
   */
  _openSockJs(gen, transports, fallback, afterNativeFailed = false) {
    if (gen !== this.generation) return;
    const link = this._newLink('sockjs', fallback ? 'SockJS fallback' : 'SockJS');
    link.afterNativeFailed = afterNativeFailed;
    if (typeof window.SockJS !== 'function') {
      link.closed = true;
      this._linkEnded(gen, link, 1006, 'SockJS library not loaded', null);
      return;
    }
    let sock;
    try {
      // sockjs-client gives a transport's first answer only ~3 round trips of /info (often well under a
      // second) before it gives up on it; behind a load balancer in front of a cluster the first answer can
      // take longer (the session is registered in the cluster first), so it gets at least 5 s.
      sock = new window.SockJS('/sockjs', null, transports ? { transports, timeout: 5000 } : { timeout: 5000 });
    } catch (e) {
      link.closed = true;
      this._linkEnded(gen, link, 1006, String(e && e.message || e), null);
      return;
    }
    link.send = (data) => sock.send(data);
    link.close = (code, reason) => {
      try { sock.close(code, reason); } catch (e) { /* already closing */ }
    };
    sock.onopen = () => { link.sockTransport = sock.transport; };
    sock.onmessage = (event) => this._received(gen, link, event.data);
    sock.onclose = (event) => {
      link.closed = true;
      // The server's own code travels in a `close` frame (SockJS always says 3000 "Go away!").
      const code = link.serverClose ? link.serverClose.code : event.code;
      const reason = link.serverClose ? link.serverClose.reason : event.reason;
      this._linkEnded(gen, link, code, reason, null);
    };
    this._adopt(gen, link, null);
  }

  _newLink(kind, label) {
    const link = {
      kind, label, welcomed: false, closed: false, ended: false, opened: false, timedOut: false,
      sockTransport: '', serverClose: null,
      send() { throw new Error('not open'); }, close() {}, welcomeTimer: null,
    };
    this.link = link;
    return link;
  }

  _adopt(gen, link, fallback) {
    link.welcomeTimer = setTimeout(() => {
      if (gen !== this.generation || link.welcomed || link.closed) return;
      // Hung before `welcome` (a proxy swallowing the upgrade, a stuck transport): give up on it.
      link.closed = true;
      link.timedOut = true;
      link.close(4000, 'no welcome');
      this._linkEnded(gen, link, 1006, 'no answer from server', fallback);
    }, WELCOME_TIMEOUT_MS);
  }

  _received(gen, link, data) {
    if (gen !== this.generation || link !== this.link || link.closed) return;
    let frame;
    try {
      frame = JSON.parse(data);
    } catch (e) {
      return;
    }
    if (!frame || typeof frame !== 'object') return;
    if (!link.welcomed) {
      if (frame.type !== 'welcome') return;
      link.welcomed = true;
      clearTimeout(link.welcomeTimer);
      // One strike could be a server that came up between the two tries; two in a row mean
      // something between us and the server breaks WebSocket (a proxy, a filter).
      if (link.afterNativeFailed) this.wsBroken = ++this.wsStrikes >= 2;
      else if (link.kind === 'websocket') this.wsStrikes = 0;
      this.everLive = true;
      this.liveSince = Date.now();
      this.lastDetail = '';
      if (link.kind === 'sockjs') this._startPings(gen);
      this._setStatus('live');
    } else if (frame.type === 'close' && link.kind === 'sockjs') {
      link.serverClose = { code: frame.code, reason: frame.reason || '' };
      return;
    } else if (frame.type === 'pong') {
      this._pongReceived();
    } else if (frame.type === 'error' && typeof frame.ref === 'string' && frame.ref.startsWith('ping-')) {
      this._pongReceived(); // rate limited ping: the link is alive all the same
      return;
    }
    this.handlers.onFrame(frame);
  }

  _linkEnded(gen, link, code, reason, fallback) {
    clearTimeout(link.welcomeTimer);
    if (link.ended || gen !== this.generation || link !== this.link) return;
    link.ended = true;
    this._stopPings();
    const wasLive = link.welcomed;
    if (!wasLive && fallback) {
      fallback(link);
      return;
    }
    this._failed(code, reason, wasLive);
  }

  /** The attempt (or the live link) is over: tell the owner and schedule the next attempt. */
  _failed(code, reason, wasLive) {
    if (wasLive && Date.now() - this.liveSince >= STABLE_AFTER_MS) this.failures = 0;
    if (wasLive) this.lastDetail = CLOSE_REASONS[code] || reason || 'connection lost';
    else this.lastDetail = code === 4002 ? CLOSE_REASONS[4002] : 'cannot reach server';
    if (this.handlers.onDisconnect) this.handlers.onDisconnect({ code, reason, wasLive });
    if (this.stopped) return;
    this._scheduleRetry(code === 4002 ? SERVER_FULL_MIN_DELAY_MS : 0);
  }

  /** Checks over plain HTTP that the server answers at all; `next()` if so, else a normal retry. */
  _probe(gen, next) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), PROBE_TIMEOUT_MS);
    fetch(`/sockjs/info?t=${Date.now()}`, { cache: 'no-store', signal: controller.signal })
      .then(() => true, () => false)
      .then((reachable) => {
        clearTimeout(timer);
        if (gen !== this.generation) return;
        if (reachable) next();
        else this._failed(1006, 'cannot reach server', false);
      });
  }

  _scheduleRetry(minDelay) {
    this._clearRetry();
    const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** this.failures);
    this.failures++;
    // "Equal jitter": half fixed, half random, so a restarted server is not hit by everyone at once.
    const delay = Math.max(minDelay, ceiling / 2 + Math.random() * (ceiling / 2));
    this.retryAt = Date.now() + delay;
    this.retryTimer = setTimeout(() => {
      this._clearRetry();
      this._attempt();
    }, delay);
    this.countdownTimer = setInterval(() => this._setStatus('reconnecting'), 250);
    this._setStatus('reconnecting');
  }

  _clearRetry() {
    clearTimeout(this.retryTimer);
    clearInterval(this.countdownTimer);
    this.retryTimer = null;
    this.countdownTimer = null;
  }

  // ---- SockJS keep-alive ----------------------------------------------------------------------

  _startPings(gen) {
    this._stopPings();
    this.pingTimer = setInterval(() => {
      if (gen !== this.generation || !this.live) return;
      this.send({ type: 'ping', ref: `ping-${++this.pingSeq}` });
      if (!this.pongTimer) {
        this.pongTimer = setTimeout(() => {
          if (gen !== this.generation || !this.link || this.link.closed) return;
          // No pong: the link is dead even if the browser has not noticed. Start over.
          const link = this.link;
          link.closed = true;
          link.close(4000, 'no pong');
          this._linkEnded(gen, link, 4000, 'no answer to ping', null);
        }, PONG_TIMEOUT_MS);
      }
    }, SOCKJS_PING_INTERVAL_MS);
  }

  _pongReceived() {
    clearTimeout(this.pongTimer);
    this.pongTimer = null;
  }

  _stopPings() {
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
    this.pingTimer = null;
    this.pongTimer = null;
  }

  // ---- status -------------------------------------------------------------------------------

  _setStatus(state) {
    const link = this.link;
    let text;
    let transport = '';
    let retryInS = null;
    if (state === 'live') {
      if (link.kind === 'websocket') {
        transport = 'websocket';
        text = 'live (WebSocket)';
      } else {
        transport = `sockjs-${link.sockTransport || 'unknown'}`;
        text = `live (${link.label}: ${link.sockTransport || 'unknown'})`;
      }
    } else if (state === 'reconnecting' && this.retryTimer) {
      retryInS = Math.max(1, Math.ceil((this.retryAt - Date.now()) / 1000));
      text = `reconnecting in ${retryInS} s`;
    } else if (state === 'reconnecting') {
      text = 'reconnecting…';
    } else if (state === 'stopped') {
      text = 'not connected';
    } else {
      text = 'connecting…';
    }
    const status = { state, text, transport, retryInS, detail: state === 'live' ? '' : this.lastDetail };
    const previous = this.status;
    if (previous && previous.text === status.text && previous.detail === status.detail) return;
    this.status = status;
    this.handlers.onStatus(status);
  }
}
