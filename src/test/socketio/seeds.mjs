// The seed applications' own vocabularies, spoken by the real socket.io-client 4.8.
// Usage: node seeds.mjs <url> <000|003>
import { io } from "socket.io-client";

const [url, seed] = process.argv.slice(2);
const fail = (why) => { console.error(why); process.exit(1); };
setTimeout(() => fail("timed out"), 15_000);
const connect = () => new Promise((resolve, reject) => {
  const s = io(url, { reconnection: false, forceNew: true });
  s.on("connect", () => resolve(s));
  s.on("connect_error", (e) => reject(new Error(e.message)));
});
const once = (s, event, pred = () => true) => new Promise((resolve) => {
  const h = (...x) => { if (pred(...x)) { s.off(event, h); resolve(x); } };
  s.on(event, h);
});

try {
  const a = await connect();
  const b = await connect();
  const out = {};
  if (seed === "000") {
    // seed 000: connected(name) announces "<name> joined" to everyone; publish {value} reaches everyone
    const aSeesB = once(a, "publish", (d) => d.value === "bob joined");
    a.emit("connected", "alice");
    await once(b, "publish", (d) => d.value === "alice joined");
    b.emit("connected", "bob");
    await aSeesB;
    const atA = once(a, "publish", (d) => d.value === "hello everyone");
    const atB = once(b, "publish", (d) => d.value === "hello everyone");
    a.emit("publish", { value: "hello everyone" });
    out.a = (await atA)[0];
    out.b = (await atB)[0];
    const leftAtB = once(b, "publish", (d) => d.value === "alice left");
    a.disconnect();
    out.left = (await leftAtB)[0];
  } else {
    // seed 003: chat message(user, message) reaches the others as "<message> from <user>"
    const ownEcho = [];
    a.on("chat message", (d) => ownEcho.push(d));
    const atB = once(b, "chat message", (d) => d === "hello from alice");
    a.emit("chat message", "alice", "hello");
    out.b = (await atB)[0];
    const atA = once(a, "chat message", (d) => d === "hi back from bob");
    b.emit("chat message", "bob", "hi back");
    out.a = (await atA)[0];
    out.ownEcho = ownEcho.filter((d) => d.endsWith("from alice"));
    a.disconnect();
  }
  console.log(JSON.stringify(out));
  b.disconnect();
  process.exit(0);
} catch (e) {
  fail(String(e && e.stack || e));
}
