// History and recovery on the page: a page that loses the network while the other sends 20 messages
// shows all 20 once it is back, and its own message typed while offline is posted once; a reload shows
// the recent conversation with a divider where live messages begin.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  RECONNECT_TIMEOUT_MS, assertNoProblems, closeChat, join, openChat, send, startServerAndBrowser, waitForJoined,
  waitForLive, waitForMessage,
} from './harness.mjs';

const it = (name, fn) => test(name, { timeout: 90_000 }, fn);

/** Texts of the messages in a room's log, in order. */
function messageTexts(page, room) {
  return page.evaluate((r) => [...document.querySelectorAll(`[data-testid="messages-${r}"] .msg .msg-text`)]
    .map((m) => m.textContent), room);
}

describe('history and recovery', () => {
  let server;
  let browser;

  before(async () => {
    ({ server, browser } = await startServerAndBrowser());
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('a page that was offline gets every missed message once, and what it typed meanwhile is posted once', async () => {
    const [alice, bob] = await Promise.all([openChat(browser, `${server.url}/`), openChat(browser, `${server.url}/`)]);
    try {
      await join(alice.page, 'alice', 'cut');
      await join(bob.page, 'bob', 'cut');
      await send(bob.page, 'before the cut');
      await waitForMessage(alice.page, 'cut', 'before the cut');

      await alice.context.setOffline(true);
      await alice.page.waitForFunction(() => document.body.dataset.state !== 'live');
      const missed = Array.from({ length: 20 }, (_, i) => `missed ${i}`);
      for (const text of missed) await send(bob.page, text);
      // typed while offline: kept on the page, sent once the room is joined again
      await alice.page.getByTestId('message-input').fill('typed while offline');
      await alice.page.getByTestId('message-input').press('Enter');

      await alice.context.setOffline(false);
      await waitForLive(alice.page, { timeout: RECONNECT_TIMEOUT_MS });
      await waitForJoined(alice.page, 'cut');
      await waitForMessage(alice.page, 'cut', 'missed 19');
      await waitForMessage(bob.page, 'cut', 'typed while offline', { sender: 'alice' });
      await send(bob.page, 'after the cut');
      await waitForMessage(alice.page, 'cut', 'after the cut');

      assert.deepEqual(await messageTexts(alice.page, 'cut'),
        ['before the cut', ...missed, 'typed while offline', 'after the cut'], 'every message once, in order');
      const bobSees = await messageTexts(bob.page, 'cut');
      assert.equal(bobSees.filter((t) => t === 'typed while offline').length, 1, 'posted once');
      assert.equal(await alice.page.locator('[data-testid="messages-cut"] .notice-gap').count(), 0, 'recovered: no gap notice');
      await assertNoProblems(alice);
      await assertNoProblems(bob);
    } finally {
      await Promise.all([closeChat(alice), closeChat(bob)]);
    }
  });

  it('a reload shows the recent conversation, then a divider, then live messages', async () => {
    const [carol, dan] = await Promise.all([openChat(browser, `${server.url}/`), openChat(browser, `${server.url}/`)]);
    try {
      await join(carol.page, 'carol', 'kept');
      await join(dan.page, 'dan', 'kept');
      await send(dan.page, 'one');
      await send(carol.page, 'two');
      await waitForMessage(carol.page, 'kept', 'one');

      await carol.page.reload();
      await waitForJoined(carol.page, 'kept');
      await waitForMessage(carol.page, 'kept', 'two');
      await carol.page.waitForSelector('[data-testid="messages-kept"] [data-testid="history-divider"]', { state: 'attached' });
      await send(dan.page, 'three');
      await waitForMessage(carol.page, 'kept', 'three');
      const order = await carol.page.evaluate(() => [...document.querySelectorAll('[data-testid="messages-kept"] .msg, [data-testid="messages-kept"] .history-divider')]
        .map((n) => (n.classList.contains('history-divider') ? '---' : n.querySelector('.msg-text').textContent)));
      assert.deepEqual(order, ['one', 'two', '---', 'three']);
      await assertNoProblems(carol);
      await assertNoProblems(dan);
    } finally {
      await Promise.all([closeChat(carol), closeChat(dan)]);
    }
  });
});
