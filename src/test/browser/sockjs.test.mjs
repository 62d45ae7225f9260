// The chat page over SockJS's HTTP transports: the automatic fallback when WebSocket is missing or
// broken, and the transports forced with ?transport=.

import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import {
  Pages, assertNoProblems, closeChat, join, screenshot, send, startServerAndBrowser, statusText, waitForLive, waitForMessage, waitForNotice, waitForPresence,
} from './harness.mjs';

/** A test with a time limit, so a stuck page fails instead of hanging the run. */
const it = (name, fn) => test(name, { timeout: 30_000 }, fn);

const HTTP_FALLBACK = /^live \(SockJS fallback: (xhr-streaming|eventsource|xhr-polling)\)$/;

describe('SockJS', () => {
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

  it('without WebSocket the page falls back to SockJS and chats with a WebSocket page', async () => {
    const [native, fallback] = await Promise.all([open(), open('/', { noWebSocket: true })]);
    await waitForLive(fallback.page);
    assert.match(await statusText(fallback.page), HTTP_FALLBACK);
    assert.match(await fallback.page.evaluate(() => document.body.dataset.transport),
      /^sockjs-(xhr-streaming|eventsource|xhr-polling)$/);

    await join(native.page, 'wendy', 'mixed');
    await join(fallback.page, 'sam', 'mixed');
    await waitForPresence(native.page, ['wendy', 'sam']);
    await waitForPresence(fallback.page, ['wendy', 'sam']);
    await send(fallback.page, 'sent over SockJS');
    await waitForMessage(native.page, 'mixed', 'sent over SockJS', { sender: 'sam' });
    await send(native.page, 'sent over WebSocket');
    await waitForMessage(fallback.page, 'mixed', 'sent over WebSocket', { sender: 'wendy' });
    await screenshot(fallback.page, '02-sockjs-fallback');

    // A SockJS page going away is announced too.
    await assertNoProblems(fallback);
    await closeChat(fallback);
    await waitForNotice(native.page, 'mixed', 'sam left');
    await waitForPresence(native.page, ['wendy']);
  });

  it('a WebSocket that fails before welcome falls back to SockJS over HTTP', async () => {
    // The native /ws handshake is answered by a mock that closes at once (a broken proxy, say);
    // SockJS's own WebSocket endpoint (/sockjs/.../websocket) is not touched.
    let nativeTries = 0;
    const fiona = await open('/', {
      setup: (context) => context.routeWebSocket(/\/ws$/, (ws) => {
        nativeTries++;
        ws.close({ code: 1011, reason: 'broken proxy' });
      }),
    });
    const native = await open();
    await waitForLive(fiona.page);
    assert.match(await statusText(fiona.page), HTTP_FALLBACK);
    // One try, or two when the page double-checks after a refusal before it opened.
    assert.ok(nativeTries >= 1 && nativeTries <= 2, `native tries: ${nativeTries}`);
    await join(fiona.page, 'fiona', 'fallback');
    await join(native.page, 'nina', 'fallback');
    await send(fiona.page, 'still here');
    await waitForMessage(native.page, 'fallback', 'still here', { sender: 'fiona' });
  });

  for (const transport of ['xhr-polling', 'xhr-streaming', 'eventsource']) {
    it(`?transport=${transport} forces that SockJS transport and chats with a WebSocket page`, async () => {
      const [forced, native] = await Promise.all([open(`/?transport=${transport}`), open()]);
      await waitForLive(forced.page);
      assert.equal(await statusText(forced.page), `live (SockJS: ${transport})`);
      assert.equal(await forced.page.evaluate(() => document.body.dataset.transport), `sockjs-${transport}`);
      await join(native.page, 'wendy', 'forced');
      await join(forced.page, 'paula', 'forced');
      await waitForPresence(native.page, ['wendy', 'paula']);
      await waitForPresence(forced.page, ['wendy', 'paula']);
      await send(forced.page, `sent over ${transport}`);
      await waitForMessage(native.page, 'forced', `sent over ${transport}`, { sender: 'paula' });
      await send(native.page, `${transport} receives too`);
      await waitForMessage(forced.page, 'forced', `${transport} receives too`, { sender: 'wendy' });
    });
  }

  // Regression: the server once filed every SockJS HTTP session under the same id (vertx-web reads
  // the id from the request parameter "param0", which an earlier pathRegex route had set to
  // "sockjs"), so a second such page got c[2010,"Another connection still open"].
  it('two SockJS HTTP-transport pages at the same time see each other', async () => {
    const [one, two] = await Promise.all([open('/?transport=xhr-streaming'), open('/?transport=xhr-polling')]);
    await Promise.all([waitForLive(one.page), waitForLive(two.page)]);
    await join(one.page, 'one', 'twins');
    await join(two.page, 'two', 'twins');
    await waitForPresence(one.page, ['one', 'two']);
    await waitForPresence(two.page, ['one', 'two']);
    await send(two.page, 'polling to streaming');
    await waitForMessage(one.page, 'twins', 'polling to streaming', { sender: 'two' });
    await send(one.page, 'streaming to polling');
    await waitForMessage(two.page, 'twins', 'streaming to polling', { sender: 'one' });
  });
});
