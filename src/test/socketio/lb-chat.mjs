// socket.io-client 4.8 in every transport mode, chatting through one URL (a load balancer in front of
// several nodes): a polling-only, a default (polling, then upgrade) and a WebSocket-only client join one
// room and each posts `count` messages. Every client must get every other's messages once, in order.
// Usage: node lb-chat.mjs <room> <url> [count]
// Prints one JSON line: per client, its final transport and what it got from each sender.
import { io } from "socket.io-client";

const [room, url, countArg = "20"] = process.argv.slice(2);
const count = Number(countArg);
const fail = (why) => { console.error(why); process.exit(1); };
setTimeout(() => fail("timed out"), 30_000);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const modes = { polling: ["polling"], default: undefined, websocket: ["websocket"] };

const connect = (transports) => new Promise((resolve, reject) => {
  const s = io(url, { transports, reconnection: false, forceNew: true });
  s.once("connect", () => resolve(s));
  s.once("connect_error", (e) => reject(new Error("connect_error: " + e.message)));
});
const ack = (s, event, data) => new Promise((resolve) => s.emit(event, data, resolve));

try {
  const clients = {};
  for (const [name, transports] of Object.entries(modes)) {
    const s = await connect(transports);
    const got = {};
    s.on("message", (m) => {
      if (m.room === room) (got[m.name] ??= []).push(m.text);
    });
    clients[name] = { s, got };
  }
  for (const [name, c] of Object.entries(clients)) {
    const joined = await ack(c.s, "join", { room, name });
    if (joined.type !== "presence") fail(`${name} could not join: ${JSON.stringify(joined)}`);
  }
  // everyone hears everyone before the run (the nodes know each other's subscriptions)
  for (let round = 0; ; round++) {
    if (round > 100) fail("the clients never all heard each other");
    for (const [name, c] of Object.entries(clients)) await ack(c.s, "publish", { room, text: `ready-${round}` });
    await sleep(50);
    const ready = Object.entries(clients).every(([name, c]) => Object.keys(clients)
      .filter((other) => other !== name).every((other) => (c.got[other] ?? []).includes(`ready-${round}`)));
    if (ready) break;
  }
  for (const c of Object.values(clients)) for (const k of Object.keys(c.got)) delete c.got[k];
  await Promise.all(Object.entries(clients).map(async ([name, c]) => {
    for (let i = 0; i < count; i++) await ack(c.s, "publish", { room, text: `${name}-${i}` });
  }));
  const done = () => Object.entries(clients).every(([name, c]) => Object.keys(clients)
    .filter((other) => other !== name).every((other) => (c.got[other] ?? []).includes(`${other}-${count - 1}`)));
  for (let i = 0; i < 1000 && !done(); i++) await sleep(10);
  if (clients.default.s.io.engine.transport.name !== "websocket") {
    await Promise.race([new Promise((r) => clients.default.s.io.engine.once("upgrade", r)), sleep(5000)]);
  }
  const report = {};
  for (const [name, c] of Object.entries(clients)) {
    report[name] = { transport: c.s.io.engine.transport.name, got: c.got };
    c.s.close();
  }
  console.log(JSON.stringify(report));
  process.exit(0);
} catch (e) {
  fail(String(e && e.stack || e));
}
