// Tokens with a real socket.io-client 4.8: refused CONNECTs (expired token, none), an accepted one that
// expires while connected (the server says why, then disconnects), and one refreshed in time.
// Usage: node auth.mjs <mode: default|polling|websocket> <url> <expired> <shortAlice> <shortBob> <longBob>
// Prints one JSON line with what the client saw.
import { io } from "socket.io-client";

const [mode, url, expired, shortAlice, shortBob, longBob] = process.argv.slice(2);
const transports = { default: undefined, polling: ["polling"], websocket: ["websocket"] }[mode];
const fail = (why) => { console.error(why); process.exit(1); };
setTimeout(() => fail("timed out"), 20_000);

const open = (auth) => io(url, { transports, forceNew: true, reconnection: false, auth });
const outcome = (s) => new Promise((resolve) => {
  s.once("connect", () => resolve({ connected: true }));
  s.once("connect_error", (e) => resolve({ connected: false, message: e.message, data: e.data }));
});
const ack = (s, event, data) => new Promise((resolve) => s.emit(event, data, resolve));

try {
  const refusedExpired = await outcome(open({ token: expired }));
  const refusedMissing = await outcome(open({}));

  const alice = open({ token: shortAlice });
  const bob = open({ token: shortBob });
  if (!(await outcome(alice)).connected || !(await outcome(bob)).connected) fail("valid tokens refused");
  const aliceError = new Promise((resolve) => alice.once("error", resolve));
  const aliceGone = new Promise((resolve) => alice.once("disconnect", resolve));
  const joined = await ack(alice, "join", { room: "sio-auth" });
  await ack(bob, "join", { room: "sio-auth" });
  const refreshed = await ack(bob, "auth", { token: longBob });
  const error = await aliceError;
  const reason = await aliceGone;
  const published = await ack(bob, "publish", { room: "sio-auth", text: "bob is still here" });
  console.log(JSON.stringify({ refusedExpired, refusedMissing, joined, refreshed, error, reason, published,
    bobConnected: bob.connected }));
  bob.close();
  process.exit(0);
} catch (e) {
  fail(String(e && e.stack || e));
}
