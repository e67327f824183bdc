// queuecast Node reference peer: wires config, the in-memory queue, Express
// and Socket.IO, then runs until SIGTERM or SIGINT.

import { createServer } from "node:http";
import { Server } from "socket.io";
import { loadConfig } from "./src/config.js";
import { createApp } from "./src/http.js";
import { createLogger } from "./src/log.js";
import { QueueState } from "./src/queue.js";
import { attachSockets } from "./src/sockets.js";

const SHUTDOWN_GRACE_MS = 5000;

const config = loadConfig();
const log = createLogger(config);
const queue = new QueueState(config);

const originAllowed = (origin) => origin === undefined || config.allowedOrigins.has(origin);

const io = new Server({
  path: "/socket.io/",
  serveClient: false,
  transports: ["polling", "websocket"],
  pingInterval: config.pingInterval,
  pingTimeout: config.pingTimeout,
  maxHttpBufferSize: config.maxHttpBufferSize,
  cors: {
    origin: [...config.allowedOrigins],
    credentials: true,
    methods: ["GET", "POST"],
    allowedHeaders: ["Content-Type", "Authorization"],
  },
  // Refuses other origins at the handshake, WebSocket-only clients included.
  allowRequest: (req, callback) => callback(null, originAllowed(req.headers.origin)),
});

attachSockets(io, { config, queue, log });
// Socket.IO attaches after Express so that it sees /socket.io/ requests first.
const httpServer = createServer(createApp({ config, io, queue }));
io.attach(httpServer);

let stopping = false;
function shutdown(signal) {
  if (stopping) return;
  stopping = true;
  console.error(`${signal}: shutting down`);
  setTimeout(() => process.exit(1), SHUTDOWN_GRACE_MS).unref();
  // io.close disconnects every socket and then closes the HTTP server.
  io.close((err) => process.exit(err ? 1 : 0));
}
process.on("SIGTERM", () => shutdown("SIGTERM"));
process.on("SIGINT", () => shutdown("SIGINT"));

httpServer.listen(config.port, () => {
  console.log(`listening on ${config.port}`);
});
