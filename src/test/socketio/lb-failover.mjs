// A node dies behind a load balancer: nine socket.io-client 4.8 clients (three polling-only, three default,
// three WebSocket-only) and three sockjs-client 1.6 clients (websocket, xhr-streaming, xhr-polling, on the
// native protocol; they reconnect after 200 ms, as the chat page does) chat through one URL; the test kills a node and tells this script which one on
// stdin ("killed <node id>"). Clients reconnect by themselves and join again. Measures how long until every
// client chats again, counts each client's disconnections, then checks a last round of messages arrives
// once, in order, everywhere.
// Usage: node lb-failover.mjs <room> <url>
// Prints two JSON lines: {"phase":"ready","sids":{...}} once all chat, then {"phase":"done",...}.
import { io } from "socket.io-client";
import SockJS from "sockjs-client";
import { createInterface } from "node:readline";

const [room, url] = process.argv.slice(2);
const fail = (why) => { console.error(why); process.exit(1); };
setTimeout(() => fail("timed out"), 100_000);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const modes = { polling: ["polling"], default: undefined, websocket: ["websocket"] };
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

const clients = {};
for (const [mode, transports] of Object.entries(modes)) {
  for (let i = 0; i < 3; i++) {
    const name = `${mode}-${i}`;
    const s = io(url, { transports, forceNew: true, reconnectionDelay: 100, reconnectionDelayMax: 500 });
    const c = { s, got: {}, connects: 0, disconnects: 0, reasons: [], joined: false };
    s.on("connect", async () => {
      c.connects++;
      c.joined = false;
      // a fresh cluster can be slow to answer a first join (the presence store warming up): ask again
      for (let attempt = 0; attempt < 5 && s.connected && !c.joined; attempt++) {
        const joined = await s.timeout(3000).emitWithAck("join", { room, name }).catch(() => null);
        c.joined = Boolean(joined && joined.type === "presence");
      }
    });
    s.on("disconnect", (reason, detail) => {
      c.disconnects++;
      c.joined = false;
      c.reasons.push(`${reason}${detail && detail.description ? " (" + (detail.description.message || detail.description) + ")" : ""}`);
    });
    s.on("message", (m) => { if (m.room === room) (c.got[m.name] ??= []).push(m.text); });
    clients[name] = c;
  }
}
/** A sockjs-client on the native protocol, with the same surface the script uses of a Socket.IO client. */
function sockjsClient(name, transport) {
  const c = { got: {}, connects: 0, disconnects: 0, reasons: [], joined: false, sid: "", sock: null };
  let refs = 0;
  const pending = new Map();
  const request = (frame, ms) => new Promise((resolve) => {
    if (!c.sock || c.sock.readyState !== 1) return resolve(null);
    const ref = String(++refs);
    pending.set(ref, resolve);
    c.sock.send(JSON.stringify({ ...frame, ref }));
    setTimeout(() => { if (pending.delete(ref)) resolve(null); }, ms);
  });
  const open = () => {
    const sock = new SockJS(url + "/sockjs", null, { transports: [transport] });
    c.sock = sock;
    sock.onmessage = async (m) => {
      const f = JSON.parse(m.data);
      if (f.type === "welcome") {
        c.connects++;
        c.sid = f.session;
        for (let attempt = 0; attempt < 5 && sock.readyState === 1 && !c.joined; attempt++) {
          const ack = await request({ type: "join", room, name }, 3000);
          c.joined = Boolean(ack && ack.type === "ack");
        }
      } else if (f.type === "message" && f.room === room) {
        (c.got[f.name] ??= []).push(f.text);
      }
      if ((f.type === "ack" || f.type === "error") && f.ref != null && pending.has(String(f.ref))) {
        const done = pending.get(String(f.ref));
        pending.delete(String(f.ref));
        done(f);
      }
    };
    sock.onclose = (e) => {
      c.joined = false;
      if (!c.closing) {
        c.disconnects++;
        c.reasons.push(`${e.code} ${e.reason}`);
        setTimeout(open, 200);
      }
    };
  };
  open();
  c.publish = (text) => request({ type: "publish", room, text }, 1000);
  c.close = () => { c.closing = true; c.sock.close(); };
  return c;
}
for (const transport of ["websocket", "xhr-streaming", "xhr-polling"]) {
  clients[`sockjs-${transport}`] = sockjsClient(`sockjs-${transport}`, transport);
}

const names = Object.keys(clients);
const publish = (c, text) => c.publish ? c.publish(text)
  : c.s.connected ? c.s.timeout(1000).emitWithAck("publish", { room, text }).catch(() => null) : null;
/** The node holding a client's session: Engine.IO ids and Parley session ids both start with it. */
const sessionOf = (c) => (c.s ? c.s.io.engine.id : c.sid);

/** Rounds of one message per client until every client hears every other in the same round. */
async function allChat(prefix, maxRounds) {
  for (let round = 0; round < maxRounds; round++) {
    const text = `${prefix}-${round}`;
    await Promise.all(names.map((n) => (clients[n].joined ? publish(clients[n], text) : null)));
    await sleep(100);
    const ok = names.every((n) => clients[n].joined && names.filter((o) => o !== n)
      .every((o) => (clients[n].got[o] ?? []).includes(text)));
    if (ok) return true;
  }
  const missing = names.flatMap((n) => [!clients[n].joined ? `${n} not joined (connected: ${clients[n].s.connected})` : null]
    .concat(names.filter((o) => o !== n && clients[n].joined && !(clients[n].got[o] ?? []).includes(`${prefix}-${maxRounds - 1}`))
      .map((o) => `${n} missed ${o}`))).filter(Boolean);
  console.error(`${prefix}: ${missing.slice(0, 12).join("; ")}`);
  return false;
}

try {
  if (!(await allChat("ready", 300))) fail("the clients never all chatted");
  const sids = Object.fromEntries(names.map((n) => [n, sessionOf(clients[n])]));
  const before = Object.fromEntries(names.map((n) => [n, clients[n].disconnects]));
  console.log(JSON.stringify({ phase: "ready", sids }));
  const order = (await lines.next()).value ?? "";
  const killed = order.split(" ")[1];
  const t0 = Date.now();
  if (!(await allChat("after", 200))) fail("not every client chatted again after the kill");
  const backMs = Date.now() - t0;
  for (const c of Object.values(clients)) for (const k of Object.keys(c.got)) delete c.got[k];
  await Promise.all(names.map(async (n) => {
    for (let i = 0; i < 10; i++) await publish(clients[n], `${n}-last-${i}`);
  }));
  const want = (o) => Array.from({ length: 10 }, (_, i) => `${o}-last-${i}`).join(",");
  const complete = () => names.every((n) => names.filter((o) => o !== n)
    .every((o) => (clients[n].got[o] ?? []).filter((t) => t.includes("-last-")).join(",") === want(o)));
  for (let i = 0; i < 500 && !complete(); i++) await sleep(10);
  const problems = [];
  for (const n of names) {
    for (const o of names.filter((x) => x !== n)) {
      const seen = (clients[n].got[o] ?? []).filter((t) => t.includes("-last-")).join(",");
      if (seen !== want(o)) problems.push(`${n} got from ${o}: ${seen}`);
    }
  }
  const disconnects = Object.fromEntries(names.map((n) => [n, clients[n].disconnects - before[n]]));
  const onKilled = names.filter((n) => sids[n].startsWith(killed + "."));
  const reasons = Object.fromEntries(names.filter((n) => clients[n].reasons.length).map((n) => [n, clients[n].reasons]));
  console.log(JSON.stringify({ phase: "done", killed, backMs, onKilled, disconnects, reasons, problems }));
  for (const c of Object.values(clients)) (c.s ?? c).close();
  process.exit(0);
} catch (e) {
  fail(String(e && e.stack || e));
}
