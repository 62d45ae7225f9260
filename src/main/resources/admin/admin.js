// Parley admin page: polls GET /admin/api/overview every second and charts the cluster; sends the
// operators' actions (disconnect a session, close a room, a notice). Plain ES module, no build step.
//
// Safety rule for this file: text from the server (node ids, room names, messages) only ever reaches the
// DOM through textContent and attribute setters, never through innerHTML.

/** sessionStorage key of the admin key: survives a reload of this tab, not the tab. */
const KEY_STORAGE = 'parley.adminKey';
const POLL_MS = 1_000;
/** The charts' rolling window, in seconds. */
const WINDOW_S = 120;
const ROOMS_SHOWN = 20;
/** How long a room's "Close" stays armed for its confirming second click. */
const ARM_MS = 5_000;
/** A node whose figures are older than this is shown as late (it publishes every second). */
const LATE_MS = 2_500;
const CHART_HEIGHT = 180;
const PALETTE = ['#6366f1', '#10b981', '#f59e0b', '#ef4444', '#06b6d4', '#a855f7', '#84cc16', '#ec4899'];

const $ = (id) => document.getElementById(id);
const ui = {
  body: document.body,
  status: $('status'),
  statusText: $('status-text'),
  signOut: $('sign-out'),
  signIn: $('sign-in'),
  keyInput: $('key-input'),
  signInButton: $('sign-in-button'),
  signInError: $('sign-in-error'),
  dashboard: $('dashboard'),
  pollError: $('poll-error'),
  totalNodes: $('total-nodes'),
  totalConnections: $('total-connections'),
  totalDeliveries: $('total-deliveries'),
  totalPublishes: $('total-publishes'),
  roundTrip: $('round-trip'),
  nodesBody: $('nodes-body'),
  roomsBody: $('rooms-body'),
  roomsEmpty: $('rooms-empty'),
  actionResult: $('action-result'),
  disconnectForm: $('disconnect-form'),
  disconnectSession: $('disconnect-session'),
  closeRoomForm: $('close-room-form'),
  closeRoomRoom: $('close-room-room'),
  closeRoomText: $('close-room-text'),
  noticeForm: $('notice-form'),
  noticeText: $('notice-text'),
  noticeRoom: $('notice-room'),
};

const CHARTS = [
  { key: 'connections', element: $('chart-connections'), pick: (v) => v.connections, floor: 1 },
  { key: 'deliveries', element: $('chart-deliveries'), pick: (v) => v.deliveryRate, floor: 1 },
  { key: 'publishes', element: $('chart-publishes'), pick: (v) => v.publishRate, floor: 1 },
];

const integer = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
const clock = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const timeOfDay = new Intl.DateTimeFormat(undefined, { hour: 'numeric', minute: '2-digit', second: '2-digit' });

const state = {
  key: null,
  /** bumps on every sign-in and sign-out: answers to an older one are ignored */
  generation: 0,
  timer: null,
  /** node id -> {ts, deliveries, publishes, deliveryRate, publishRate}: the figures rates are computed from */
  previous: new Map(),
  /** one per poll, oldest first: {t (s), values: Map(node id -> {connections, deliveryRate, publishRate})} */
  samples: [],
  /** node ids the charts have a series for, in order */
  seriesNodes: [],
  /** node id -> colour, stable while the page is open */
  colors: new Map(),
  /** chart key -> uPlot instance */
  plots: new Map(),
  /** a room whose "Close" was clicked once: {room, until} */
  armed: null,
  armTimer: null,
};

// ---- small helpers -----------------------------------------------------------------------------

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function formatRate(value) {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–';
  return value < 10 ? decimal.format(value) : integer.format(value);
}

function formatCount(value) {
  return Number.isFinite(value) ? integer.format(value) : '–';
}

/** Shows a figure, formatted; its raw value (empty when unknown) is in data-value. */
function setFigure(element, value, format) {
  element.textContent = format(value);
  element.dataset.value = value === null || value === undefined ? '' : String(value);
}

function cssVar(name, fallback) {
  const value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return value || fallback;
}

function colorOf(node) {
  if (!state.colors.has(node)) state.colors.set(node, PALETTE[state.colors.size % PALETTE.length]);
  return state.colors.get(node);
}

function loadKey() {
  try {
    return window.sessionStorage.getItem(KEY_STORAGE) || null;
  } catch (e) {
    return null;
  }
}

function saveKey(key) {
  try {
    if (key) window.sessionStorage.setItem(KEY_STORAGE, key);
    else window.sessionStorage.removeItem(KEY_STORAGE);
  } catch (e) {
    // storage disabled: the key lasts until the page is reloaded
  }
}

function setStatus(kind, text) {
  ui.status.dataset.state = kind;
  ui.statusText.textContent = text;
}

function showError(element, text) {
  element.hidden = !text;
  element.textContent = text;
}

// ---- the API -----------------------------------------------------------------------------------

/** Calls the admin API with the key; resolves to {status, body} (body: parsed JSON or null); throws when unreachable. */
async function api(path, { method = 'GET', body, key = state.key } = {}) {
  const headers = { Authorization: `Bearer ${key}`, Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: 'no-store',
    signal: AbortSignal.timeout(5_000),
  });
  let parsed = null;
  try {
    parsed = await response.json();
  } catch (e) {
    parsed = null;
  }
  return { status: response.status, body: parsed };
}

function messageOf(answer) {
  const b = answer.body;
  if (b && typeof b.message === 'string' && b.message) return b.message;
  if (b && typeof b.error === 'string') return b.error;
  return `HTTP ${answer.status}`;
}

function unreachable(e) {
  return e && e.name === 'TimeoutError' ? 'no answer from the management listener'
    : 'cannot reach the management listener';
}

// ---- signing in and out --------------------------------------------------------------------------

ui.signIn.addEventListener('submit', async (event) => {
  event.preventDefault();
  const key = ui.keyInput.value.trim();
  if (!key) {
    showError(ui.signInError, 'Enter an admin key.');
    ui.keyInput.focus();
    return;
  }
  showError(ui.signInError, '');
  ui.signInButton.disabled = true;
  const generation = ++state.generation;
  try {
    const answer = await api('/admin/api/overview', { key });
    if (generation !== state.generation) return;
    if (answer.status === 200) {
      ui.keyInput.value = '';
      startDashboard(key, answer.body);
    } else {
      showError(ui.signInError, answer.status === 401 || answer.status === 403
        ? `Refused: ${messageOf(answer)}.` : `Sign-in failed: ${messageOf(answer)}.`);
      ui.keyInput.select();
    }
  } catch (e) {
    if (generation === state.generation) showError(ui.signInError, `Sign-in failed: ${unreachable(e)}.`);
  } finally {
    ui.signInButton.disabled = false;
  }
});

ui.signOut.addEventListener('click', () => signOut(''));

/** Forgets the key and goes back to the sign-in form, saying why (or not). */
function signOut(why) {
  state.generation++;
  state.key = null;
  saveKey(null);
  clearTimeout(state.timer);
  state.timer = null;
  resetDashboard();
  ui.body.dataset.state = 'signed-out';
  ui.dashboard.hidden = true;
  ui.signIn.hidden = false;
  ui.signOut.hidden = true;
  setStatus('idle', 'signed out');
  showError(ui.signInError, why);
  ui.keyInput.focus();
}

function startDashboard(key, first) {
  state.key = key;
  saveKey(key);
  ui.body.dataset.state = 'signed-in';
  ui.signIn.hidden = true;
  ui.signOut.hidden = false;
  ui.dashboard.hidden = false;
  showError(ui.signInError, '');
  setStatus('connecting', 'loading…');
  const generation = state.generation;
  if (first) {
    render(first);
    state.timer = setTimeout(() => poll(generation), POLL_MS);
  } else {
    poll(generation);
  }
}

function resetDashboard() {
  for (const plot of state.plots.values()) plot.destroy();
  state.plots.clear();
  for (const chart of CHARTS) {
    delete chart.element.dataset.points;
    delete chart.element.dataset.latest;
  }
  state.seriesNodes = [];
  state.samples = [];
  state.previous.clear();
  disarm();
  ui.nodesBody.textContent = '';
  ui.roomsBody.textContent = '';
  for (const figure of [ui.totalNodes, ui.totalConnections, ui.totalDeliveries, ui.totalPublishes, ui.roundTrip]) {
    setFigure(figure, null, () => '–');
  }
  showError(ui.pollError, '');
  showError(ui.actionResult, '');
}

// ---- polling -----------------------------------------------------------------------------------

async function poll(generation) {
  const started = Date.now();
  try {
    const answer = await api('/admin/api/overview');
    if (generation !== state.generation) return;
    if (answer.status === 401 || answer.status === 403) {
      signOut(`The admin key was refused (${messageOf(answer)}): sign in again.`);
      return;
    }
    if (answer.status !== 200 || !answer.body || !Array.isArray(answer.body.nodes)) {
      throw new Error(`the overview failed: ${messageOf(answer)}`);
    }
    render(answer.body);
  } catch (e) {
    if (generation !== state.generation) return;
    const why = e instanceof Error && e.message.startsWith('the overview') ? e.message : unreachable(e);
    showError(ui.pollError, `No fresh figures: ${why}. Retrying every second; what is shown may be out of date.`);
    setStatus('error', 'unreachable');
    ui.dashboard.classList.add('stale');
  }
  if (generation !== state.generation) return;
  state.timer = setTimeout(() => poll(generation), Math.max(0, POLL_MS - (Date.now() - started)));
}

/** Rates from the cumulative counters: per second since the node's previous figures (held while they do not change). */
function ratesOf(node) {
  const previous = state.previous.get(node.node);
  const ts = Number(node.ts);
  const deliveries = Number(node.deliveries);
  const publishes = Number(node.publishes);
  if (previous && ts <= previous.ts) return previous;
  let deliveryRate = null;
  let publishRate = null;
  if (previous) {
    const seconds = (ts - previous.ts) / 1000;
    // a counter that went back means the node restarted: no rate until its next figures
    deliveryRate = deliveries >= previous.deliveries ? (deliveries - previous.deliveries) / seconds : null;
    publishRate = publishes >= previous.publishes ? (publishes - previous.publishes) / seconds : null;
  }
  const next = { ts, deliveries, publishes, deliveryRate, publishRate };
  state.previous.set(node.node, next);
  return next;
}

function render(overview) {
  ui.dashboard.classList.remove('stale');
  showError(ui.pollError, '');
  const now = Number(overview.ts) || Date.now();
  const nodes = overview.nodes.filter((n) => n && typeof n.node === 'string');
  for (const id of state.previous.keys()) {
    if (!nodes.some((n) => n.node === id)) state.previous.delete(id);
  }
  const rows = nodes.map((n) => {
    const rates = ratesOf(n);
    return {
      node: n.node,
      ts: Number(n.ts),
      ready: n.ready === true,
      broker: typeof n.broker === 'string' ? n.broker : '?',
      connections: Number(n.connections) || 0,
      deliveryRate: rates.deliveryRate,
      publishRate: rates.publishRate,
      rooms: Array.isArray(n.rooms) ? n.rooms : [],
    };
  });

  const sum = (pick) => rows.reduce((total, r) => (pick(r) === null ? total : (total ?? 0) + pick(r)), null);
  setFigure(ui.totalNodes, rows.length, formatCount);
  setFigure(ui.totalConnections, sum((r) => r.connections), formatCount);
  setFigure(ui.totalDeliveries, sum((r) => r.deliveryRate), formatRate);
  setFigure(ui.totalPublishes, sum((r) => r.publishRate), formatRate);
  setFigure(ui.roundTrip, Number.isFinite(overview.brokerRoundTripMs) ? overview.brokerRoundTripMs : null,
    (ms) => (ms === null ? '–' : `${decimal.format(ms)} ms`));

  const self = typeof overview.node === 'string' ? overview.node : '';
  setStatus(rows.every((r) => r.ready && r.broker === 'up') ? 'live' : 'warn',
    `live · node ${self} · ${clock.format(new Date(now))}`);

  renderNodes(rows, self, now);
  renderRooms(rows);
  addSample(now / 1000, rows);
  renderCharts();
}

function renderNodes(rows, self, now) {
  ui.nodesBody.textContent = '';
  for (const r of rows) {
    const tr = el('tr');
    tr.dataset.node = r.node;
    const name = el('td', 'node-id');
    const swatch = el('span', 'swatch');
    swatch.setAttribute('aria-hidden', 'true');
    swatch.style.background = colorOf(r.node); // CSSOM, allowed under style-src 'self'
    name.append(swatch, document.createTextNode(r.node));
    if (r.node === self) name.append(el('span', 'tag', 'this node'));
    const ready = el('td', r.ready ? 'ok' : 'bad', r.ready ? 'ready' : 'not ready');
    ready.dataset.testid = 'node-ready';
    const broker = el('td', r.broker === 'up' ? 'ok' : 'bad', r.broker);
    broker.dataset.testid = 'node-broker';
    const connections = el('td', 'num', formatCount(r.connections));
    connections.dataset.testid = 'node-connections';
    const deliveries = el('td', 'num', formatRate(r.deliveryRate));
    deliveries.dataset.testid = 'node-deliveries';
    const publishes = el('td', 'num', formatRate(r.publishRate));
    publishes.dataset.testid = 'node-publishes';
    const age = Math.max(0, now - r.ts);
    const heard = el('td', `num${age > LATE_MS ? ' bad' : ''}`, `${decimal.format(age / 1000)} s ago`);
    heard.title = clock.format(new Date(r.ts));
    tr.append(name, ready, broker, connections, deliveries, publishes, heard);
    ui.nodesBody.append(tr);
  }
}

/** The busiest rooms over all nodes (each node reports its own top 10; members are summed). */
function renderRooms(rows) {
  const merged = new Map();
  for (const r of rows) {
    for (const entry of r.rooms) {
      if (!entry || typeof entry.room !== 'string') continue;
      const m = merged.get(entry.room) || { room: entry.room, members: 0, nodes: 0 };
      m.members += Number(entry.members) || 0;
      m.nodes += 1;
      merged.set(entry.room, m);
    }
  }
  const rooms = [...merged.values()]
    .sort((a, b) => b.members - a.members || a.room.localeCompare(b.room))
    .slice(0, ROOMS_SHOWN);
  // rebuilt every second: keep the keyboard focus on the room's button across it
  const focused = ui.roomsBody.contains(document.activeElement) ? document.activeElement.dataset.room : null;
  if (state.armed && Date.now() > state.armed.until) disarm();
  ui.roomsBody.textContent = '';
  for (const m of rooms) {
    const tr = el('tr');
    tr.dataset.room = m.room;
    tr.append(el('td', 'room-name', m.room), el('td', 'num', formatCount(m.members)), el('td', 'num', String(m.nodes)));
    const cell = el('td', 'row-action');
    const armed = state.armed && state.armed.room === m.room;
    const button = el('button', armed ? 'danger small' : 'secondary small', armed ? 'Confirm close' : 'Close…');
    button.type = 'button';
    button.dataset.room = m.room;
    button.dataset.testid = `close-${m.room}`;
    button.setAttribute('aria-label', armed ? `Confirm: close room ${m.room}` : `Close room ${m.room}`);
    button.addEventListener('click', () => closeFromTable(m.room));
    cell.append(button);
    tr.append(cell);
    ui.roomsBody.append(tr);
    if (focused === m.room) button.focus();
  }
  ui.roomsEmpty.hidden = rooms.length > 0;
}

function closeFromTable(room) {
  if (state.armed && state.armed.room === room && Date.now() <= state.armed.until) {
    disarm();
    act('close-room', { room }, `Room ${room} closed: its members got a notice and left it.`);
    rerenderArmed();
    return;
  }
  disarm();
  state.armed = { room, until: Date.now() + ARM_MS };
  state.armTimer = setTimeout(() => {
    disarm();
    rerenderArmed();
  }, ARM_MS);
  rerenderArmed();
}

function disarm() {
  clearTimeout(state.armTimer);
  state.armTimer = null;
  state.armed = null;
}

/** Updates the rooms' buttons at once (not waiting for the next poll). */
function rerenderArmed() {
  for (const button of ui.roomsBody.querySelectorAll('button[data-room]')) {
    const armed = !!state.armed && state.armed.room === button.dataset.room;
    button.className = armed ? 'danger small' : 'secondary small';
    button.textContent = armed ? 'Confirm close' : 'Close…';
    button.setAttribute('aria-label', armed ? `Confirm: close room ${button.dataset.room}` : `Close room ${button.dataset.room}`);
  }
}

// ---- charts ------------------------------------------------------------------------------------

function addSample(t, rows) {
  const values = new Map(rows.map((r) => [r.node, {
    connections: r.connections, deliveryRate: r.deliveryRate, publishRate: r.publishRate,
  }]));
  const last = state.samples[state.samples.length - 1];
  if (last && t <= last.t) state.samples.pop(); // same instant (or a clock step back): the newer figures win
  state.samples.push({ t, values });
  while (state.samples.length && state.samples[0].t < t - WINDOW_S) state.samples.shift();
}

function renderCharts() {
  if (typeof window.uPlot !== 'function') {
    showError(ui.pollError, 'The charts library (uPlot) did not load.');
    return;
  }
  const nodes = [...new Set(state.samples.flatMap((s) => [...s.values.keys()]))].sort();
  if (nodes.join('\n') !== state.seriesNodes.join('\n')) {
    // a node came or went out of the window: new series, so new plots
    for (const plot of state.plots.values()) plot.destroy();
    state.plots.clear();
    state.seriesNodes = nodes;
  }
  const xs = state.samples.map((s) => s.t);
  for (const chart of CHARTS) {
    const data = [xs, ...nodes.map((id) => state.samples.map((s) => {
      const v = s.values.get(id);
      const y = v ? chart.pick(v) : null;
      return Number.isFinite(y) ? y : null;
    }))];
    let plot = state.plots.get(chart.key);
    if (!plot) {
      plot = new window.uPlot(chartOptions(chart, nodes), data, chart.element);
      state.plots.set(chart.key, plot);
    } else {
      plot.setData(data);
    }
    // for tests and the curious: how many points, and the latest value per node
    chart.element.dataset.points = String(xs.length);
    chart.element.dataset.latest = JSON.stringify(Object.fromEntries(nodes.map((id, i) => [id, data[i + 1][xs.length - 1]])));
  }
}

function chartOptions(chart, nodes) {
  const axis = {
    stroke: cssVar('--muted', '#5d6479'),
    grid: { stroke: cssVar('--border', '#dfe3ee'), width: 1 },
    ticks: { stroke: cssVar('--border', '#dfe3ee'), width: 1 },
  };
  return {
    width: plotWidth(chart.element),
    height: CHART_HEIGHT,
    scales: {
      x: { time: true, range: (u, min, max) => [max - WINDOW_S, max] },
      y: { range: (u, min, max) => [0, Math.max(chart.floor, (max || 0) * 1.15)] },
    },
    series: [
      { value: (u, v) => (v === null ? '–' : clock.format(new Date(v * 1000))) },
      ...nodes.map((id) => ({
        label: id,
        stroke: colorOf(id),
        width: 2,
        points: { show: false },
        value: (u, v) => (chart.key === 'connections' ? formatCount(v) : formatRate(v)),
      })),
    ],
    axes: [
      { ...axis, space: 70, values: (u, ticks) => ticks.map((t) => timeOfDay.format(new Date(t * 1000))) },
      { ...axis, size: 56, values: (u, ticks) => ticks.map((v) => (chart.key === 'connections' ? formatCount(v) : formatRate(v))) },
    ],
    cursor: { drag: { x: false, y: false } },
    legend: { live: true },
  };
}

function plotWidth(element) {
  return Math.max(240, Math.floor(element.clientWidth || element.parentElement.clientWidth || 320));
}

const resizer = new ResizeObserver(() => {
  for (const chart of CHARTS) {
    const plot = state.plots.get(chart.key);
    if (plot) plot.setSize({ width: plotWidth(chart.element), height: CHART_HEIGHT });
  }
});
for (const chart of CHARTS) resizer.observe(chart.element);

// ---- actions -----------------------------------------------------------------------------------

/** Sends an action; shows what came of it. Resolves to whether it was accepted. */
async function act(action, body, done, button) {
  if (button) button.disabled = true;
  const generation = state.generation;
  try {
    const answer = await api(`/admin/api/${action}`, { method: 'POST', body });
    if (generation !== state.generation) return false;
    if (answer.status === 401 || answer.status === 403) {
      signOut(`The admin key was refused (${messageOf(answer)}): sign in again.`);
      return false;
    }
    if (answer.status === 202) {
      showResult(done, 'ok');
      return true;
    }
    showResult(answer.status === 400 ? `Not sent: ${messageOf(answer)}.` : `Failed: ${messageOf(answer)}.`, 'error');
  } catch (e) {
    if (generation === state.generation) showResult(`Failed: ${unreachable(e)}.`, 'error');
  } finally {
    if (button) button.disabled = false;
  }
  return false;
}

function showResult(text, kind) {
  ui.actionResult.hidden = false;
  ui.actionResult.dataset.kind = kind;
  ui.actionResult.textContent = `${clock.format(new Date())} · ${text}`;
}

function required(input, what) {
  const value = input.value.trim();
  if (!value) {
    showResult(`${what} is required.`, 'error');
    input.focus();
  }
  return value;
}

ui.disconnectForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const session = required(ui.disconnectSession, 'A session id');
  if (!session) return;
  const ok = await act('disconnect', { session },
    `Session ${session} disconnected (closed with code 4003 on the node that holds it, if it is still connected).`,
    event.submitter);
  if (ok) ui.disconnectSession.value = '';
});

ui.closeRoomForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const room = required(ui.closeRoomRoom, 'A room');
  if (!room) return;
  const text = ui.closeRoomText.value.trim();
  const ok = await act('close-room', text ? { room, text } : { room },
    `Room ${room} closed: its members got a notice and left it.`, event.submitter);
  if (ok) {
    ui.closeRoomRoom.value = '';
    ui.closeRoomText.value = '';
  }
});

ui.noticeForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const text = required(ui.noticeText, 'The text');
  if (!text) return;
  const room = ui.noticeRoom.value.trim();
  const ok = await act('notice', room ? { text, room } : { text },
    room ? `Notice sent to the members of ${room}.` : 'Notice sent to every connection.', event.submitter);
  if (ok) ui.noticeText.value = '';
});

// ---- start -------------------------------------------------------------------------------------

const stored = loadKey();
if (stored) {
  state.generation++;
  startDashboard(stored, null);
} else {
  signOut('');
}
