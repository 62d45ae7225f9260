// Connection state recovery with a real socket.io-client 4.8: a client's connection is cut (its engine
// closed, as a network loss would), another client posts while it is away, and it reconnects by itself.
// Usage: node recovery.mjs <mode: default|polling|websocket> <room> <urlA> [urlB: where it reconnects]
// Prints one JSON line: whether the client reported `recovered`, and the texts it got in order.
import { io } from "socket.io-client";

const [mode, room, urlA, urlB = urlA] = process.argv.slice(2);
const transports = { default: undefined, polling: ["polling"], websocket: ["websocket"] }[mode];
const fail = (why) => { console.error(why); process.exit(1); };
setTimeout(() => fail("timed out"), 20_000);

const connect = (url, extra = {}) => new Promise((resolve, reject) => {
  const s = io(url, { transports, forceNew: true, reconnectionDelay: 100, reconnectionDelayMax: 200, ...extra });
  s.once("connect", () => resolve(s));
  s.once("connect_error", (e) => reject(new Error("connect_error: " + e.message)));
});
const ack = (s, event, data) => new Promise((resolve) => s.emit(event, data, resolve));

try {
  const cut = await connect(urlA);
  const other = await connect(urlB, { reconnection: false });
  const got = [];
  cut.on("message", (m) => { if (m.room === room) got.push(m.text); });
  await ack(cut, "join", { room, name: "cut" });
  await ack(other, "join", { room, name: "other" });
  await ack(other, "publish", { room, text: "before" });
  while (!got.includes("before")) await new Promise((r) => setTimeout(r, 20));

  const back = new Promise((resolve) => cut.once("connect", resolve));
  // the connection drops; the client reconnects by itself (to the other node, when there is one: as a
  // load balancer without affinity would send it)
  cut.io.uri = urlB;
  cut.io.engine.close();
  for (let i = 0; i < 10; i++) await ack(other, "publish", { room, text: `missed ${i}` });
  await back;
  const recovered = cut.recovered;
  await ack(other, "publish", { room, text: "after" });
  while (!got.includes("after")) await new Promise((r) => setTimeout(r, 20));
  console.log(JSON.stringify({ recovered, got }));
  cut.close();
  other.close();
  process.exit(0);
} catch (e) {
  fail(String(e && e.stack || e));
}
