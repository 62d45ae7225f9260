// The recovery seam with a real socket.io-client 4.8 while messages keep coming from two nodes: a member of
// node A and a member of node B each post `count` messages, a few milliseconds apart; a third client, on
// node A, has its connection cut a quarter of the way through and reconnects by itself to node B while
// both go on posting. It must end with every message exactly once, each publisher's in order.
// Usage: node seam.mjs <mode: default|polling|websocket> <room> <urlA> <urlB> [count]
// Prints one JSON line: whether the client reported `recovered`, how many messages it had when cut off and
// when back, and the texts it got in order.
import { io } from "socket.io-client";

const [mode, room, urlA, urlB, countArg = "200"] = process.argv.slice(2);
const count = Number(countArg);
const transports = { default: undefined, polling: ["polling"], websocket: ["websocket"] }[mode];
const fail = (why) => { console.error(why); process.exit(1); };
setTimeout(() => fail("timed out"), 25_000);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const connect = (url, extra = {}) => new Promise((resolve, reject) => {
  const s = io(url, { transports, forceNew: true, reconnectionDelay: 50, reconnectionDelayMax: 100, ...extra });
  s.once("connect", () => resolve(s));
  s.once("connect_error", (e) => reject(new Error("connect_error: " + e.message)));
});
const ack = (s, event, data) => new Promise((resolve) => s.emit(event, data, resolve));
const until = async (check, what) => {
  for (let i = 0; i < 1000 && !check(); i++) await sleep(10);
  if (!check()) fail("never: " + what);
};

try {
  const cut = await connect(urlA);
  const onA = await connect(urlA, { reconnection: false });
  const onB = await connect(urlB, { reconnection: false });
  const got = [];
  cut.on("message", (m) => { if (m.room === room) got.push(m.text); });
  await ack(cut, "join", { room, name: "cut" });
  await ack(onA, "join", { room, name: "anna" });
  await ack(onB, "join", { room, name: "bert" });
  // both nodes deliver to the cut client before the run starts (node A learns of the room's
  // subscription on node B through the broker)
  for (let i = 0; !(got.includes(`ready-a${i - 1}`) && got.includes(`ready-b${i - 1}`)); i++) {
    if (i > 100) fail("the nodes never both delivered");
    await ack(onA, "publish", { room, text: `ready-a${i}` });
    await ack(onB, "publish", { room, text: `ready-b${i}` });
    await sleep(20);
  }
  got.length = 0;

  const post = async (s, prefix) => {
    for (let i = 0; i < count; i++) {
      await ack(s, "publish", { room, text: `${prefix}${i}` });
      await sleep(2);
    }
  };
  const posting = Promise.all([post(onA, "a-"), post(onB, "b-")]);
  await until(() => got.length >= count / 2, "a quarter of the messages before the cut");
  const back = new Promise((resolve) => cut.once("connect", resolve));
  cut.io.uri = urlB;
  const cutAt = got.length;
  cut.io.engine.close();
  await back;
  const recovered = cut.recovered;
  const backAt = got.length; // what it had once reconnected: the replay comes after
  await posting;
  await ack(onA, "publish", { room, text: "end-a" });
  await ack(onB, "publish", { room, text: "end-b" });
  await until(() => got.includes("end-a") && got.includes("end-b"), "both end markers");
  console.log(JSON.stringify({ recovered, cutAt, backAt, got }));
  cut.close();
  onA.close();
  onB.close();
  process.exit(0);
} catch (e) {
  fail(String(e && e.stack || e));
}
