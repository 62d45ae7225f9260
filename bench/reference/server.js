// Reference chat server for the benchmark: a plain Socket.IO 4.8 application, one Node process,
// with the same chat semantics as Parley's native protocol (rooms, join, leave, publish to the room,
// the sender included). Usage: node server.js <port>
// REDIS_URL=redis://host:port: several such processes form one cluster through @socket.io/redis-adapter
// (the Redis pub/sub adapter of the Socket.IO documentation). PRESENCE=1: a join's acknowledgement lists the
// room's members on this process (the first 100, and the total), the work Parley's presence reply does.
// Like Parley's benchmark configuration (limits.maxAnnouncedRoomSize 1000), joins and leaves are announced
// to the room only while it has at most 1000 members: announcing every join to a 5000-member room costs
// 12.5 million frames before the measurement starts.
import { createServer } from "node:http";
import { Server } from "socket.io";

const PRESENCE = process.env.PRESENCE === "1";
const MAX_PRESENCE_MEMBERS = 100;
/** room -> Map(socket id -> name), kept only with PRESENCE=1 */
const members = new Map();

const port = Number(process.argv[2] || 3000);
const httpServer = createServer((req, res) => {
  if (req.url === "/health") {
    res.writeHead(200, { "content-type": "application/json" }).end('{"status":"UP"}');
  } else {
    res.writeHead(404).end();
  }
});
const io = new Server(httpServer, { serveClient: false, perMessageDeflate: false, httpCompression: false });
if (process.env.REDIS_URL) {
  const { createClient } = await import("redis");
  const { createAdapter } = await import("@socket.io/redis-adapter");
  const pub = createClient({ url: process.env.REDIS_URL });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  io.adapter(createAdapter(pub, sub));
}

function presence(room) {
  const inRoom = members.get(room);
  const list = [];
  if (inRoom) {
    for (const [session, name] of inRoom) {
      if (list.length === MAX_PRESENCE_MEMBERS) break;
      list.push({ session, name });
    }
  }
  return { type: "presence", room, members: list, total: inRoom ? inRoom.size : 0 };
}

function forget(room, id) {
  const inRoom = members.get(room);
  if (inRoom) {
    inRoom.delete(id);
    if (inRoom.size === 0) members.delete(room);
  }
}
let seq = 0;
const MAX_ANNOUNCED_ROOM_SIZE = 1000;

io.on("connection", (socket) => {
  const names = new Map();
  if (PRESENCE) socket.on("disconnect", () => { for (const room of names.keys()) forget(room, socket.id); });
  socket.on("join", (data, ack) => {
    if (!data || typeof data.room !== "string" || typeof data.name !== "string") {
      if (typeof ack === "function") ack({ error: { code: "bad_request" } });
      return;
    }
    socket.join(data.room);
    names.set(data.room, data.name);
    const joined = { type: "joined", room: data.room, session: socket.id, name: data.name, ts: Date.now() };
    if ((io.sockets.adapter.rooms.get(data.room)?.size ?? 0) <= MAX_ANNOUNCED_ROOM_SIZE) {
      io.to(data.room).emit("joined", joined);
    } else {
      socket.emit("joined", joined);
    }
    if (PRESENCE) {
      if (!members.has(data.room)) members.set(data.room, new Map());
      members.get(data.room).set(socket.id, data.name);
    }
    if (typeof ack === "function") ack(PRESENCE ? presence(data.room) : { type: "presence", room: data.room });
  });
  socket.on("leave", (data, ack) => {
    const name = data && names.get(data.room);
    if (name === undefined) {
      if (typeof ack === "function") ack({ error: { code: "not_joined" } });
      return;
    }
    socket.leave(data.room);
    names.delete(data.room);
    if (PRESENCE) forget(data.room, socket.id);
    if ((io.sockets.adapter.rooms.get(data.room)?.size ?? 0) <= MAX_ANNOUNCED_ROOM_SIZE) {
      io.to(data.room).emit("left", { type: "left", room: data.room, session: socket.id, name, ts: Date.now() });
    }
    if (typeof ack === "function") ack({ type: "left", room: data.room });
  });
  socket.on("publish", (data, ack) => {
    const name = data && names.get(data.room);
    if (name === undefined || typeof data.text !== "string") {
      if (typeof ack === "function") ack({ error: { code: "not_joined" } });
      return;
    }
    const id = String(++seq);
    io.to(data.room).emit("message", { type: "message", room: data.room, session: socket.id, name, text: data.text, ts: Date.now(), id });
    if (typeof ack === "function") ack({ id });
  });
});

// the same accept backlog Netty (and so Parley) uses by default: net.core.somaxconn, 4096 here, not Node's 511
httpServer.listen({ port, host: "127.0.0.1", backlog: 4096 }, () => console.log(`reference socket.io server on ${port}`));
