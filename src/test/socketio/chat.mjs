// Two real socket.io-client 4.8 clients chat through Parley, optionally through two different nodes.
// Usage: node chat.mjs <mode: default|polling|websocket> <room> <urlA> [urlB]
// Prints one JSON line with what each client saw; exits non-zero on failure or after 15 s.
import { io } from "socket.io-client";

const [mode, room, urlA, urlB = urlA] = process.argv.slice(2);
const transports = { default: undefined, polling: ["polling"], websocket: ["websocket"] }[mode];
const opts = { transports, reconnection: false, forceNew: true };
const fail = (why) => { console.error(why); process.exit(1); };
setTimeout(() => fail("timed out"), 15_000);

const connect = (url) => new Promise((resolve, reject) => {
  const s = io(url, opts);
  s.on("connect", () => resolve(s));
  s.on("connect_error", (e) => reject(new Error("connect_error: " + e.message)));
});
const once = (s, event, pred = () => true) => new Promise((resolve) => {
  const h = (x) => { if (pred(x)) { s.off(event, h); resolve(x); } };
  s.on(event, h);
});
const ack = (s, event, data) => new Promise((resolve) => s.emit(event, data, resolve));

try {
  const a = await connect(urlA);
  const b = await connect(urlB);
  const pa = await ack(a, "join", { room, name: "sio-a" });
  const bJoinedSeenByA = once(a, "joined", (j) => j.name === "sio-b");
  const pb = await ack(b, "join", { room, name: "sio-b" });
  await bJoinedSeenByA;
  const atB = once(b, "message", (m) => m.text === "from a");
  const pubA = await ack(a, "publish", { room, text: "from a" });
  const mB = await atB;
  const atA = once(a, "message", (m) => m.text === "from b");
  await ack(b, "publish", { room, text: "from b" });
  const mA = await atA;
  const errAck = await ack(a, "publish", { room: "not-joined-room", text: "x" });
  // let the upgrade (default mode) settle before reporting transports
  if (mode === "default" && a.io.engine.transport.name !== "websocket") {
    await new Promise((r) => a.io.engine.once("upgrade", r));
  }
  const transportA = a.io.engine.transport.name;
  const leftAtB = once(b, "left", (l) => l.name === "sio-a");
  a.disconnect();
  const left = await leftAtB;
  console.log(JSON.stringify({ presenceA: pa, presenceB: pb, publishAck: pubA, messageAtB: mB, messageAtA: mA,
    errorAck: errAck, transportA, transportB: b.io.engine.transport.name, left, idB: b.id }));
  b.disconnect();
  process.exit(0);
} catch (e) {
  fail(String(e && e.stack || e));
}
