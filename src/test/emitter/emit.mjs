// Runs Socket.IO Redis emitter operations against a Redis server, then exits.
// Usage: node emit.mjs <redis-url> '<json list of operations>'
// Operations: {"op":"emit","to":[rooms],"except":[rooms],"event":"name","args":[...]},
//             {"op":"socketsJoin","in":[rooms],"rooms":[...]}, {"op":"socketsLeave","in":[rooms],"rooms":[...]},
//             {"op":"disconnectSockets","in":[rooms]}
import { createClient } from "redis";
import { Emitter } from "@socket.io/redis-emitter";

const [url, opsJson] = process.argv.slice(2);
const client = createClient({ url });
await client.connect();
const io = new Emitter(client);

const target = (op) => {
  let t = io;
  for (const room of op.to ?? op.in ?? []) t = t.to(room);
  if ((op.except ?? []).length) t = t.except(op.except);
  return t;
};

for (const op of JSON.parse(opsJson)) {
  switch (op.op) {
    case "emit": {
      const args = (op.args ?? []).map((a) => (a && a.$binary ? Buffer.from(a.$binary, "base64") : a));
      target(op).emit(op.event, ...args);
      break;
    }
    case "socketsJoin": target(op).socketsJoin(op.rooms); break;
    case "socketsLeave": target(op).socketsLeave(op.rooms); break;
    case "disconnectSockets": target(op).disconnectSockets(true); break;
    default: throw new Error("unknown op " + op.op);
  }
}
// publish() calls are queued on the client: QUIT after them flushes everything in order.
await client.quit();
