// The chat page in real headless Chromium against the real server (target/parley.jar), over WebSocket.
// Run: node --test src/test/browser/   (after mvn -B -q package -DskipTests and npm ci in this folder)

import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import {
  Pages, join, notices, openChat, screenshot, send, startServerAndBrowser, statusText, waitForConnections, waitForJoined,
  waitForLive, waitForMessage, waitForNotice, waitForPresence,
} from './harness.mjs';

/** A test with a time limit, so a stuck page fails instead of hanging the run. */
const it = (name, fn) => test(name, { timeout: 30_000 }, fn);

describe('chat page', () => {
  let server;
  let browser;
  let pages;

  before(async () => {
    ({ server, browser } = await startServerAndBrowser());
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

  it('two pages join one room, chat both ways and see each other in presence', async () => {
    const [alice, bob] = await Promise.all([open(), open()]);
    await Promise.all([waitForLive(alice.page), waitForLive(bob.page)]);
    assert.equal(await statusText(alice.page), 'live (WebSocket)');
    assert.equal(await alice.page.evaluate(() => document.body.dataset.transport), 'websocket');

    await join(alice.page, 'alice', 'lobby');
    await join(bob.page, 'bob', 'lobby');
    await waitForPresence(alice.page, ['alice', 'bob']);
    await waitForPresence(bob.page, ['alice', 'bob']);
    await waitForNotice(alice.page, 'lobby', 'bob joined');
    assert.deepEqual(await notices(bob.page, 'lobby'), ['You joined #lobby as bob']);

    await alice.page.getByTestId('message-input').fill('Hello');
    assert.equal(await alice.page.getByTestId('char-counter').innerText(), '5 / 4000');

    await send(alice.page, 'Hello Bob! 👋');
    await waitForMessage(bob.page, 'lobby', 'Hello Bob! 👋', { sender: 'alice' });
    await send(bob.page, 'Hi Alice,\nhow are you?');
    await waitForMessage(alice.page, 'lobby', 'Hi Alice,\nhow are you?', { sender: 'bob' });
    await send(alice.page, 'Fine, thanks. Docs at https://example.com/parley.');
    await waitForMessage(bob.page, 'lobby', 'Fine, thanks. Docs at https://example.com/parley.');
    assert.equal(await alice.page.getByTestId('char-counter').innerText(), '0 / 4000');

    // Own messages are marked as such, others' are not.
    const mine = await alice.page.evaluate(() => [...document.querySelectorAll('[data-testid="messages-lobby"] .msg')]
      .map((m) => [m.querySelector('.sender').textContent, m.classList.contains('own')]));
    assert.deepEqual(mine, [['alice', true], ['bob', false], ['alice', true]]);
    // Links are real links to the URL, built from text.
    assert.equal(await bob.page.locator('.msg-link').getAttribute('href'), 'https://example.com/parley');

    await screenshot(alice.page, '01-two-pages-chatting');
  });

  it('closing a page shows a leave notice and updates presence on the other', async () => {
    const [alice, bob] = await Promise.all([open(), open()]);
    await join(alice.page, 'alice', 'farewell');
    await join(bob.page, 'bob', 'farewell');
    await waitForPresence(alice.page, ['alice', 'bob']);

    await bob.page.close();
    await waitForNotice(alice.page, 'farewell', 'bob left');
    await waitForPresence(alice.page, ['alice']);
  });

  // SockJS over its HTTP transports (and the automatic fallback) are in sockjs.test.mjs.
  for (const [param, expected] of [
    ['websocket', ['live (WebSocket)', 'websocket']],
    ['sockjs', ['live (SockJS: websocket)', 'sockjs-websocket']],
  ]) {
    it(`?transport=${param} uses ${expected[1]} and chats`, async () => {
      const [forced, other] = await Promise.all([open(`/?transport=${param}`), open()]);
      await waitForLive(forced.page);
      assert.equal(await statusText(forced.page), expected[0]);
      assert.equal(await forced.page.evaluate(() => document.body.dataset.transport), expected[1]);
      await join(forced.page, 'forced', `t-${param}`);
      await join(other.page, 'other', `t-${param}`);
      await send(forced.page, `over ${param}`);
      await waitForMessage(other.page, `t-${param}`, `over ${param}`);
      await send(other.page, 'and back');
      await waitForMessage(forced.page, `t-${param}`, 'and back');
    });
  }

  it('HTML and script payloads are shown as text and run nothing', async () => {
    const [mallory, victim] = await Promise.all([open(), open()]);
    await join(mallory.page, '<b>mallory</b>', 'xss');
    await join(victim.page, 'victim', 'xss');
    const payloads = ['<img src=x onerror="window.__xss=1">', '<script>window.__xss=2</script>'];
    for (const payload of payloads) await send(mallory.page, payload);
    for (const payload of payloads) await waitForMessage(victim.page, 'xss', payload, { sender: '<b>mallory</b>' });
    await waitForPresence(victim.page, ['<b>mallory</b>', 'victim']);

    for (const page of [mallory.page, victim.page]) {
      const result = await page.evaluate(() => ({
        xss: window.__xss,
        imgs: document.querySelectorAll('.logs img, .logs script, .logs b, .member-list b').length,
        texts: [...document.querySelectorAll('[data-testid="messages-xss"] .msg-text')].map((t) => t.textContent),
      }));
      assert.equal(result.xss, undefined);
      assert.equal(result.imgs, 0);
      assert.deepEqual(result.texts, payloads);
    }
    await screenshot(victim.page, '04-xss-as-text');
  });

  it('two rooms: switching, and unread counts for the room not shown', async () => {
    const [alice, bob] = await Promise.all([open(), open()]);
    await join(alice.page, 'alice', 'general');
    await join(alice.page, 'alice', 'ops');
    await join(bob.page, 'bob', 'ops');
    await join(bob.page, 'bob', 'general');
    // The room joined last is shown; switch alice to general.
    await alice.page.getByTestId('room-tab-general').click();
    await alice.page.waitForSelector('[data-testid="room-tab-general"][aria-current="page"]');
    await waitForPresence(alice.page, ['alice', 'bob']);
    assert.equal(await alice.page.getByTestId('unread-ops').isHidden(), true);

    await bob.page.getByTestId('room-tab-ops').click();
    await send(bob.page, 'ops one');
    await send(bob.page, 'ops two');
    await waitForMessage(alice.page, 'ops', 'ops two');
    await alice.page.waitForFunction(() => document.querySelector('[data-testid="unread-ops"]').textContent === '2');
    assert.equal(await alice.page.getByTestId('unread-ops').isVisible(), true);
    assert.equal(await alice.page.title(), '(2) #general · Parley');
    // A message in the room being read is not unread.
    await bob.page.getByTestId('room-tab-general').click();
    await send(bob.page, 'general one');
    await waitForMessage(alice.page, 'general', 'general one');
    assert.equal(await alice.page.getByTestId('unread-general').isHidden(), true);
    assert.equal(await alice.page.getByTestId('messages-ops').isHidden(), true);
    await screenshot(alice.page, '06-two-rooms-unread');

    await alice.page.getByTestId('room-tab-ops').click();
    await alice.page.getByTestId('messages-ops').waitFor({ state: 'visible' });
    assert.equal(await alice.page.getByTestId('unread-ops').isHidden(), true);
    assert.equal(await alice.page.getByTestId('messages-general').isHidden(), true);
    assert.equal(await alice.page.title(), '#ops · Parley');
    assert.equal(new URL(alice.page.url()).hash, '#room=ops');

    // Leaving a room tells the others and removes its tab.
    await alice.page.getByTestId('room-leave-ops').click();
    await waitForNotice(bob.page, 'ops', 'alice left');
    await alice.page.getByTestId('room-tab-ops').waitFor({ state: 'detached' });
    await alice.page.waitForSelector('[data-testid="room-tab-general"][aria-current="page"]');
  });

  it('name and rooms survive a reload; #room= in the URL joins that room', async () => {
    const alice = await open('/#room=from-link');
    assert.equal(await alice.page.getByTestId('room-input').inputValue(), 'from-link');
    await join(alice.page, 'alice', 'from-link');
    await join(alice.page, 'alice', 'second');
    await alice.page.reload();
    await waitForJoined(alice.page, 'from-link');
    await waitForJoined(alice.page, 'second');
    assert.equal(await alice.page.getByTestId('name-input').inputValue(), 'alice');
    // The room shown before the reload (its name is in the hash) is shown again.
    await alice.page.waitForSelector('[data-testid="room-tab-second"][aria-current="page"]');
    assert.equal(new URL(alice.page.url()).hash, '#room=second');

    await alice.page.goto(`${server.url}/#room=third`);
    await waitForJoined(alice.page, 'third');
    await alice.page.waitForSelector('[data-testid="room-tab-third"][aria-current="page"]');
  });

  it('rule breaks are explained before anything is sent', async () => {
    const carl = await open();
    await waitForLive(carl.page);
    await carl.page.getByTestId('name-input').fill('carl');
    await carl.page.getByTestId('room-input').fill('no spaces!');
    await carl.page.getByTestId('join-button').click();
    await carl.page.getByTestId('join-error').waitFor({ state: 'visible' });
    assert.match(await carl.page.getByTestId('join-error').innerText(), /^Room names are 1 to 64 characters/);
    assert.equal(await carl.page.locator('.room-item').count(), 0);

    await join(carl.page, 'carl', 'errors');
    // Over the limit from `welcome`: the counter says so and nothing is sent.
    const input = carl.page.getByTestId('message-input');
    await input.fill('x'.repeat(4001));
    assert.equal(await carl.page.getByTestId('char-counter').innerText(), '4001 / 4000');
    await input.press('Enter');
    assert.match(await carl.page.getByTestId('composer-error').innerText(), /^Message too long/);
    assert.equal(await carl.page.locator('[data-testid="messages-errors"] .msg').count(), 0);
  });

  it('server error codes are shown as readable messages', async () => {
    // The page is honest, so a proxy in the test rewrites some of its frames to provoke the real
    // server into not_joined and too_large. rate_limited depends on timing (50 frames/s, bursts of
    // 100), so the proxy answers that one itself, exactly as the server would.
    const dana = await open('/', {
      setup: (context) => context.routeWebSocket(/\/ws$/, (page) => {
        const server = page.connectToServer();
        page.onMessage((message) => {
          const frame = JSON.parse(message);
          if (frame.type === 'publish' && frame.text === 'to another room') frame.room = 'not-mine';
          if (frame.type === 'publish' && frame.text === 'too long') frame.text = 'x'.repeat(4001);
          if (frame.type === 'publish' && frame.text === 'flood') {
            page.send(JSON.stringify({ type: 'error', code: 'rate_limited', message: 'too many frames, slow down', ref: frame.ref }));
            return;
          }
          server.send(JSON.stringify(frame));
        });
      }),
    });
    await join(dana.page, 'dana', 'errors');
    const failure = (text) => dana.page.locator('[data-testid="messages-errors"] .msg.failed')
      .filter({ hasText: text }).locator('.msg-failure');
    const input = dana.page.getByTestId('message-input');
    const error = dana.page.getByTestId('composer-error');

    await input.fill('to another room');
    await input.press('Enter');
    await failure('to another room').waitFor();
    assert.match(await failure('to another room').innerText(), /^Not sent: You are not in this room/);
    assert.match(await error.innerText(), /^You are not in this room/);

    await input.fill('too long');
    await input.press('Enter');
    await failure('too long').waitFor();
    assert.match(await failure('too long').innerText(), /^Not sent: Message too long/);

    await input.fill('flood');
    await input.press('Enter');
    await failure('flood').waitFor();
    assert.match(await failure('flood').innerText(), /^Not sent: Slow down/);
    assert.match(await error.innerText(), /^Slow down/);
    // The connection stays usable, and a failed message can be retried from the box.
    await dana.page.locator('[data-testid="messages-errors"] .msg.failed').filter({ hasText: 'to another room' })
      .getByRole('button', { name: 'Retry' }).click();
    assert.equal(await input.inputValue(), 'to another room');
    await send(dana.page, 'after the errors');
  });

  it('auto-scroll follows new messages, but not a reader who scrolled up', async () => {
    const [reader, writer] = await Promise.all([
      open('/', { viewport: { width: 1000, height: 600 } }),
      open(),
    ]);
    await join(reader.page, 'reader', 'scroll');
    await join(writer.page, 'writer', 'scroll');
    await writer.page.evaluate(() => {
      const box = document.querySelector('[data-testid="message-input"]');
      for (let i = 1; i <= 40; i++) {
        box.value = `line ${i}`;
        box.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true }));
      }
    });
    await waitForMessage(reader.page, 'scroll', 'line 40');
    const atBottom = () => reader.page.evaluate(() => {
      const log = document.querySelector('[data-testid="messages-scroll"]');
      return log.scrollHeight - log.scrollTop - log.clientHeight < 50;
    });
    await reader.page.waitForFunction(() => {
      const log = document.querySelector('[data-testid="messages-scroll"]');
      return log.scrollHeight > log.clientHeight * 2 && log.scrollHeight - log.scrollTop - log.clientHeight < 50;
    });

    await reader.page.evaluate(() => { document.querySelector('[data-testid="messages-scroll"]').scrollTop = 0; });
    await reader.page.waitForFunction(() => document.querySelector('[data-testid="messages-scroll"]').scrollTop === 0);
    await send(writer.page, 'while you were reading');
    await waitForMessage(reader.page, 'scroll', 'while you were reading');
    await reader.page.getByTestId('jump-latest').waitFor({ state: 'visible' });
    assert.equal(await reader.page.getByTestId('jump-latest').innerText(), '1 new message ↓');
    assert.equal(await reader.page.evaluate(() => document.querySelector('[data-testid="messages-scroll"]').scrollTop), 0);

    await reader.page.getByTestId('jump-latest').click();
    assert.equal(await atBottom(), true);
    await reader.page.getByTestId('jump-latest').waitFor({ state: 'hidden' });
    await send(writer.page, 'and now you follow');
    await waitForMessage(reader.page, 'scroll', 'and now you follow');
    await reader.page.waitForFunction(() => {
      const log = document.querySelector('[data-testid="messages-scroll"]');
      return log.scrollHeight - log.scrollTop - log.clientHeight < 50;
    });
  });

  // Regression: when two members of a room disconnected at the same moment, announcing `left` to the
  // second (already closed) WebSocket threw and aborted the first one's disconnect: it stayed in the
  // room's presence, and in GET /health's count, for good. It hit about 1 close in 8.
  it('pages of a room that close at the same moment all leave', async () => {
    const watcher = await open();
    await join(watcher.page, 'watcher', 'exodus');
    for (let round = 1; round <= 2; round++) {
      const names = [1, 2, 3].map((i) => `p${round}-${i}`);
      const leavers = await Promise.all(names.map(() => openChat(browser, `${server.url}/`)));
      await Promise.all(leavers.map((chat, i) => join(chat.page, names[i], 'exodus')));
      await waitForPresence(watcher.page, ['watcher', ...names]);
      await Promise.all(leavers.map((chat) => chat.context.close()));
      await waitForPresence(watcher.page, ['watcher']);
      await waitForConnections(server, 1);
    }
  });

  it('phone-sized screen: rooms on top, members in a drawer', async () => {
    const [phone, desk] = await Promise.all([
      open('/#room=pocket', { viewport: { width: 390, height: 844 }, mobile: true }),
      open(),
    ]);
    await join(desk.page, 'desk', 'pocket');
    await phone.page.getByTestId('name-input').fill('phone');
    await phone.page.getByTestId('join-button').click();
    await waitForJoined(phone.page, 'pocket');
    // After joining, the join form folds away and the member list is behind a button.
    await phone.page.getByTestId('name-input').waitFor({ state: 'hidden' });
    assert.equal(await phone.page.getByTestId('presence').isHidden(), true);
    await send(desk.page, 'hello small screen');
    await waitForMessage(phone.page, 'pocket', 'hello small screen');
    await send(phone.page, 'hello from a phone, with a longer line of text that has to wrap nicely on a narrow screen');
    // Nothing may stick out sideways.
    assert.equal(await phone.page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), true);
    await screenshot(phone.page, '05-phone-390x844');

    await phone.page.getByTestId('members-toggle').click();
    await phone.page.getByTestId('presence').waitFor({ state: 'visible' });
    await waitForPresence(phone.page, ['desk', 'phone']);
    await screenshot(phone.page, '05b-phone-members');
    await phone.page.getByTestId('presence-close').click();
    await phone.page.getByTestId('presence').waitFor({ state: 'hidden' });
  });

  it('two members with the same name are told apart, and invisible names are refused', async () => {
    const [first, second, observer] = await Promise.all([open(), open(), open()]);
    await Promise.all([waitForLive(first.page), waitForLive(second.page), waitForLive(observer.page)]);
    await join(first.page, 'sam', 'twins');
    await join(second.page, 'sam', 'twins');
    await join(observer.page, 'olga', 'twins');
    await waitForPresence(observer.page, ['olga', 'sam', 'sam']);
    const tags = await observer.page.evaluate(() => [...document.querySelectorAll('[data-testid="presence"] .member')]
      .filter((m) => m.querySelector('.member-name').textContent === 'sam')
      .map((m) => m.querySelector('.session-tag')?.textContent));
    assert.equal(tags.length, 2);
    assert.ok(tags.every((t) => /^#.{4}$/.test(t ?? '')), `each sam carries a session tag: ${tags}`);
    assert.notEqual(tags[0], tags[1]);

    await send(first.page, 'which sam am I?');
    await waitForMessage(observer.page, 'twins', 'which sam am I?', { sender: 'sam' });
    const messageTag = await observer.page.evaluate(() => [...document.querySelectorAll('[data-testid="messages-twins"] .msg')]
      .find((m) => m.querySelector('.msg-text').textContent === 'which sam am I?').querySelector('.session-tag')?.textContent);
    assert.ok(tags.includes(messageTag), `the message names its sam: ${messageTag}`);

    // a name made of an invisible filler is refused before it is sent
    await observer.page.getByTestId('name-input').fill('\u3164');
    await observer.page.getByTestId('room-input').fill('elsewhere');
    await observer.page.getByTestId('join-button').click();
    await observer.page.getByText('Names are 1 to 32 visible characters').first().waitFor({ timeout: 5_000 });
  });

  it('switching rooms moves the highlight; on a phone long words wrap and an over-long text blocks Send', async () => {
    const desk = await open();
    await waitForLive(desk.page);
    await join(desk.page, 'pat', 'first');
    await join(desk.page, 'pat', 'second');
    const current = () => desk.page.evaluate(() => [...document.querySelectorAll('.room-tab[aria-current]')]
      .map((t) => t.dataset.testid));
    assert.deepEqual(await current(), ['room-tab-second'], 'only the room just joined is current');
    await desk.page.getByTestId('room-tab-first').click();
    assert.deepEqual(await current(), ['room-tab-first'], 'switching moves aria-current');
    assert.equal(await desk.page.locator('.room-item.active').count(), 1, 'one highlighted tab');

    const phone = await open('/#room=pocket', { viewport: { width: 390, height: 844 }, mobile: true });
    await phone.page.getByTestId('name-input').fill('phone');
    await phone.page.getByTestId('join-button').click();
    await waitForJoined(phone.page, 'pocket');
    // a 287-character URL without a break must not push Send off the screen
    const url = `https://example.com/${'a'.repeat(267)}`;
    await phone.page.getByTestId('message-input').fill(url);
    const box = await phone.page.getByTestId('send-button').boundingBox();
    assert.ok(box && box.x + box.width <= 390, `Send stays on screen: ${JSON.stringify(box)}`);
    const scrollWidth = await phone.page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(scrollWidth <= 390, `the page does not widen: ${scrollWidth}`);

    // over the limit: Send is disabled and the error says why; clearing the box clears both
    await phone.page.getByTestId('message-input').fill('x'.repeat(4001));
    assert.equal(await phone.page.getByTestId('send-button').isDisabled(), true);
    assert.equal(await phone.page.getByTestId('composer-error').isVisible(), true);
    await phone.page.getByTestId('message-input').fill('');
    assert.equal(await phone.page.getByTestId('composer-error').isVisible(), false);
    assert.equal(await phone.page.getByTestId('send-button').isDisabled(), false);
  });
});
