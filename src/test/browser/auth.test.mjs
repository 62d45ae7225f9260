// Sign-in with a token (`#token=<jwt>` in the page's address) in real headless Chromium against the real
// server, in mixed mode (tokens optional, anonymous users welcome in rooms open to anyone) and in token
// mode (a token or nothing). Tokens are HS256 JWTs minted here with node:crypto.
// Run: node --test src/test/browser/auth.test.mjs   (after mvn -B -q package -DskipTests and npm ci in this folder)

import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import {
  EVENT_TIMEOUT_MS, Pages, ROOT, join, launchBrowser, screenshot, send, startServer, waitForConnections, waitForJoined,
  waitForLive, waitForMessage, waitForNotice, waitForPresence,
} from './harness.mjs';

/** A test with a time limit, so a stuck page fails instead of hanging the run. */
const it = (name, fn) => test(name, { timeout: 45_000 }, fn);

const SECRET = randomBytes(32).toString('hex');

const base64url = (data) => Buffer.from(data).toString('base64url');

/** An HS256 JWT for the audience `parley`; `ttlS` seconds from now (negative: already expired). */
function mint({ sub, name, ttlS = 3600 }) {
  const now = Math.floor(Date.now() / 1000);
  const header = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const payload = base64url(JSON.stringify({ sub, name, aud: 'parley', iat: now, exp: now + ttlS }));
  const signature = createHmac('sha256', SECRET).update(`${header}.${payload}`).digest('base64url');
  return `${header}.${payload}.${signature}`;
}

/** conf/config.json with identity on: HS256 tokens for `parley`, the lobby open to anyone, other rooms to token holders. */
function configWith(mode) {
  const conf = JSON.parse(readFileSync(path.join(ROOT, 'conf', 'config.json'), 'utf8'));
  conf.auth = { mode, secret: 'env:PARLEY_AUTH_SECRET', audience: ['parley'] };
  conf.rooms = [{ match: 'lobby', join: 'anyone' }];
  return JSON.stringify(conf);
}

async function startAuthServerAndBrowser(mode) {
  const [server, browser] = await Promise.allSettled([
    startServer({ args: ['-conf', configWith(mode)], env: { PARLEY_AUTH_SECRET: SECRET } }),
    launchBrowser(),
  ]);
  if (server.status === 'fulfilled' && browser.status === 'fulfilled') {
    return { server: server.value, browser: browser.value };
  }
  if (server.status === 'fulfilled') await server.value.stop();
  if (browser.status === 'fulfilled') await browser.value.close();
  throw server.status === 'rejected' ? server.reason : browser.reason;
}

/** Joins a room as the signed-in user: the name box holds the token's name and cannot be changed. */
async function joinSignedIn(page, room) {
  await page.getByTestId('room-input').fill(room);
  await page.getByTestId('join-button').click();
  await waitForJoined(page, room);
}

/** Waits until the page shows itself signed in as `name`. */
async function waitForSignedIn(page, name) {
  await page.waitForFunction((n) => document.body.dataset.identity === 'verified'
    && document.querySelector('[data-testid="name-input"]').value === n, name);
}

/** The verified badges (title and aria-label) of the members called `name` in the presence panel. */
function memberBadges(page, name) {
  return page.evaluate((n) => [...document.querySelectorAll('[data-testid="presence"] .member')]
    .filter((m) => m.querySelector('.member-name').textContent === n)
    .map((m) => {
      const badge = m.querySelector('.verified-badge');
      return badge ? { title: badge.title, label: badge.getAttribute('aria-label'), verified: m.classList.contains('verified') } : null;
    }), name);
}

/** The verified badge (title) of the message with this text in a room's log, or null. */
function messageBadge(page, room, text) {
  return page.evaluate(({ r, t }) => {
    const msg = [...document.querySelectorAll(`[data-testid="messages-${r}"] .msg`)]
      .find((m) => m.querySelector('.msg-text').textContent === t);
    if (!msg) return 'missing';
    const badge = msg.querySelector('.meta .verified-badge');
    return badge ? badge.title : null;
  }, { r: room, t: text });
}

async function waitForAuthError(page, pattern, { timeout = EVENT_TIMEOUT_MS } = {}) {
  await page.waitForFunction((source) => {
    const error = document.querySelector('[data-testid="auth-error"]');
    return !error.hidden && new RegExp(source).test(error.textContent);
  }, pattern.source, { timeout });
}

describe('sign-in, mixed mode', () => {
  let server;
  let browser;
  let pages;

  before(async () => {
    ({ server, browser } = await startAuthServerAndBrowser('mixed'));
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  beforeEach(() => {
    pages = new Pages(browser, server);
  });

  afterEach(() => pages.closeAll());

  const open = (pathAndQuery, options) => pages.open(pathAndQuery, options);

  it('a signed-in page and an anonymous one chat; only the verified name carries the badge', async () => {
    const token = mint({ sub: 'alice', name: 'Alice' });
    const [alice, guest] = await Promise.all([open(`/?transport=websocket#token=${token}`), open('/')]);
    await Promise.all([waitForLive(alice.page), waitForLive(guest.page)]);

    // The token leaves the address bar (the ?query stays) but stays with the tab.
    const address = alice.page.url();
    assert.ok(!address.includes(token) && !address.includes('token='), `address still holds the token: ${address}`);
    assert.equal(new URL(address).search, '?transport=websocket');
    assert.equal(await alice.page.evaluate(() => window.sessionStorage.getItem('parley.token')), token);

    await waitForSignedIn(alice.page, 'Alice');
    const nameBox = alice.page.getByTestId('name-input');
    assert.equal(await nameBox.getAttribute('readonly'), '');
    assert.match(await alice.page.getByTestId('identity').innerText(), /Signed in as Alice/);
    assert.equal(await alice.page.getByTestId('identity').locator('.verified-badge').getAttribute('aria-label'),
      'verified user alice');

    await joinSignedIn(alice.page, 'lobby');
    await join(guest.page, 'guest', 'lobby');
    await waitForPresence(alice.page, ['Alice', 'guest']);
    await waitForPresence(guest.page, ['Alice', 'guest']);
    await waitForNotice(alice.page, 'lobby', 'guest joined');
    assert.deepEqual(await memberBadges(guest.page, 'Alice'),
      [{ title: 'verified user alice', label: 'verified user alice', verified: true }]);
    assert.deepEqual(await memberBadges(guest.page, 'guest'), [null]);
    assert.deepEqual(await memberBadges(alice.page, 'Alice'),
      [{ title: 'verified user alice', label: 'verified user alice', verified: true }]);
    assert.deepEqual(await memberBadges(alice.page, 'guest'), [null]);

    await send(alice.page, 'hello from a verified user');
    await waitForMessage(guest.page, 'lobby', 'hello from a verified user', { sender: 'Alice' });
    assert.equal(await messageBadge(guest.page, 'lobby', 'hello from a verified user'), 'verified user alice');
    assert.equal(await messageBadge(alice.page, 'lobby', 'hello from a verified user'), 'verified user alice');
    await send(guest.page, 'hello from a guest');
    await waitForMessage(alice.page, 'lobby', 'hello from a guest', { sender: 'guest' });
    assert.equal(await messageBadge(alice.page, 'lobby', 'hello from a guest'), null);
    assert.equal(await messageBadge(guest.page, 'lobby', 'hello from a guest'), null);
    await screenshot(alice.page, 'auth-01-signed-in');
    await screenshot(guest.page, 'auth-02-anonymous-sees-verified');

    // Rooms without a rule are for token holders: the guest is refused, Alice is not.
    await guest.page.getByTestId('room-input').fill('staff');
    await guest.page.getByTestId('join-button').click();
    await guest.page.getByTestId('join-error').waitFor({ state: 'visible' });
    assert.match(await guest.page.getByTestId('join-error').innerText(), /^Not allowed: /);
    await joinSignedIn(alice.page, 'staff');

    // A reload of the tab keeps the sign-in (sessionStorage) and the rooms.
    await alice.page.reload();
    await waitForSignedIn(alice.page, 'Alice');
    await waitForJoined(alice.page, 'lobby');
    await waitForJoined(alice.page, 'staff');
    assert.ok(!alice.page.url().includes('token='));
    await alice.page.getByTestId('room-tab-lobby').click();
    await waitForPresence(alice.page, ['Alice', 'guest']);
    await waitForPresence(guest.page, ['Alice', 'guest']);
    assert.deepEqual(await memberBadges(guest.page, 'Alice'),
      [{ title: 'verified user alice', label: 'verified user alice', verified: true }]);
  });

  it('a user with two tabs is listed once, and leaves when its last tab does', async () => {
    const token = mint({ sub: 'bob', name: 'Bob' });
    const [tab1, tab2, guest] = await Promise.all([open(`/#token=${token}`), open(`/#token=${token}`), open('/')]);
    await Promise.all([waitForSignedIn(tab1.page, 'Bob'), waitForSignedIn(tab2.page, 'Bob')]);
    await join(guest.page, 'carol', 'lobby');
    await joinSignedIn(tab1.page, 'lobby');
    await joinSignedIn(tab2.page, 'lobby');
    await waitForPresence(guest.page, ['Bob', 'carol']);
    await waitForPresence(tab2.page, ['Bob', 'carol']);
    await send(tab2.page, 'from the second tab');
    await waitForMessage(guest.page, 'lobby', 'from the second tab', { sender: 'Bob' });
    assert.equal(await messageBadge(guest.page, 'lobby', 'from the second tab'), 'verified user bob');

    await tab1.page.close();
    await waitForConnections(server, 2);
    await waitForPresence(guest.page, ['Bob', 'carol']);
    await tab2.page.close();
    await waitForNotice(guest.page, 'lobby', 'Bob left');
    await waitForPresence(guest.page, ['carol']);
  });

  it('a sign-in link opened in a signed-in tab: the same user refreshes in place, another one reconnects', async () => {
    const [hank, watcher] = await Promise.all([open(`/#token=${mint({ sub: 'hank', name: 'Hank', ttlS: 600 })}`), open('/')]);
    await waitForSignedIn(hank.page, 'Hank');
    await join(watcher.page, 'watcher', 'lobby');
    await joinSignedIn(hank.page, 'lobby');
    await waitForPresence(watcher.page, ['Hank', 'watcher']);
    const session = await hank.page.evaluate(() => document.body.dataset.session);

    // A fresh token for the same user goes over the same connection: the rooms stay joined.
    const fresh = mint({ sub: 'hank', name: 'Hank', ttlS: 7200 });
    await hank.page.evaluate((t) => { window.location.hash = `token=${t}`; }, fresh);
    await hank.page.waitForFunction((t) => window.sessionStorage.getItem('parley.token') === t, fresh);
    assert.ok(!hank.page.url().includes('token='));
    assert.equal(await hank.page.evaluate(() => document.body.dataset.session), session);
    assert.equal(await hank.page.getByTestId('room-tab-lobby').getAttribute('data-status'), 'joined');
    await send(hank.page, 'still here');
    await waitForMessage(watcher.page, 'lobby', 'still here', { sender: 'Hank' });

    // Another user's token starts a new connection that signs in first, then rejoins.
    await hank.page.evaluate((t) => { window.location.hash = `token=${t}`; }, mint({ sub: 'ivy', name: 'Ivy' }));
    await waitForSignedIn(hank.page, 'Ivy');
    await waitForJoined(hank.page, 'lobby');
    await waitForPresence(watcher.page, ['Ivy', 'watcher']);
    assert.deepEqual(await memberBadges(watcher.page, 'Ivy'),
      [{ title: 'verified user ivy', label: 'verified user ivy', verified: true }]);
  });

  it('an expired token is refused, said so, dropped, and the page goes on anonymously', async () => {
    const expired = mint({ sub: 'dave', name: 'Dave', ttlS: -3600 });
    const [late, watcher] = await Promise.all([open(`/#token=${expired}`), open('/')]);
    await waitForAuthError(late.page, /^Sign-in failed: token expired\. You are not signed in\.$/);
    assert.ok(!late.page.url().includes('token='));
    // Back without the token: anonymous, the name box free again.
    await late.page.waitForFunction(() => document.body.dataset.state === 'live'
      && window.sessionStorage.getItem('parley.token') === null && document.body.dataset.identity === 'anonymous');
    assert.equal(await late.page.getByTestId('identity').isHidden(), true);
    assert.equal(await late.page.getByTestId('name-input').getAttribute('readonly'), null);

    await join(watcher.page, 'watcher', 'lobby');
    await join(late.page, 'latecomer', 'lobby');
    await waitForPresence(watcher.page, ['latecomer', 'watcher']);
    assert.deepEqual(await memberBadges(watcher.page, 'latecomer'), [null]);
    await send(late.page, 'anonymous after all');
    await waitForMessage(watcher.page, 'lobby', 'anonymous after all', { sender: 'latecomer' });
    assert.equal(await messageBadge(watcher.page, 'lobby', 'anonymous after all'), null);
    // The refusal stays on screen until a sign-in works.
    assert.match(await late.page.getByTestId('auth-error').innerText(), /^Sign-in failed: token expired/);
    await screenshot(late.page, 'auth-03-token-refused');
  });

  it('a sign-in that expires while chatting signs out (4005) and the page rejoins anonymously', async () => {
    const shortLived = mint({ sub: 'erin', name: 'Erin', ttlS: 6 });
    const [erin, watcher] = await Promise.all([open(`/#token=${shortLived}`), open('/')]);
    await waitForSignedIn(erin.page, 'Erin');
    await join(watcher.page, 'watcher', 'lobby');
    await joinSignedIn(erin.page, 'lobby');
    await waitForPresence(watcher.page, ['Erin', 'watcher']);
    assert.deepEqual(await memberBadges(watcher.page, 'Erin'),
      [{ title: 'verified user erin', label: 'verified user erin', verified: true }]);

    // the token lives 6 s (the server may allow a few seconds of clock skew on top)
    await waitForAuthError(erin.page, /^Signed out: your sign-in expired\. You are not signed in\.$/, { timeout: 20_000 });
    await waitForNotice(erin.page, 'lobby', 'Signed out: your sign-in expired.');
    // Rejoined without the token: the same name, no badge.
    await erin.page.waitForFunction(() => document.body.dataset.identity === 'anonymous'
      && window.sessionStorage.getItem('parley.token') === null);
    await waitForJoined(erin.page, 'lobby', { timeout: 15_000 });
    await watcher.page.waitForFunction(() => [...document.querySelectorAll('[data-testid="presence"] .member')]
      .some((m) => m.querySelector('.member-name').textContent === 'Erin' && !m.querySelector('.verified-badge')));
  });
});

describe('sign-in, token mode', () => {
  let server;
  let browser;
  let pages;

  before(async () => {
    ({ server, browser } = await startAuthServerAndBrowser('token'));
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  beforeEach(() => {
    pages = new Pages(browser, server);
  });

  afterEach(() => pages.closeAll());

  const open = (pathAndQuery, options) => pages.open(pathAndQuery, options);

  it('without a token the page says a sign-in is required and stops', async () => {
    const nobody = await open('/');
    await waitForAuthError(nobody.page, /^Sign-in required\. This server only admits signed-in users/);
    await nobody.page.waitForFunction(() => document.body.dataset.state === 'stopped');
    assert.match(await nobody.page.getByTestId('status').innerText(), /not connected · sign-in required/);
    await waitForConnections(server, 0);
  });

  it('a refused token is shown and not tried again (over SockJS); a valid one chats', async () => {
    const expired = mint({ sub: 'frank', name: 'Frank', ttlS: -3600 });
    const token = mint({ sub: 'grace', name: 'Grace' });
    // over SockJS the close code (4004) comes in a last `close` frame
    const [frank, grace] = await Promise.all([open(`/?transport=xhr-streaming#token=${expired}`), open(`/#token=${token}`)]);
    await waitForAuthError(frank.page, /^Sign-in failed: token expired\. This server only admits signed-in users/);
    await frank.page.waitForFunction(() => document.body.dataset.state === 'stopped'
      && window.sessionStorage.getItem('parley.token') === null);
    assert.match(await frank.page.getByTestId('status').innerText(), /not connected · sign-in refused/);
    assert.equal(new URL(frank.page.url()).search, '?transport=xhr-streaming');

    await waitForSignedIn(grace.page, 'Grace');
    await joinSignedIn(grace.page, 'lobby');
    await send(grace.page, 'only signed-in users here');
    // Only Grace's connection is left: Frank's page does not reconnect.
    await waitForConnections(server, 1);

    // A sign-in link opened in the stopped tab connects it again.
    await frank.page.evaluate((t) => { window.location.hash = `token=${t}`; }, mint({ sub: 'frank', name: 'Frank' }));
    await waitForSignedIn(frank.page, 'Frank');
    assert.ok(!frank.page.url().includes('token='));
    await frank.page.getByTestId('auth-error').waitFor({ state: 'hidden' });
    await joinSignedIn(frank.page, 'lobby');
    await waitForPresence(grace.page, ['Frank', 'Grace']);
    await waitForMessage(frank.page, 'lobby', 'only signed-in users here', { sender: 'Grace' });
    assert.equal(await frank.page.evaluate(() => document.body.dataset.transport), 'sockjs-xhr-streaming');
  });
});
