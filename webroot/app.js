// Parley chat page. Plain ES module, no build step.
//
// Safety rule for this file: text from the network (names, messages, room ids) only ever reaches the
// DOM through textContent / createTextNode / attribute setters, never through innerHTML.
//
// Sign-in: a page opened as `/#token=<jwt>` keeps the token in sessionStorage (off the address bar) and
// sends it first on every link; verified members (a token's user) carry a ✓ badge.

import { Connection, transportModeFrom } from './connection.js';
import { describeError, nameProblem, roomProblem } from './rules.js';

const STORAGE = {
  name: 'parley.name',
  room: 'parley.room',
  rooms: 'parley.rooms',
  active: 'parley.active',
  /** in sessionStorage: survives a reload of this tab, not the tab */
  token: 'parley.token',
};
/** How long a member who vanished while we were offline may take to come back quietly. */
const RETURN_GRACE_MS = 30_000;
/**
 * A `left` is shown after this delay, and not at all when that member comes back meanwhile (a page
 * reload) or when our own link drops meanwhile (a server shutting down closes everyone, one by one:
 * the first ones closed look as if they left).
 */
const LEAVE_GRACE_MS = 1_500;
/** Messages a room shows from before we joined it (and what we ask for when recovery is impossible). */
const HISTORY_ON_JOIN = 50;
/** Message ids remembered per room, so a replay never shows a message twice. */
const SEEN_LIMIT = 1000;
/** Messages from one sender closer than this are grouped under one header. */
const GROUP_WINDOW_MS = 5 * 60_000;
/** Distance from the bottom (px) that still counts as "reading the latest". */
const BOTTOM_SLACK_PX = 48;
const AVATAR_HUES = 8;
/** What to do on a server that admits signed-in users only. */
const TOKEN_ONLY = 'This server only admits signed-in users: open the page with a sign-in link (one that ends in #token=…).';

const $ = (id) => document.getElementById(id);
const ui = {
  body: document.body,
  layout: $('layout'),
  status: $('status'),
  statusText: $('status-text'),
  retryNow: $('retry-now'),
  announcer: $('announcer'),
  joinForm: $('join-form'),
  nameInput: $('name-input'),
  roomInput: $('room-input'),
  joinError: $('join-error'),
  identity: $('identity'),
  authError: $('auth-error'),
  addRoom: $('add-room'),
  roomList: $('room-list'),
  roomsEmpty: $('rooms-empty'),
  roomTitle: $('room-title'),
  membersToggle: $('members-toggle'),
  membersCount: $('members-count'),
  leaveButton: $('leave-button'),
  emptyState: $('empty-state'),
  shareExample: $('share-example'),
  logs: $('logs'),
  jumpLatest: $('jump-latest'),
  composer: $('composer'),
  messageLabel: $('message-label'),
  messageInput: $('message-input'),
  sendButton: $('send-button'),
  charCounter: $('char-counter'),
  composerError: $('composer-error'),
  presence: $('presence'),
  presenceCount: $('presence-count'),
  presenceClose: $('presence-close'),
  memberList: $('member-list'),
  operatorBanner: $('operator-banner'),
  operatorBannerText: $('operator-banner-text'),
  operatorBannerClose: $('operator-banner-close'),
};

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'medium' });
const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: 'long', month: 'long', day: 'numeric' });
const narrowScreen = window.matchMedia('(max-width: 760px)');

const state = {
  session: null,
  mySessions: new Set(),
  /** the sign-in token (from `#token=`), or null: anonymous */
  token: null,
  /** what `welcome` said: 'anonymous', 'mixed' (tokens optional) or 'token' (required) */
  authMode: 'anonymous',
  /** the verified user ({user, name, expiresAt}) once `authed` came, else null */
  identity: null,
  /** this link's `auth` is unanswered: joins wait for it */
  authPending: false,
  /** the stored rooms wait for `authed`: the page had no name to join them with */
  restoreOnAuth: false,
  limits: { maxTextLength: 4000, maxRoomsPerConnection: 32 },
  /** @type {Map<string, Room>} in tab order */
  rooms: new Map(),
  active: null,
  refSeq: 0,
  /** ref -> what it answers: {kind: 'join'|'publish'|'leave'|'auth', room?, entry?, token?, refresh?} */
  refs: new Map(),
  hiddenUnread: 0,
  lastState: '',
};

// ---- storage ---------------------------------------------------------------------------------

function load(key, fallback) {
  try {
    const raw = window.localStorage.getItem(key);
    return raw === null ? fallback : JSON.parse(raw);
  } catch (e) {
    return fallback;
  }
}

function save(key, value) {
  try {
    window.localStorage.setItem(key, JSON.stringify(value));
  } catch (e) {
    // Storage full or disabled: the page still works, it just forgets.
  }
}

function loadToken() {
  try {
    return window.sessionStorage.getItem(STORAGE.token) || null;
  } catch (e) {
    return null;
  }
}

function saveToken(token) {
  try {
    if (token) window.sessionStorage.setItem(STORAGE.token, token);
    else window.sessionStorage.removeItem(STORAGE.token);
  } catch (e) {
    // Storage disabled: the token lasts until the page is reloaded.
  }
}

function saveRooms() {
  save(STORAGE.rooms, [...state.rooms.values()].map((r) => ({ room: r.id, name: r.name })));
  save(STORAGE.active, state.active);
}

function roomFromHash() {
  const params = new URLSearchParams(window.location.hash.replace(/^#/, ''));
  const room = params.get('room');
  return room && !roomProblem(room) ? room : null;
}

/**
 * Takes a sign-in token from the address (`#token=<jwt>`: a fragment is never sent to the server, so the
 * token stays out of its logs) and removes it from the address bar, keeping the rest (?query, #room=).
 */
function takeTokenFromHash() {
  const params = new URLSearchParams(window.location.hash.replace(/^#/, ''));
  if (!params.has('token')) return null;
  const token = params.get('token').trim();
  params.delete('token');
  const rest = params.toString();
  window.history.replaceState(null, '', window.location.pathname + window.location.search + (rest ? `#${rest}` : ''));
  return token || null;
}

/** The token's `sub`, read without any check (the server verifies tokens): tells a refresh from another user. */
function tokenSubject(token) {
  try {
    const payload = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const bytes = Uint8Array.from(window.atob(payload), (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes));
    return typeof claims.sub === 'string' ? claims.sub : null;
  } catch (e) {
    return null;
  }
}

// ---- small DOM helpers -----------------------------------------------------------------------

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function timeElement(ts) {
  const date = new Date(ts);
  const time = el('time', 'time', timeFormat.format(date));
  time.dateTime = date.toISOString();
  time.title = fullFormat.format(date);
  return time;
}

function hueClass(name) {
  let hash = 0;
  for (const ch of name) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  return `hue-${hash % AVATAR_HUES}`;
}

function initial(name) {
  const first = [...name.trim()][0];
  return first ? first.toUpperCase() : '?';
}

const URL_PATTERN = /\bhttps?:\/\/[^\s<>"'`]+/gi;

/** Appends text as text nodes, with http(s) URLs as links (built with DOM APIs, never as HTML). */
function appendRichText(parent, text) {
  let last = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    const url = match[0].replace(/[.,;:!?)\]}]+$/, '');
    let href = null;
    try {
      const parsed = new URL(url);
      if (parsed.protocol === 'http:' || parsed.protocol === 'https:') href = parsed.href;
    } catch (e) {
      href = null;
    }
    if (!href) continue;
    parent.append(document.createTextNode(text.slice(last, match.index)));
    const link = el('a', 'msg-link', url);
    link.href = href;
    link.target = '_blank';
    link.rel = 'noopener noreferrer nofollow';
    parent.append(link);
    last = match.index + url.length;
  }
  parent.append(document.createTextNode(text.slice(last)));
}

/** The mark of a verified member (a token's user): ✓, named for screen readers and on hover. */
function verifiedBadge(user) {
  const badge = el('span', 'verified-badge', '✓');
  badge.setAttribute('role', 'img');
  badge.setAttribute('aria-label', `verified user ${user}`);
  badge.title = `verified user ${user}`;
  badge.dataset.user = user;
  return badge;
}

function announce(text) {
  ui.announcer.textContent = text;
}

// ---- rooms -----------------------------------------------------------------------------------

/**
 * @typedef {object} Room
 * @property {string} id
 * @property {string} name            our name in this room
 * @property {'joining'|'joined'|'offline'|'error'} status
 * @property {boolean} everJoined     a `presence` arrived at least once (so a join is a re-join)
 * @property {boolean} rejoining      a re-join is in flight: our own `joined` is not news
 * @property {Map<string,Member>} members  memberKey -> member, in join order
 * @property {string[]} namesBeforeDrop     other members' names when our link dropped
 * @property {Map<string,number>} expectedBack  name -> deadline for a quiet return
 * @property {Map<string,number>} pendingLeaves  name -> timer of a `left` notice not shown yet
 * @property {number} unread
 * @property {boolean} stick          reader is at the bottom: follow new messages
 * @property {number} scrollTop
 * @property {number} unseenBelow     messages that arrived while scrolled up
 * @property {Array<{text: string, item: HTMLElement, ref: string|null, cid: string}>} pending  own, unconfirmed
 *           (ref null: not sent yet, waiting for the connection; sent again with the same cid after a cut)
 * @property {{epoch: string, offset: number}|null} position  the last message we have, to recover from
 * @property {Map<string, true>} seen   ids of messages shown (bounded), so replays do not double them
 * @property {boolean} replaying      our own `joined` came; replayed messages follow until `presence`
 * @property {number} replayed        messages replayed since our own `joined`
 * @property {{key: string, name: string, ts: number}|null} lastSender  for grouping
 * @property {string} lastDay
 *
 * @typedef {object} Member
 * @property {string} name
 * @property {string|null} user  the token's user for a verified member (listed once, whatever its connections)
 */

function createRoom(id, name) {
  const log = el('div', 'log');
  log.id = `log-${id}`;
  log.setAttribute('role', 'log');
  log.setAttribute('aria-live', 'polite');
  log.setAttribute('aria-label', `Messages in #${id}`);
  log.tabIndex = 0;
  log.dataset.testid = `messages-${id}`;
  log.dataset.room = id;
  log.hidden = true;

  const tabItem = el('li', 'room-item');
  const tab = el('button', 'room-tab');
  tab.type = 'button';
  tab.dataset.testid = `room-tab-${id}`;
  tab.dataset.room = id;
  tab.setAttribute('aria-controls', log.id);
  const hash = el('span', 'room-hash', '#');
  hash.setAttribute('aria-hidden', 'true');
  const label = el('span', 'room-name', id);
  const badge = el('span', 'badge', '0');
  badge.dataset.testid = `unread-${id}`;
  badge.hidden = true;
  tab.append(hash, label, badge);
  const close = el('button', 'room-close', '×');
  close.type = 'button';
  close.dataset.testid = `room-leave-${id}`;
  close.setAttribute('aria-label', `Leave #${id}`);
  close.title = `Leave #${id}`;
  tabItem.append(tab, close);

  /** @type {Room} */
  const room = {
    id, name, status: 'joining', everJoined: false, rejoining: false,
    members: new Map(), namesBeforeDrop: [], expectedBack: new Map(), pendingLeaves: new Map(),
    unread: 0, stick: true, scrollTop: 0, unseenBelow: 0, pending: [],
    position: null, seen: new Map(), replaying: false, replayed: 0,
    lastSender: null, lastDay: '',
    log, tabItem, tab, badge,
  };

  tab.addEventListener('click', () => activate(id, { focusComposer: true }));
  close.addEventListener('click', () => leaveRoom(id));
  log.addEventListener('scroll', () => {
    if (state.active !== id) return;
    room.stick = nearBottom(log);
    room.scrollTop = log.scrollTop;
    if (room.stick) {
      room.unseenBelow = 0;
      updateJumpButton();
    }
  });

  ui.logs.append(log);
  ui.roomList.append(tabItem);
  return room;
}

function updateTab(room) {
  const active = state.active === room.id;
  room.tab.dataset.status = room.status;
  room.tabItem.dataset.status = room.status;
  room.tabItem.classList.toggle('active', active);
  if (active) room.tab.setAttribute('aria-current', 'page');
  else room.tab.removeAttribute('aria-current');
  room.badge.hidden = room.unread === 0;
  room.badge.textContent = room.unread > 99 ? '99+' : String(room.unread);
  let label = `#${room.id}`;
  if (room.unread) label += `, ${room.unread} unread`;
  if (room.status === 'joining') label += ', joining';
  if (room.status === 'offline') label += ', offline';
  room.tab.setAttribute('aria-label', label);
  room.tab.title = room.status === 'joined' ? `#${room.id} as ${room.name}` : `#${room.id} (${room.status})`;
}

function updateRoomChrome() {
  const room = state.active ? state.rooms.get(state.active) : null;
  const hasRooms = state.rooms.size > 0;
  ui.roomsEmpty.hidden = hasRooms;
  ui.emptyState.hidden = !!room;
  ui.composer.hidden = !room;
  ui.presence.hidden = !room;
  ui.membersToggle.hidden = !room;
  ui.leaveButton.hidden = !room;
  ui.logs.hidden = !room;
  if (!room) {
    ui.roomTitle.textContent = 'Welcome to Parley';
    ui.jumpLatest.hidden = true;
  } else {
    ui.roomTitle.textContent = '';
    const hash = el('span', 'room-hash', '#');
    hash.setAttribute('aria-hidden', 'true');
    ui.roomTitle.append(hash, document.createTextNode(room.id));
    if (room.status !== 'joined') {
      ui.roomTitle.append(el('span', 'room-state', room.status === 'joining' ? 'joining…' : room.status));
    }
    ui.messageLabel.textContent = `Message #${room.id}`;
    ui.messageInput.placeholder = `Message #${room.id} as ${room.name}`;
  }
  updateSendButton();
  updateTitle();
}

function updateTitle() {
  let unread = state.hiddenUnread;
  for (const room of state.rooms.values()) unread += room.unread;
  const where = state.active ? `#${state.active} · Parley` : 'Parley';
  document.title = unread ? `(${unread}) ${where}` : where;
}

function activate(id, { focusComposer = false } = {}) {
  const next = state.rooms.get(id);
  if (!next) return;
  const previous = state.active ? state.rooms.get(state.active) : null;
  // the active room changes first: updateTab reads it, so the previous tab loses its highlight
  state.active = id;
  if (previous && previous !== next) {
    previous.scrollTop = previous.log.scrollTop;
    previous.stick = nearBottom(previous.log);
    previous.log.hidden = true;
    updateTab(previous);
  }
  next.log.hidden = false;
  next.unread = 0;
  if (next.stick) scrollToBottom(next);
  else next.log.scrollTop = next.scrollTop;
  updateTab(next);
  updateRoomChrome();
  renderPresence();
  updateJumpButton();
  if (window.location.hash !== `#room=${id}`) {
    window.history.replaceState(null, '', `#room=${id}`);
  }
  ui.shareExample.textContent = `#room=${id}`;
  save(STORAGE.active, id);
  if (focusComposer && !narrowScreen.matches) ui.messageInput.focus();
}

/** Joins (or switches to) a room. Returns an error sentence, or '' on success. */
function joinRoom(id, name, { activateIt = true } = {}) {
  const roomError = roomProblem(id);
  if (roomError) return roomError;
  const nameError = state.identity ? '' : nameProblem(name); // a verified name is the token's
  if (nameError) return nameError;
  const existing = state.rooms.get(id);
  if (existing) {
    if (activateIt) activate(id, { focusComposer: true });
    return '';
  }
  if (state.rooms.size >= state.limits.maxRoomsPerConnection) {
    return describeError({ code: 'too_many_rooms' }, state.limits);
  }
  const room = createRoom(id, name);
  state.rooms.set(id, room);
  if (linkReady()) sendJoin(room);
  else room.status = connection.everLive && !connection.live ? 'offline' : 'joining'; // joins once ready
  updateTab(room);
  if (activateIt || !state.active) activate(id, { focusComposer: true });
  else updateRoomChrome();
  saveRooms();
  return '';
}

function sendJoin(room) {
  const ref = nextRef();
  state.refs.set(ref, { kind: 'join', room: room.id });
  room.status = 'joining';
  const frame = { type: 'join', room: room.id, name: room.name, history: HISTORY_ON_JOIN, ref };
  // after a cut: everything after the last message we have (the history is the fallback)
  if (room.position) frame.since = room.position;
  connection.send(frame);
  updateTab(room);
}

function leaveRoom(id) {
  const room = state.rooms.get(id);
  if (!room) return;
  if (linkReady() && room.status !== 'error') {
    const ref = nextRef();
    state.refs.set(ref, { kind: 'leave', room: id });
    connection.send({ type: 'leave', room: id, ref });
  }
  removeRoom(room);
}

function removeRoom(room) {
  const ids = [...state.rooms.keys()];
  const index = ids.indexOf(room.id);
  state.rooms.delete(room.id);
  for (const timer of room.pendingLeaves.values()) clearTimeout(timer);
  room.log.remove();
  room.tabItem.remove();
  if (state.active === room.id) {
    state.active = null;
    const neighbour = ids[index + 1] || ids[index - 1];
    if (neighbour && state.rooms.has(neighbour)) activate(neighbour);
    else {
      window.history.replaceState(null, '', window.location.pathname + window.location.search);
      updateRoomChrome();
      renderPresence();
    }
  }
  saveRooms();
}

/** Whether commands may go out: the link is live and signed in, if it signs in at all. */
function linkReady() {
  return connection.live && !state.authPending;
}

function nextRef() {
  state.refSeq += 1;
  return `r${state.refSeq}`;
}

// ---- message log -----------------------------------------------------------------------------

function nearBottom(log) {
  return log.scrollHeight - log.scrollTop - log.clientHeight <= BOTTOM_SLACK_PX;
}

function scrollToBottom(room) {
  room.log.scrollTop = room.log.scrollHeight;
  room.stick = true;
  room.unseenBelow = 0;
}

/** Adds a node to a room's log, following the bottom only when the reader is there. */
function appendToLog(room, node, { forceScroll = false, countsAsNew = false } = {}) {
  const visible = state.active === room.id && !room.log.hidden;
  const follow = forceScroll || (visible ? nearBottom(room.log) : room.stick);
  room.log.append(node);
  if (follow) {
    if (visible) scrollToBottom(room);
    else room.stick = true;
  } else if (countsAsNew) {
    room.unseenBelow += 1;
  }
  if (visible) updateJumpButton();
}

function updateJumpButton() {
  const room = state.active ? state.rooms.get(state.active) : null;
  if (!room || room.unseenBelow === 0) {
    ui.jumpLatest.hidden = true;
    return;
  }
  ui.jumpLatest.hidden = false;
  ui.jumpLatest.textContent = room.unseenBelow === 1 ? '1 new message ↓' : `${room.unseenBelow} new messages ↓`;
}

function dayDivider(room, ts) {
  const date = new Date(ts);
  const key = date.toDateString();
  if (room.lastDay === key) return;
  room.lastDay = key;
  const today = new Date().toDateString();
  const divider = el('div', 'day-divider');
  divider.setAttribute('role', 'separator');
  divider.append(el('span', '', key === today ? 'Today' : dayFormat.format(date)));
  room.log.append(divider);
  room.lastSender = null;
}

function addNotice(room, text, kind, ts = Date.now()) {
  dayDivider(room, ts);
  const notice = el('div', `notice notice-${kind}`);
  notice.dataset.kind = kind;
  notice.append(el('span', 'notice-text', text), timeElement(ts));
  room.lastSender = null;
  appendToLog(room, notice);
  return notice;
}

/**
 * What presence lists a member under, as the server groups them: a verified user once (by its user id,
 * whatever its connections), an anonymous member by its connection's session.
 */
function memberKey(session, user) {
  return user ? `u:${user}` : session;
}

/** Whether a member key is this tab: its session (now or before a reconnect), or its verified user. */
function isMine(key) {
  return state.mySessions.has(key) || (!!state.identity && key === memberKey(null, state.identity.user));
}

/**
 * A short tag that tells apart two members who use the same name: a verified user's id, else the end of
 * the session id, which the server makes unique (names are not).
 */
function memberTag(session, user) {
  return user ? `@${user}` : `#${String(session).slice(-4)}`;
}

/** Whether another member of the room (another key) goes by this name. */
function nameShared(room, key, name) {
  for (const [other, member] of room.members) {
    if (other !== key && member.name === name) return true;
  }
  return false;
}

/** The names of a room's members. */
function memberNames(room) {
  return [...room.members.values()].map((m) => m.name);
}

function messageItem({ session, user, name, text, ts, own, grouped, shared }) {
  const outside = session === API_SESSION;
  const verified = typeof user === 'string' && !outside;
  const item = el('article', `msg${own ? ' own' : ''}${grouped ? ' grouped' : ''}${outside ? ' outside' : ''}${verified ? ' verified' : ''}`);
  item.dataset.session = session;
  if (verified) item.dataset.user = user;
  const avatar = el('span', `avatar ${hueClass(name)}`, initial(name));
  avatar.setAttribute('aria-hidden', 'true');
  const bubble = el('div', 'bubble');
  const meta = el('header', 'meta');
  const sender = el('span', 'sender', name);
  meta.append(sender);
  if (verified) meta.append(verifiedBadge(user));
  if (shared && !outside) meta.append(el('span', 'session-tag', memberTag(session, verified ? user : null)));
  if (outside) meta.append(el('span', 'outside-tag', 'via API'));
  if (own) meta.append(el('span', 'you-tag', 'you'));
  meta.append(timeElement(ts));
  const body = el('div', 'msg-text');
  appendRichText(body, text);
  bubble.append(meta, body);
  item.append(avatar, bubble);
  return item;
}

function shouldGroup(room, key, name, ts) {
  const last = room.lastSender;
  // the HTTP API posts every outside name under one session: the name must match too
  return !!last && last.key === key && last.name === name && ts - last.ts < GROUP_WINDOW_MS;
}

/** The session id the server gives messages posted through its HTTP API (not a connection). */
const API_SESSION = 'api';

function addMessage(room, frame, own) {
  dayDivider(room, frame.ts);
  const key = memberKey(frame.session, frame.user);
  const grouped = shouldGroup(room, key, frame.name, frame.ts);
  const item = messageItem({ ...frame, own, grouped, shared: nameShared(room, key, frame.name) });
  item.dataset.id = frame.id || '';
  room.lastSender = { key, name: frame.name, ts: frame.ts };
  appendToLog(room, item, { forceScroll: own, countsAsNew: true });
  return item;
}

// ---- sending ---------------------------------------------------------------------------------

function updateCounter() {
  const max = state.limits.maxTextLength;
  const length = ui.messageInput.value.length; // UTF-16 code units, as the server counts
  ui.charCounter.textContent = `${length} / ${max}`;
  ui.charCounter.classList.toggle('near', length > max * 0.9 && length <= max);
  ui.charCounter.classList.toggle('over', length > max);
  if (length > max) {
    ui.messageInput.setAttribute('aria-invalid', 'true');
    showComposerError(`Message too long: ${length - max} characters over the limit of ${max}.`);
  } else {
    ui.messageInput.removeAttribute('aria-invalid');
    if (ui.composerError.dataset.reason === 'length') showComposerError('');
  }
  if (length > max) ui.composerError.dataset.reason = 'length';
  updateSendButton();
}

function showComposerError(text) {
  ui.composerError.hidden = !text;
  ui.composerError.textContent = text;
  delete ui.composerError.dataset.reason;
}

function updateSendButton() {
  const room = state.active ? state.rooms.get(state.active) : null;
  const ready = !!room && connection.live && room.status === 'joined';
  const tooLong = ui.messageInput.value.length > state.limits.maxTextLength;
  ui.sendButton.disabled = !ready || tooLong;
  ui.composer.dataset.ready = String(ready);
}

function sendMessage() {
  const room = state.active ? state.rooms.get(state.active) : null;
  if (!room) return;
  const text = ui.messageInput.value;
  if (!text.trim()) return;
  const max = state.limits.maxTextLength;
  if (text.length > max) {
    showComposerError(describeError({ code: 'too_large' }, state.limits));
    ui.composerError.dataset.reason = 'length'; // cleared as soon as the text fits again
    return;
  }
  if (room.status === 'error') {
    showComposerError(describeError({ code: 'not_joined' }));
    return;
  }
  const user = state.identity ? state.identity.user : undefined;
  const item = addMessage(room, { session: state.session, user, name: room.name, text, ts: Date.now() }, true);
  item.classList.add('pending');
  const entry = { text, item, ref: null, cid: newClientId() };
  room.pending.push(entry);
  if (connection.live && room.status === 'joined') publishEntry(room, entry);
  else {
    entry.waited = true;
    item.title = 'Waiting for the connection: sent as soon as it is back';
  }
  ui.messageInput.value = '';
  showComposerError('');
  updateCounter();
}

/** A client message id: the server posts a message once per id, however often it is sent. */
function newClientId() {
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 12)}`;
}

function publishEntry(room, entry) {
  const ref = nextRef();
  entry.ref = ref;
  entry.item.dataset.ref = ref;
  entry.item.removeAttribute('title');
  state.refs.set(ref, { kind: 'publish', room: room.id, entry });
  connection.send({ type: 'publish', room: room.id, text: entry.text, cid: entry.cid, ref });
}

/** Sends what waited for the connection (or was cut off unconfirmed), once the room is joined again. */
function flushPending(room) {
  for (const entry of room.pending) {
    if (entry.ref === null) publishEntry(room, entry);
  }
}

function markFailed(room, entry, reason) {
  room.pending = room.pending.filter((p) => p !== entry);
  const { item } = entry;
  item.classList.remove('pending');
  item.classList.add('failed');
  const failure = el('div', 'msg-failure');
  failure.append(el('span', '', `Not sent: ${reason}`));
  const retry = el('button', 'link-button', 'Retry');
  retry.type = 'button';
  retry.addEventListener('click', () => {
    if (!ui.messageInput.value) {
      ui.messageInput.value = entry.text;
      updateCounter();
    }
    item.remove();
    ui.messageInput.focus();
  });
  failure.append(retry);
  item.querySelector('.bubble').append(failure);
}

// ---- presence --------------------------------------------------------------------------------

function renderPresence() {
  const room = state.active ? state.rooms.get(state.active) : null;
  ui.memberList.textContent = '';
  const count = room ? Math.max(room.members.size, room.total || 0) : 0;
  ui.presenceCount.textContent = String(count);
  ui.membersCount.textContent = String(count);
  ui.presence.classList.toggle('stale', !!room && room.status !== 'joined');
  if (!room) return;
  for (const [key, { name, user }] of room.members) {
    const me = key === state.session || (!!user && !!state.identity && user === state.identity.user);
    const item = el('li', `member${me ? ' me' : ''}${user ? ' verified' : ''}`);
    if (user) item.dataset.user = user;
    else item.dataset.session = key;
    const avatar = el('span', `avatar ${hueClass(name)}`, initial(name));
    avatar.setAttribute('aria-hidden', 'true');
    item.append(avatar, el('span', 'member-name', name));
    if (user) item.append(verifiedBadge(user));
    if (nameShared(room, key, name)) item.append(el('span', 'session-tag', memberTag(key, user)));
    if (me) item.append(el('span', 'you-tag', 'you'));
    ui.memberList.append(item);
  }
  if (room.total > room.members.size) {
    ui.memberList.append(el('li', 'member-note', `and ${room.total - room.members.size} more`));
  }
  if (room.status !== 'joined') {
    ui.memberList.append(el('li', 'member-note', room.status === 'offline' ? 'Offline: list may be out of date' : 'Updating…'));
  }
}

function otherNames(room) {
  return [...room.members].filter(([key]) => !isMine(key)).map(([, m]) => m.name);
}

// ---- server frames ---------------------------------------------------------------------------

function onFrame(frame) {
  switch (frame.type) {
    case 'welcome': return onWelcome(frame);
    case 'authed': return onAuthed(frame);
    case 'joined': return onJoined(frame);
    case 'presence': return onPresence(frame);
    case 'message': return onMessage(frame);
    case 'left': return onLeft(frame);
    case 'ack': return onAck(frame);
    case 'error': return onError(frame);
    case 'event': return onOutsideEvent(frame);
    default: return undefined; // pong, future types
  }
}

// An event from a producer outside the chat (the Socket.IO Redis emitter): shown as a notice in its
// room, or in the room on screen when it went to everyone. Always as text.
function onOutsideEvent({ event, args, room: id }) {
  if (event === 'notice') {
    onOperatorNotice(args, id);
    return;
  }
  const room = (id && state.rooms.get(id)) || (state.active && state.rooms.get(state.active));
  if (!room || typeof event !== 'string') return;
  const parts = Array.isArray(args) ? args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))) : [];
  const notice = addNotice(room, parts.length ? `${event}: ${parts.join(' ')}` : event, 'event');
  notice.prepend(el('span', 'outside-tag', 'outside event'));
  if (state.active !== room.id) {
    room.unread = (room.unread || 0) + 1;
    updateTab(room);
  }
}

/**
 * An operator's notice (the admin page, management API): `{"event":"notice","args":[{"text"}],"room"?}`.
 * A line in the room it names; one for everyone goes to every open room, or to a banner when none is open.
 */
function onOperatorNotice(args, id) {
  const text = Array.isArray(args) && args[0] && typeof args[0].text === 'string' ? args[0].text : '';
  if (!text) return;
  if (id) {
    const room = state.rooms.get(id);
    if (!room) return; // a room this page has left meanwhile
    addOperatorNotice(room, text);
    if (state.active !== room.id) {
      room.unread += 1;
      updateTab(room);
      updateTitle();
    }
    return;
  }
  if (state.rooms.size === 0) {
    ui.operatorBannerText.textContent = text;
    ui.operatorBanner.hidden = false;
    return;
  }
  for (const room of state.rooms.values()) addOperatorNotice(room, text);
}

function addOperatorNotice(room, text) {
  const notice = addNotice(room, text, 'operator');
  notice.prepend(el('span', 'operator-tag', 'Operator'));
  return notice;
}

function onWelcome(frame) {
  state.session = frame.session;
  state.mySessions.add(frame.session);
  // this tab's recent sessions (a reconnect makes a new one); a long-lived tab must not grow this forever
  while (state.mySessions.size > 8) state.mySessions.delete(state.mySessions.values().next().value);
  document.body.dataset.session = frame.session;
  if (frame.limits && typeof frame.limits === 'object') {
    state.limits = { ...state.limits, ...frame.limits };
  }
  state.authMode = frame.auth === 'mixed' || frame.auth === 'token' ? frame.auth : 'anonymous';
  state.refs.clear();
  state.authPending = false;
  updateCounter();
  if (state.token && state.authMode === 'anonymous') {
    forgetToken();
    showAuthError('This server does not use sign-in: you are not signed in.');
  }
  if (state.token) {
    sendAuth(state.token); // before anything else: the rooms are joined once `authed` comes
  } else if (state.authMode === 'token') {
    showAuthError(`Sign-in required. ${TOKEN_ONLY}`);
    connection.stop('sign-in required');
    return;
  } else {
    rejoinRooms();
  }
  updateRoomChrome();
  renderPresence();
}

function rejoinRooms() {
  for (const room of state.rooms.values()) {
    room.rejoining = room.everJoined;
    sendJoin(room);
  }
}

/** Sends a token: the link's sign-in, or (`refresh`) a fresh token for the user this link is signed in as. */
function sendAuth(token, refresh = false) {
  const ref = nextRef();
  state.refs.set(ref, { kind: 'auth', token, refresh });
  if (!refresh) state.authPending = true;
  connection.send({ type: 'auth', token, ref });
}

function onAuthed({ user, name, expiresAt, ref }) {
  const pending = state.refs.get(ref);
  state.refs.delete(ref);
  if (typeof user !== 'string' || typeof name !== 'string') return;
  if (pending && pending.kind === 'auth' && pending.token !== state.token) {
    state.token = pending.token; // a refresh: the new token is the one to sign in with from now on
    saveToken(state.token);
  }
  showAuthError('');
  setIdentity({ user, name, expiresAt: Number.isFinite(expiresAt) ? expiresAt : null });
  if (state.authPending) {
    state.authPending = false;
    rejoinRooms();
    if (state.restoreOnAuth) {
      state.restoreOnAuth = false;
      restoreRooms(name);
      setJoinCollapsed(narrowScreen.matches && state.rooms.size > 0);
    }
  }
  saveRooms();
  updateRoomChrome();
  renderPresence();
}

/** An `auth` was refused. */
function onAuthRefused(frame, pending) {
  showAuthError(frame.code === 'unauthorized' ? describeError(frame) : `Sign-in failed: ${describeError(frame)}`);
  if (pending.refresh) return; // the link keeps the sign-in it had
  // The server ends the link: refused (4004, see signedOut), or the user is on too many already (4006,
  // the token is tried again after the backoff). Nothing is sent meanwhile.
  if (frame.code === 'unauthorized' || frame.code === 'too_many_connections') return;
  // Anything else leaves the link open, not signed in.
  state.authPending = false;
  forgetToken();
  setIdentity(null);
  showSignedOut(ui.authError.textContent);
  if (state.authMode === 'token') {
    connection.stop('sign-in failed');
  } else {
    rejoinRooms();
    updateRoomChrome();
  }
}

/**
 * The server ended the link over the token: refused (4004) or expired (4005). The token is dropped, so a
 * bad token is not tried again and again; where anonymous users are welcome the page reconnects without
 * it, else it stops and says why.
 */
function signedOut(code) {
  forgetToken();
  setIdentity(null);
  let text = code === 4005 ? 'Signed out: your sign-in expired.' : 'Sign-in failed: the server refused the token.';
  if (code === 4004 && !ui.authError.hidden) text = ui.authError.textContent; // the refusal said why
  if (code === 4005) {
    for (const room of state.rooms.values()) {
      if (room.status === 'joined') addNotice(room, text, 'error');
    }
  }
  showSignedOut(text);
  if (state.authMode === 'token') connection.stop(code === 4005 ? 'sign-in expired' : 'sign-in refused');
}

/** Says why the sign-in is gone, and what now: nothing without one in token mode, else anonymous. */
function showSignedOut(why) {
  const sentence = why.replace(/\.?$/, '.');
  showAuthError(`${sentence} ${state.authMode === 'token' ? TOKEN_ONLY : 'You are not signed in.'}`);
}

function forgetToken() {
  state.token = null;
  state.restoreOnAuth = false;
  saveToken(null);
}

/** Shows who we are: a verified user, whose name is the token's (the name box is locked to it), or anonymous (null). */
function setIdentity(identity) {
  const was = state.identity;
  state.identity = identity;
  ui.body.dataset.identity = identity ? 'verified' : 'anonymous';
  ui.identity.hidden = !identity;
  ui.identity.textContent = '';
  ui.nameInput.readOnly = !!identity;
  if (identity) {
    ui.identity.append(verifiedBadge(identity.user), document.createTextNode(` Signed in as ${identity.name}`));
    ui.identity.title = identity.expiresAt
      ? `Verified user ${identity.user}, until ${fullFormat.format(new Date(identity.expiresAt))}` : `Verified user ${identity.user}`;
    ui.nameInput.value = identity.name;
    if (document.activeElement === ui.nameInput) ui.roomInput.focus(); // nothing to type there any more
    for (const room of state.rooms.values()) {
      room.name = identity.name;
      updateTab(room);
    }
  } else if (was) {
    const stored = load(STORAGE.name, '');
    ui.nameInput.value = typeof stored === 'string' ? stored : '';
  }
}

function showAuthError(text) {
  ui.authError.hidden = !text;
  ui.authError.textContent = text;
}

function onDisconnect({ code }) {
  state.session = null;
  state.authPending = false;
  if (code === 4004 || code === 4005) signedOut(code);
  for (const [ref, pending] of state.refs) {
    if (pending.kind === 'publish') {
      // not confirmed: sent again with the same client id once we are back, so it is posted once
      pending.entry.ref = null;
      pending.entry.waited = true;
      pending.entry.item.title = 'Waiting for the connection: sent as soon as it is back';
    }
    state.refs.delete(ref);
  }
  for (const room of state.rooms.values()) {
    if (room.status === 'joined') {
      // Members whose `left` came just before our own drop were most likely closed by the same
      // event (a server shutdown): count them as present, so their return is not news either.
      room.namesBeforeDrop = [...otherNames(room), ...room.pendingLeaves.keys()];
    }
    for (const timer of room.pendingLeaves.values()) clearTimeout(timer);
    room.pendingLeaves.clear();
    if (room.status !== 'error') room.status = 'offline';
    updateTab(room);
  }
  updateRoomChrome();
  renderPresence();
}

function onJoined({ room: id, session, user, name, ts, recovered, reason, epoch, offset }) {
  const room = state.rooms.get(id);
  if (!room) return;
  const key = memberKey(session, user);
  const member = { name, user: user || null };
  if (session === state.session) {
    room.members.set(key, member);
    if (!room.rejoining) addNotice(room, `You joined #${id} as ${name}`, 'self', ts);
    if (recovered === false && room.position) addNotice(room, gapText(reason), 'gap', ts);
    if (typeof epoch === 'string' && Number.isInteger(offset)) {
      // the replay that follows brings us up to here
      room.position = { epoch, offset };
      room.replaying = true;
      room.replayed = 0;
    }
  } else {
    if (room.members.has(key)) return;
    const known = memberNames(room).includes(name);
    const pendingLeave = room.pendingLeaves.get(name);
    if (pendingLeave !== undefined) {
      clearTimeout(pendingLeave);
      room.pendingLeaves.delete(name);
    }
    const returning = pendingLeave !== undefined || (room.expectedBack.get(name) || 0) > Date.now();
    room.expectedBack.delete(name);
    room.members.set(key, member);
    if (!known && !returning) addNotice(room, `${name} joined`, 'join', ts);
  }
  if (state.active === id) renderPresence();
}

function gapText(reason) {
  switch (reason) {
    case 'too_old': return 'Some messages are missing: you were away longer than the server keeps them.';
    case 'epoch_changed': return 'Some messages may be missing: the server\'s history was reset while you were away.';
    default: return 'Messages sent while you were away could not be recovered.';
  }
}

function onPresence({ room: id, members, total }) {
  const room = state.rooms.get(id);
  if (!room || !Array.isArray(members)) return;
  // anonymous members are connections ({session, name}), verified ones users ({user, name, connections})
  room.members = new Map(members.map((m) => [memberKey(m.session, m.user), { name: m.name, user: m.user || null }]));
  // a big room's presence lists its first members only and gives the full count
  room.total = Number.isInteger(total) && total > members.length ? total : 0;
  if (room.rejoining) {
    // Back after a reconnect: report what changed while we were away, by name (sessions change
    // on every reconnect). Members missing now may be reconnecting themselves: give them a moment.
    const before = new Set(room.namesBeforeDrop);
    const now = otherNames(room);
    const nowSet = new Set(now);
    for (const name of nowSet) {
      if (!before.has(name)) addNotice(room, `${name} joined`, 'join');
    }
    const deadline = Date.now() + RETURN_GRACE_MS;
    for (const name of before) {
      if (!nowSet.has(name)) room.expectedBack.set(name, deadline);
    }
    if (room.expectedBack.size) {
      setTimeout(() => settleReturns(id), RETURN_GRACE_MS + 100);
    }
  }
  if (room.replaying && !room.everJoined && room.replayed > 0) {
    // the conversation so far is above; what comes now is live
    const divider = el('div', 'history-divider');
    divider.setAttribute('role', 'separator');
    divider.dataset.testid = 'history-divider';
    divider.append(el('span', '', 'New messages'));
    room.log.append(divider);
    room.lastSender = null;
  }
  room.replaying = false;
  room.rejoining = false;
  room.everJoined = true;
  room.namesBeforeDrop = [];
  room.status = 'joined';
  updateTab(room);
  flushPending(room);
  if (state.active === id) {
    updateRoomChrome();
    renderPresence();
  }
}

function settleReturns(id) {
  const room = state.rooms.get(id);
  if (!room) return;
  const now = Date.now();
  const present = new Set(memberNames(room));
  for (const [name, deadline] of room.expectedBack) {
    if (deadline > now) continue;
    room.expectedBack.delete(name);
    if (!present.has(name) && room.status === 'joined') addNotice(room, `${name} left`, 'leave');
  }
}

function onMessage(frame) {
  const room = state.rooms.get(frame.room);
  if (!room || typeof frame.text !== 'string') return;
  if (typeof frame.epoch === 'string' && Number.isInteger(frame.offset)
    && (!room.position || room.position.epoch !== frame.epoch || frame.offset > room.position.offset)) {
    room.position = { epoch: frame.epoch, offset: frame.offset };
  }
  if (frame.id) {
    if (room.seen.has(frame.id)) return; // replayed, and already on screen
    room.seen.set(frame.id, true);
    if (room.seen.size > SEEN_LIMIT) room.seen.delete(room.seen.keys().next().value);
  }
  const replayed = room.replaying;
  if (replayed) room.replayed += 1;
  const mine = frame.cid ? room.pending.find((p) => p.cid === frame.cid) : undefined;
  if (mine) {
    // our own message, back from the server (live, or in a replay after a cut): it is posted
    confirm(room, mine, frame);
    return;
  }
  const own = state.mySessions.has(frame.session);
  if (own && frame.session === state.session && !frame.cid) {
    // The server runs one session's publishes in order and echoes each before acknowledging it, and a
    // refused one is answered (and dropped from pending) before any later echo: so this echo is the
    // oldest pending message, whatever its text. Its ack then carries the same id.
    const index = room.pending.length ? 0 : -1;
    if (index >= 0) {
      confirm(room, room.pending[index], frame);
      return;
    }
  }
  addMessage(room, frame, own);
  if (own || (replayed && !room.everJoined)) return; // the conversation before we came is not news
  if (state.active !== room.id) {
    room.unread += 1;
    updateTab(room);
    updateTitle();
  } else if (document.hidden) {
    state.hiddenUnread += 1;
    updateTitle();
  }
}

function confirm(room, entry, frame) {
  room.pending = room.pending.filter((p) => p !== entry);
  entry.id = frame.id;
  if (frame.id) room.seen.set(frame.id, true); // its echo, should it come after the ack, is not news
  entry.item.classList.remove('pending');
  entry.item.removeAttribute('title');
  entry.item.dataset.id = frame.id || '';
  const time = entry.item.querySelector('time');
  if (time) time.replaceWith(timeElement(frame.ts));
  if (entry.waited && entry.item.nextElementSibling) {
    // it waited for the connection while what was missed came in above it: it was posted after those
    room.log.append(entry.item);
    room.lastSender = null;
  }
}

function onLeft({ room: id, session, user, name, ts }) {
  const room = state.rooms.get(id);
  const key = memberKey(session, user);
  if (room && session === state.session && room.status === 'joined') {
    // this connection itself was taken out of the room (an operator closed it)
    room.status = 'error';
    room.members.clear();
    addNotice(room, 'You are no longer a member of this room.', 'leave', ts);
    updateTab(room);
    if (state.active === id) {
      updateRoomChrome();
      renderPresence();
    }
    return;
  }
  if (!room || !room.members.has(key)) return;
  room.members.delete(key);
  const stillHere = memberNames(room).includes(name);
  if (!stillHere && !isMine(key) && !room.pendingLeaves.has(name)) {
    room.pendingLeaves.set(name, setTimeout(() => {
      room.pendingLeaves.delete(name);
      if (state.rooms.get(id) === room) addNotice(room, `${name} left`, 'leave', ts);
    }, LEAVE_GRACE_MS));
  }
  if (state.active === id) renderPresence();
}

function onAck({ ref, id, ts }) {
  const pending = state.refs.get(ref);
  state.refs.delete(ref);
  if (pending && pending.kind === 'publish' && id) {
    const room = state.rooms.get(pending.room);
    // a resend the server recognized by its client id: no new echo comes, the ack names the original
    if (room && room.pending.includes(pending.entry)) confirm(room, pending.entry, { id, ts: ts || Date.now() });
  }
  if (pending && pending.kind === 'publish' && pending.entry.id && id && pending.entry.id !== id) {
    // never expected: the echo matched to this message was another one
    console.warn(`parley: ack ${id} does not match the echo ${pending.entry.id}`);
  }
}

function onError(frame) {
  const pending = frame.ref !== undefined ? state.refs.get(frame.ref) : undefined;
  if (pending) state.refs.delete(frame.ref);
  if (pending && pending.kind === 'auth') {
    onAuthRefused(frame, pending);
    return;
  }
  const text = describeError(frame, state.limits);
  const room = pending ? state.rooms.get(pending.room) : null;
  if (pending && pending.kind === 'join' && room) {
    if (!room.everJoined) {
      removeRoom(room);
      showJoinError(text);
      ui.roomInput.value = room.id;
      ui.roomInput.focus();
    } else {
      room.status = 'error';
      room.rejoining = false;
      updateTab(room);
      addNotice(room, `Could not rejoin: ${text}`, 'error');
      updateRoomChrome();
    }
    return;
  }
  if (pending && pending.kind === 'publish' && room) {
    markFailed(room, pending.entry, text);
    if (state.active === room.id) showComposerError(text);
    return;
  }
  if (pending && pending.kind === 'leave') return; // leaving a room the server forgot: fine
  const target = state.active ? state.rooms.get(state.active) : null;
  if (target) addNotice(target, text, 'error');
  else showJoinError(text);
}

// ---- status ----------------------------------------------------------------------------------

function onStatus(status) {
  ui.body.dataset.state = status.state;
  ui.body.dataset.transport = status.transport;
  ui.status.dataset.state = status.state;
  ui.statusText.textContent = status.detail && status.state !== 'live'
    ? `${status.text} · ${status.detail}` : status.text;
  ui.status.title = status.detail ? `Last disconnect: ${status.detail}` : '';
  ui.retryNow.hidden = status.retryInS === null;
  if (status.state !== state.lastState) {
    state.lastState = status.state;
    if (status.state === 'live') announce(`Connected, ${status.text}`);
    else if (status.state === 'reconnecting') announce('Connection lost. Reconnecting.');
    else if (status.state === 'stopped') announce(`Not connected: ${status.detail}.`);
  }
  updateSendButton();
}

// ---- wiring ----------------------------------------------------------------------------------

function showJoinError(text) {
  ui.joinError.hidden = !text;
  ui.joinError.textContent = text;
}

function setJoinCollapsed(collapsed) {
  ui.layout.classList.toggle('join-collapsed', collapsed);
  ui.addRoom.setAttribute('aria-expanded', String(!collapsed));
}

function setPresenceOpen(open) {
  ui.layout.classList.toggle('presence-closed', !open);
  ui.membersToggle.setAttribute('aria-expanded', String(open));
}

ui.joinForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const name = state.identity ? state.identity.name : ui.nameInput.value.trim();
  const room = ui.roomInput.value.trim();
  const nameError = state.identity ? '' : nameProblem(name);
  const problem = nameError || roomProblem(room);
  if (problem) {
    showJoinError(problem);
    (nameError ? ui.nameInput : ui.roomInput).focus();
    return;
  }
  showJoinError('');
  if (!state.identity) save(STORAGE.name, name); // the name this browser goes by when not signed in
  save(STORAGE.room, room);
  const error = joinRoom(room, name);
  if (error) {
    showJoinError(error);
    return;
  }
  if (narrowScreen.matches) setJoinCollapsed(true);
});

ui.nameInput.addEventListener('change', () => {
  if (!state.identity) save(STORAGE.name, ui.nameInput.value.trim());
});

ui.addRoom.addEventListener('click', () => {
  const collapsed = ui.layout.classList.contains('join-collapsed');
  setJoinCollapsed(!collapsed);
  if (collapsed) (ui.nameInput.value ? ui.roomInput : ui.nameInput).focus();
});

ui.composer.addEventListener('submit', (event) => {
  event.preventDefault();
  sendMessage();
});

ui.messageInput.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing && !event.altKey && !event.ctrlKey && !event.metaKey) {
    event.preventDefault();
    sendMessage();
  }
});

ui.messageInput.addEventListener('input', updateCounter);

ui.jumpLatest.addEventListener('click', () => {
  const room = state.active ? state.rooms.get(state.active) : null;
  if (!room) return;
  scrollToBottom(room);
  updateJumpButton();
});

ui.membersToggle.addEventListener('click', () => {
  const open = ui.layout.classList.contains('presence-closed');
  setPresenceOpen(open);
  if (open && narrowScreen.matches) ui.presenceClose.focus();
});

ui.presenceClose.addEventListener('click', () => {
  setPresenceOpen(false);
  ui.membersToggle.focus();
});

document.addEventListener('keydown', (event) => {
  if (event.key === 'Escape' && narrowScreen.matches && !ui.layout.classList.contains('presence-closed')) {
    setPresenceOpen(false);
    ui.membersToggle.focus();
  }
});

ui.leaveButton.addEventListener('click', () => {
  if (state.active) leaveRoom(state.active);
});

ui.retryNow.addEventListener('click', () => connection.retryNow());

ui.operatorBannerClose.addEventListener('click', () => {
  ui.operatorBanner.hidden = true;
});

narrowScreen.addEventListener('change', () => {
  setPresenceOpen(!narrowScreen.matches);
  setJoinCollapsed(narrowScreen.matches && state.rooms.size > 0);
});

window.addEventListener('hashchange', () => {
  const token = takeTokenFromHash();
  if (token) useToken(token);
  const room = roomFromHash();
  if (!room) return;
  ui.roomInput.value = room;
  const name = ui.nameInput.value.trim();
  if (state.rooms.has(room)) activate(room);
  else if (!nameProblem(name)) joinRoom(room, name);
  else ui.nameInput.focus();
});

document.addEventListener('visibilitychange', () => {
  if (!document.hidden && state.hiddenUnread) {
    state.hiddenUnread = 0;
    updateTitle();
  }
});

window.addEventListener('pagehide', (event) => {
  if (event.persisted) return;
  // WebSocket closes tell the server at once; SockJS HTTP transports only time out, so say goodbye.
  if (connection.live && connection.link.kind === 'sockjs') {
    for (const room of state.rooms.values()) {
      if (room.status === 'joined') connection.send({ type: 'leave', room: room.id });
    }
  }
  connection.close();
});

const connection = new Connection({
  mode: transportModeFrom(window.location.search),
  handlers: { onFrame, onStatus, onDisconnect },
});

/**
 * A sign-in link opened while the page runs: a fresh token for the user this link is signed in as
 * refreshes the sign-in in place (the rooms stay joined); any other starts a new link that signs in first.
 */
function useToken(token) {
  showAuthError('');
  if (state.identity && tokenSubject(token) === state.identity.user && linkReady()) {
    sendAuth(token, true);
    return;
  }
  state.token = token;
  saveToken(token);
  connection.restart();
}

/** Joins the rooms of the last visit, and the one the address names (#room=). */
function restoreRooms(name) {
  const hashRoom = roomFromHash();
  const rooms = load(STORAGE.rooms, []);
  if (Array.isArray(rooms)) {
    for (const entry of rooms) {
      if (entry && typeof entry.room === 'string' && typeof entry.name === 'string') {
        joinRoom(entry.room, entry.name, { activateIt: false });
      }
    }
  }
  const active = load(STORAGE.active, null);
  if (hashRoom) joinRoom(hashRoom, name);
  else if (typeof active === 'string' && state.rooms.has(active)) activate(active);
}

function restore() {
  const fromLink = takeTokenFromHash();
  if (fromLink) saveToken(fromLink);
  state.token = fromLink || loadToken();
  const storedName = load(STORAGE.name, '');
  const hashRoom = roomFromHash();
  ui.nameInput.value = typeof storedName === 'string' ? storedName : '';
  ui.roomInput.value = hashRoom || load(STORAGE.room, '') || 'lobby';
  setPresenceOpen(!narrowScreen.matches);
  const name = ui.nameInput.value.trim();
  if (!nameProblem(name)) restoreRooms(name);
  else if (state.token) state.restoreOnAuth = true; // with the token's name
  setJoinCollapsed(narrowScreen.matches && state.rooms.size > 0);
  updateRoomChrome();
  updateCounter();
  if (!ui.nameInput.value) ui.nameInput.focus();
}

restore();
connection.start();
