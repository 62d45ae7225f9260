// The chat page behind a real nginx that balances plain round robin over three nodes (a Hazelcast
// cluster, then three nodes on one Redis), with no session affinity: every SockJS transport forced, and a browser without WebSocket
// (the automatic fallback), chat together. Each polling or streaming request may land on any node.

import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import {
  Pages, join, launchBrowser, statusText, screenshot, send, startCluster, startNginx, startRedis, startRedisNodes,
  waitForLive, waitForMessage, waitForPresence,
} from './harness.mjs';

const it = (name, fn) => test(name, { timeout: 90_000 }, fn);

/** Texts of a room's messages from `sender`, in the order the page shows them. */
function textsFrom(page, room, sender) {
  return page.evaluate(({ r, s }) => [...document.querySelectorAll(`[data-testid="messages-${r}"] .msg`)]
    .filter((m) => m.querySelector('.sender').textContent === s)
    .map((m) => m.querySelector('.msg-text').textContent), { r: room, s: sender });
}

for (const cluster of ['hazelcast', 'redis']) describe(`behind a load balancer without affinity (${cluster})`, () => {
  let nodes = [];
  let redis;
  let nginx;
  let browser;
  let pages;

  before(async () => {
    if (cluster === 'redis') {
      redis = await startRedis();
      nodes = await startRedisNodes(3, redis.uri);
    } else {
      nodes = await startCluster(3);
    }
    nginx = await startNginx(nodes.map((n) => n.port));
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await nginx?.stop();
    await Promise.all(nodes.map((n) => n.stop()));
    await redis?.stop();
  });

  beforeEach(() => {
    pages = new Pages(browser, nginx);
  });

  // the balancer's /health answers for one node at a time: no waiting for every node's count to settle
  afterEach(() => pages.closeAll({ settle: false }));

  it('every SockJS transport, and a browser without WebSocket, chat through nginx', async () => {
    const modes = ['sockjs-websocket', 'xhr-streaming', 'xhr-polling', 'eventsource', 'htmlfile', 'jsonp-polling'];
    const chats = await Promise.all([
      ...modes.map((mode) => pages.open(`/?transport=${mode}`)),
      pages.open('/', { noWebSocket: true }),
    ]);
    const names = [...modes.map((m) => m.replace('-', '')), 'nows'];
    const expected = (mode) => (mode === 'sockjs-websocket' ? 'websocket' : mode);
    await Promise.all(chats.map(async (c, i) => {
      try {
        await waitForLive(c.page, { timeout: 20_000 });
      } catch (e) {
        throw new Error(`${names[i]} page not live: ${await statusText(c.page)}`);
      }
    }));
    const transports = await Promise.all(chats.map((c) => c.page.evaluate(() => document.body.dataset.transport)));
    for (let i = 0; i < modes.length; i++) {
      assert.match(transports[i], new RegExp(`^sockjs-(iframe-)?${expected(modes[i])}$`), `${modes[i]} page: ${transports[i]}`);
    }
    assert.match(transports[modes.length], /^sockjs-(xhr-streaming|eventsource|xhr-polling)$/);

    for (let i = 0; i < chats.length; i++) {
      try {
        await join(chats[i].page, names[i], 'lb', { timeout: 20_000 });
      } catch (e) {
        throw new Error(`${names[i]} could not join: ${await statusText(chats[i].page)} (${transports[i]})`);
      }
    }
    await Promise.all(chats.map((c) => waitForPresence(c.page, names, { timeout: 20_000 })));
    for (let round = 1; round <= 3; round++) {
      await Promise.all(chats.map((c, i) => send(c.page, `${names[i]} says ${round}`)));
    }
    for (const c of chats) {
      for (const sender of names) {
        await waitForMessage(c.page, 'lb', `${sender} says 3`, { sender, timeout: 20_000 });
        assert.deepEqual(await textsFrom(c.page, 'lb', sender), [1, 2, 3].map((r) => `${sender} says ${r}`),
          `each of ${sender}'s messages once, in order`);
      }
    }
    await screenshot(chats[0].page, `20-behind-nginx-${cluster}`);
  });

  // Last in this group: it kills one of the nodes.
  it('a node killed mid-chat: every page chats again within 10 s', async () => {
    const modes = ['xhr-polling', 'xhr-streaming', 'eventsource', 'sockjs-websocket'];
    const chats = await Promise.all([...modes.map((mode) => pages.open(`/?transport=${mode}`)), pages.open('/', { noWebSocket: true })]);
    const names = [...modes.map((m) => m.replace('-', '')), 'nows'];
    await Promise.all(chats.map((c) => waitForLive(c.page, { timeout: 20_000 })));
    for (let i = 0; i < chats.length; i++) {
      await join(chats[i].page, names[i], 'kill', { timeout: 20_000 });
    }
    await Promise.all(chats.map((c) => waitForPresence(c.page, names, { timeout: 20_000 })));

    const killedAt = Date.now();
    await nodes[0].stop('SIGKILL');
    // each page says something once it can, until every page has heard every other's latest word
    const deadline = killedAt + 10_000;
    for (let round = 1; ; round++) {
      assert.ok(Date.now() < deadline, `not every page chatted again within 10 s (round ${round})`);
      // typed while the page may be reconnecting: it keeps what was typed and sends it once live
      await Promise.all(chats.map(async (c, i) => {
        const input = c.page.getByTestId('message-input');
        await input.fill(`${names[i]} after ${round}`);
        await input.press('Enter');
      }));
      const heard = await Promise.all(chats.map((c) => Promise.all(names.map((sender) =>
        waitForMessage(c.page, 'kill', `${sender} after ${round}`, { sender, timeout: 1_000 }).then(() => true, () => false)))));
      if (heard.every((row) => row.every(Boolean))) break;
    }
    console.log(`every page chatted again ${Date.now() - killedAt} ms after the kill (${cluster})`);
  });
});
