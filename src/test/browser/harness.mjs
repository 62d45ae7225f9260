// Shared helpers for the real-browser tests: the real Parley server (the built jar), headless system
// Chromium through playwright-core, and page helpers that wait on the DOM (never on fixed sleeps).

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The repository root (this file lives in src/test/browser/). */
export const ROOT = path.resolve(here, '..', '..', '..');
export const JAR = path.resolve(ROOT, process.env.PARLEY_JAR || 'target/parley.jar');
export const SCREENSHOTS = path.join(ROOT, 'target', 'browser-screenshots');

/** How long to wait for something a live page should show promptly. */
export const EVENT_TIMEOUT_MS = 10_000;
/** How long a page may take to come back after the server restarts (backoff included). */
export const RECONNECT_TIMEOUT_MS = 30_000;
const HEALTH_TIMEOUT_MS = 30_000;
const HEALTH_POLL_MS = 100;

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

// ---- server ----------------------------------------------------------------------------------

/** A free TCP port on the loopback interface (bind to 0, read it, close). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts the real server from the jar, cwd = repository root (so it serves webroot/ from disk), and
 * waits for GET /health = 200.
 * @param {{port?: number, args?: string[], javaOptions?: string[], env?: Record<string, string>}} [options]
 *        env: more environment variables for the server (PARLEY_HTTP_PORT is always the chosen port)
 */
export async function startServer({ port, args = ['-conf', 'conf/config.json'], javaOptions = [], env = {} } = {}) {
  if (!existsSync(JAR)) {
    throw new Error(`${JAR} is missing: build it first with "mvn -B -q package -DskipTests" (or set PARLEY_JAR)`);
  }
  const chosenPort = port ?? await freePort();
  const java = process.env.JAVA || 'java';
  const child = spawn(java, [...javaOptions, '-jar', JAR, ...args], {
    cwd: ROOT,
    env: { ...process.env, PARLEY_MANAGEMENT_PORT: '0', ...env, PARLEY_HTTP_PORT: String(chosenPort) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk) => {
    output += chunk.toString();
    if (output.length > 200_000) output = output.slice(-100_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  let done = false;
  let stopping = false;
  exited.then(({ code, signal }) => {
    done = true;
    if (!stopping) {
      // Not asked to stop: say so loudly, since every page test after this one will fail.
      process.stderr.write(`\n[parley server on port ${chosenPort} exited unexpectedly: code=${code} signal=${signal}]\n`
        + `${output.slice(-4_000)}\n`);
    }
  });

  const server = {
    port: chosenPort,
    url: `http://127.0.0.1:${chosenPort}`,
    process: child,
    output: () => output,
    exited,
    /** Stops the server (SIGTERM, then SIGKILL after 15 s) and resolves once the process is gone. */
    async stop(signal = 'SIGTERM') {
      if (done) return exited;
      stopping = true;
      child.kill(signal);
      const timer = setTimeout(() => { if (!done) child.kill('SIGKILL'); }, 15_000);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };

  const deadline = Date.now() + HEALTH_TIMEOUT_MS;
  for (;;) {
    if (done) {
      stopping = true;
      throw new Error(`server exited before it was healthy (${JSON.stringify(await exited)}):\n${output}`);
    }
    try {
      const response = await fetch(`${server.url}/health`, { signal: AbortSignal.timeout(2_000) });
      if (response.status === 200) {
        await response.arrayBuffer();
        return server;
      }
    } catch (e) {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await server.stop('SIGKILL');
      throw new Error(`server not healthy within ${HEALTH_TIMEOUT_MS} ms:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, HEALTH_POLL_MS));
  }
}

/**
 * Starts `size` nodes of a Hazelcast cluster from the jar (conf/config-cluster.json, the shipped
 * conf/cluster.xml under a cluster name of their own), each on its own port.
 */
export async function startCluster(size) {
  const { readFileSync, writeFileSync, mkdtempSync } = await import('node:fs');
  const os = await import('node:os');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'parley-cluster-'));
  const xml = path.join(dir, 'cluster.xml');
  writeFileSync(xml, readFileSync(path.join(ROOT, 'conf', 'cluster.xml'), 'utf8')
    .replace('<cluster-name>parley</cluster-name>', `<cluster-name>parley-browser-${process.pid}-${Date.now()}</cluster-name>`));
  const started = await Promise.allSettled(Array.from({ length: size }, () => startServer({
    args: ['-conf', 'conf/config-cluster.json', '-cluster', '-cluster-host', '127.0.0.1'],
    javaOptions: [`-Dvertx.hazelcast.config=${xml}`],
  })));
  const nodes = started.filter((s) => s.status === 'fulfilled').map((s) => s.value);
  if (nodes.length < size) {
    await Promise.all(nodes.map((n) => n.stop()));
    throw started.find((s) => s.status === 'rejected').reason;
  }
  return nodes;
}

/** Waits (bounded, 10 s) until `port` on loopback accepts connections; kills `child` and fails otherwise. */
async function waitForPort(port, child, what) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const up = await new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => { socket.destroy(); resolve(true); });
      socket.on('error', () => resolve(false));
    });
    if (up) return;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${what} did not start`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * A redis-server of its own (Debian's package; `.ci/run` installs it) on a free loopback port, nothing saved.
 */
export async function startRedis() {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' });
  await waitForPort(port, child, 'redis-server');
  return {
    uri: `redis://127.0.0.1:${port}`,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}

/** Starts `size` nodes sharing one Redis (the Redis broker), each on its own port. */
export async function startRedisNodes(size, uri) {
  const conf = JSON.stringify({ broker: { type: 'redis', redisUri: uri } });
  const started = await Promise.allSettled(Array.from({ length: size }, () => startServer({ args: ['-conf', conf] })));
  const nodes = started.filter((s) => s.status === 'fulfilled').map((s) => s.value);
  if (nodes.length < size) {
    await Promise.all(nodes.map((n) => n.stop()));
    throw started.find((s) => s.status === 'rejected').reason;
  }
  return nodes;
}

/**
 * A real nginx (Debian's package) on a free loopback port, plain round robin over `ports` with no session
 * affinity, passing WebSocket upgrades: the configuration docs/scaling.md gives.
 */
export async function startNginx(ports) {
  const { writeFileSync, mkdtempSync } = await import('node:fs');
  const os = await import('node:os');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'parley-nginx-'));
  const port = await freePort();
  writeFileSync(path.join(dir, 'nginx.conf'), `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  upstream parley { ${ports.map((p) => `server 127.0.0.1:${p};`).join(' ')} }
  map $http_upgrade $connection_upgrade { default upgrade; '' close; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://parley;
      proxy_http_version 1.1;
      proxy_set_header Host $http_host;   # with the port: the origin check compares it
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_buffering off;
      proxy_read_timeout 120s;
    }
  }
}
`);
  const child = spawn('/usr/sbin/nginx', ['-p', dir, '-c', path.join(dir, 'nginx.conf')], { stdio: 'ignore' });
  await waitForPort(port, child, 'nginx');
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}

/**
 * Starts the server and the browser together. If either fails, the other is shut down again, so a
 * failed `before` never leaves a process behind that keeps the test runner alive.
 * @param {Parameters<typeof startServer>[0]} [serverOptions]  as for startServer
 */
export async function startServerAndBrowser(serverOptions = {}) {
  const [server, browser] = await Promise.allSettled([startServer(serverOptions), launchBrowser()]);
  if (server.status === 'fulfilled' && browser.status === 'fulfilled') {
    return { server: server.value, browser: browser.value };
  }
  if (server.status === 'fulfilled') await server.value.stop();
  if (browser.status === 'fulfilled') await browser.value.close();
  throw server.status === 'rejected' ? server.reason : browser.reason;
}

/** How many connections (all transports) the server counts, from GET /health. */
export async function connectionCount(server) {
  const response = await fetch(`${server.url}/health`, { signal: AbortSignal.timeout(2_000) });
  return (await response.json()).connections;
}

/**
 * Polls GET /health until the server's connection count satisfies `accept` (a number means exactly
 * that many).
 */
export async function waitForConnections(server, accept, { timeout = 15_000 } = {}) {
  const ok = typeof accept === 'number' ? (n) => n === accept : accept;
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await connectionCount(server);
      if (ok(last)) return;
    } catch (e) {
      last = String(e);
    }
    if (Date.now() > deadline) throw new Error(`server still counts ${last} connections (expected ${accept})`);
    await new Promise((resolve) => setTimeout(resolve, HEALTH_POLL_MS));
  }
}

/**
 * The management listener's base URL (`http://127.0.0.1:<port>`, no trailing slash). The harness starts
 * servers with PARLEY_MANAGEMENT_PORT=0, so the port is read from the line the server logs once it listens:
 * `management listening on http://<host>:<port>/ (...)`. Call it soon after the start: the output kept is
 * bounded (the oldest lines go first).
 */
export async function managementUrl(server, { timeout = 10_000 } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const found = /management listening on (http:\/\/[^\s/]+)\//.exec(server.output());
    if (found) return found[1];
    if (Date.now() > deadline) throw new Error(`no "management listening on" line in the server's output:\n${server.output().slice(-4_000)}`);
    await new Promise((resolve) => setTimeout(resolve, HEALTH_POLL_MS));
  }
}

// ---- browser ---------------------------------------------------------------------------------

export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
  });
}

/** Records what must never happen on the page: uncaught errors and CSP violations. */
async function watchProblems(context) {
  const problems = [];
  await context.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (event) => {
      window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI} ${event.sourceFile}:${event.lineNumber}`);
    });
  });
  context.on('weberror', (error) => problems.push(`page error: ${error.error().message}`));
  context.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) problems.push(`console: ${message.text()}`);
  });
  return problems;
}

/**
 * Opens the chat page in a fresh browser context (own localStorage, own connection).
 * @param {import('playwright-core').Browser} browser
 * @param {string} url  page URL (query and hash included)
 * @param {{viewport?: {width: number, height: number}, noWebSocket?: boolean, mobile?: boolean,
 *          setup?: (context: import('playwright-core').BrowserContext) => Promise<void>}} [options]
 *        setup runs before the page is loaded (routes, init scripts)
 */
export async function openChat(browser, url, {
  viewport = { width: 1200, height: 760 }, noWebSocket = false, mobile = false, setup,
} = {}) {
  const context = await browser.newContext({
    viewport,
    ...(mobile ? { isMobile: true, hasTouch: true, deviceScaleFactor: 2 } : {}),
  });
  context.setDefaultTimeout(EVENT_TIMEOUT_MS);
  const problems = await watchProblems(context);
  if (noWebSocket) {
    await context.addInitScript(() => {
      delete window.WebSocket;
      window.WebSocket = undefined;
    });
  }
  if (setup) await setup(context);
  const page = await context.newPage();
  await page.goto(url);
  return { context, page, problems };
}

/** Fails when the page had an uncaught error or a CSP violation. */
export async function assertNoProblems(chat) {
  const violations = chat.page.isClosed() ? [] : await chat.page.evaluate(() => window.__cspViolations || []);
  const all = [...chat.problems, ...violations.map((v) => `CSP violation: ${v}`)];
  if (all.length) throw new Error(`problems on the page:\n${all.join('\n')}`);
}

/**
 * Closes a page the way a person closes a tab (unload handlers run, so the page says goodbye), then
 * its context. A SockJS polling session would otherwise linger on the server until it times out.
 */
export async function closeChat(chat) {
  if (!chat.page.isClosed()) {
    const closed = new Promise((resolve) => chat.page.once('close', resolve));
    await chat.page.close({ runBeforeUnload: true });
    await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 2_000))]);
  }
  await chat.context.close();
}

/**
 * The pages one test opened: each in its own context, checked for problems and closed by closeAll().
 */
export class Pages {
  constructor(browser, server) {
    this.browser = browser;
    this.server = server;
    this.chats = [];
  }

  async open(pathAndQuery = '/', options = {}) {
    const chat = await openChat(this.browser, `${this.server.url}${pathAndQuery}`, options);
    this.chats.push(chat);
    return chat;
  }

  /**
   * Fails on page errors or CSP violations and closes every page. Pages are closed one at a time,
   * and with `settle` each live page's connection must be gone from the server before the next page
   * closes (the server can lose a member when two connections of a room close at the same moment:
   * see known-server-bugs.test.mjs), and the server must end up with no connections, so the next
   * test starts clean.
   */
  async closeAll({ settle = true } = {}) {
    const opened = this.chats.reverse();
    this.chats = [];
    let problems = null;
    for (const chat of opened) {
      try {
        await assertNoProblems(chat);
      } catch (e) {
        problems ??= e;
      }
    }
    for (const chat of opened) {
      const live = settle && !chat.page.isClosed()
        && await chat.page.evaluate(() => document.body.dataset.state === 'live').catch(() => false);
      const before = live ? await connectionCount(this.server) : 0;
      await closeChat(chat);
      if (live) await waitForConnections(this.server, (n) => n < before);
    }
    if (settle) await waitForConnections(this.server, 0);
    if (problems) throw problems;
  }
}

export async function screenshot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`) });
}

// ---- page helpers ----------------------------------------------------------------------------

export async function waitForLive(page, { timeout = EVENT_TIMEOUT_MS } = {}) {
  await page.waitForFunction(() => document.body.dataset.state === 'live', null, { timeout });
}

export function statusText(page) {
  return page.locator('[data-testid="status"]').innerText();
}

/** Fills name and room, clicks Join, waits until the server confirmed (tab status `joined`). */
export async function join(page, name, room, { timeout = EVENT_TIMEOUT_MS } = {}) {
  await page.getByTestId('name-input').fill(name);
  await page.getByTestId('room-input').fill(room);
  await page.getByTestId('join-button').click();
  await waitForJoined(page, room, { timeout });
}

export async function waitForJoined(page, room, { timeout = EVENT_TIMEOUT_MS } = {}) {
  await page.waitForSelector(`[data-testid="room-tab-${room}"][data-status="joined"]`, { timeout });
}

/** Types a message and presses Enter; waits until the server echoed it (no longer pending). */
export async function send(page, text) {
  const input = page.getByTestId('message-input');
  await input.fill(text);
  await input.press('Enter');
  await page.waitForFunction((t) => [...document.querySelectorAll('.log:not([hidden]) .msg.own')]
    .some((m) => !m.classList.contains('pending') && !m.classList.contains('failed')
      && m.querySelector('.msg-text').textContent === t), text);
}

/** Waits until a message with exactly this text (from `sender`, if given) is in the room's log. */
export async function waitForMessage(page, room, text, { sender, timeout = EVENT_TIMEOUT_MS } = {}) {
  await page.waitForFunction(({ room: r, text: t, sender: s }) => {
    const log = document.querySelector(`[data-testid="messages-${r}"]`);
    return !!log && [...log.querySelectorAll('.msg')].some((m) => m.querySelector('.msg-text').textContent === t
      && (!s || m.querySelector('.sender').textContent === s));
  }, { room, text, sender }, { timeout });
}

/** Waits for a join/leave notice whose text is exactly `text` in the room's log. */
export async function waitForNotice(page, room, text, { timeout = EVENT_TIMEOUT_MS } = {}) {
  await page.waitForFunction(({ room: r, text: t }) => {
    const log = document.querySelector(`[data-testid="messages-${r}"]`);
    return !!log && [...log.querySelectorAll('.notice-text')].some((n) => n.textContent === t);
  }, { room, text }, { timeout });
}

/** Texts of the notices in a room's log, in order. */
export function notices(page, room) {
  return page.evaluate((r) => [...document.querySelectorAll(`[data-testid="messages-${r}"] .notice-text`)]
    .map((n) => n.textContent), room);
}

/** Names in the presence panel, in display order. */
export function presenceNames(page) {
  return page.evaluate(() => [...document.querySelectorAll('[data-testid="presence"] .member-name')].map((n) => n.textContent));
}

/** Waits until the presence panel lists exactly these names (any order). */
export async function waitForPresence(page, names, { timeout = EVENT_TIMEOUT_MS } = {}) {
  const wanted = [...names].sort();
  try {
    await page.waitForFunction((w) => {
      const got = [...document.querySelectorAll('[data-testid="presence"] .member-name')].map((n) => n.textContent).sort();
      return JSON.stringify(got) === JSON.stringify(w);
    }, wanted, { timeout });
  } catch (e) {
    const got = page.isClosed() ? 'page closed' : JSON.stringify(await presenceNames(page));
    throw new Error(`presence never became ${JSON.stringify(wanted)}; it shows ${got}`, { cause: e });
  }
}
