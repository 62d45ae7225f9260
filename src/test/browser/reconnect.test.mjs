// Server restart: the page shows it is reconnecting, comes back by itself, rejoins its rooms without
// repeating join notices, says that the restarted server could not replay what was missed, and chats again. Has its own server, since it stops and restarts it.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  RECONNECT_TIMEOUT_MS, assertNoProblems, closeChat, join, notices, openChat, screenshot, send, startServer,
  startServerAndBrowser, statusText, waitForJoined, waitForLive, waitForMessage, waitForPresence,
} from './harness.mjs';

/** A test with a time limit, so a stuck page fails instead of hanging the run. */
const it = (name, fn) => test(name, { timeout: 90_000 }, fn);

describe('reconnect', () => {
  let server;
  let browser;

  before(async () => {
    ({ server, browser } = await startServerAndBrowser());
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('after a server restart the page reconnects, rejoins its rooms and chats again', async () => {
    const [alice, bob] = await Promise.all([openChat(browser, `${server.url}/`), openChat(browser, `${server.url}/`)]);
    try {
      await join(alice.page, 'alice', 'lobby');
      await join(alice.page, 'alice', 'ops');
      await join(bob.page, 'bob', 'ops');
      await waitForPresence(alice.page, ['alice', 'bob']);
      await send(bob.page, 'before the restart');
      await waitForMessage(alice.page, 'ops', 'before the restart');
      const noticesBefore = await notices(alice.page, 'ops');
      assert.deepEqual(noticesBefore, ['You joined #ops as alice', 'bob joined']);

      const { port } = server;
      await server.stop('SIGTERM');

      await alice.page.waitForFunction(() => document.body.dataset.state === 'reconnecting');
      await alice.page.waitForFunction(() => /^reconnecting in \d+ s/.test(document.querySelector('[data-testid="status"]').innerText));
      assert.equal(await alice.page.evaluate(() => document.body.dataset.transport), '');
      await alice.page.waitForSelector('[data-testid="room-tab-ops"][data-status="offline"]');
      await screenshot(alice.page, '03-reconnecting');

      server = await startServer({ port });

      for (const chat of [alice, bob]) {
        await waitForLive(chat.page, { timeout: RECONNECT_TIMEOUT_MS });
      }
      assert.equal(await statusText(alice.page), 'live (WebSocket)');
      await waitForJoined(alice.page, 'lobby');
      await waitForJoined(alice.page, 'ops');
      await waitForJoined(bob.page, 'ops');
      await waitForPresence(alice.page, ['alice', 'bob']);
      await waitForPresence(bob.page, ['alice', 'bob']);

      await send(bob.page, 'after the restart');
      await waitForMessage(alice.page, 'ops', 'after the restart', { sender: 'bob' });
      await send(alice.page, 'welcome back');
      await waitForMessage(bob.page, 'ops', 'welcome back', { sender: 'alice' });
      // Both rooms work again, and nobody's re-join showed up as news. The restarted server kept its
      // history in memory, so it cannot replay what was said meanwhile: the page says so, once per room.
      await alice.page.getByTestId('room-tab-lobby').click();
      await send(alice.page, 'lobby works too');
      const gap = "Some messages may be missing: the server's history was reset while you were away.";
      assert.deepEqual(await notices(alice.page, 'ops'), [...noticesBefore, gap]);
      assert.deepEqual(await notices(alice.page, 'lobby'), ['You joined #lobby as alice', gap]);
      assert.deepEqual(await notices(bob.page, 'ops'), ['You joined #ops as bob', gap]);
      // The history from before the restart is still on screen.
      await waitForMessage(alice.page, 'ops', 'before the restart');
      await assertNoProblems(alice);
      await assertNoProblems(bob);
    } finally {
      await Promise.all([closeChat(alice), closeChat(bob)]);
    }
  });
});
