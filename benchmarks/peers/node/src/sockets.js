// Socket.IO side of the contract: the connect handshake, the room-joining
// events with their acks, and the dashboard's staff presence updates.

import { socketAuth } from "./auth.js";
import { Rejection, freeText, isPlainObject, requireObject, requireString } from "./validate.js";

export const NODE_NAME = "node-peer";
const STAFF = new Set(["admin", "staff"]);
const DASHBOARD = "dashboard";

// Registers `fn(data, socket)` for an event. Its return value is the success
// ack; a Rejection becomes {success:false, error}. The connection survives
// whatever the client sends.
function handle(socket, event, fn, log) {
  socket.on(event, (...args) => {
    const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
    let reply;
    try {
      reply = { success: true, ...fn(args[0]) };
    } catch (err) {
      if (!(err instanceof Rejection)) log.error(`${event} handler failed:`, err);
      reply = { success: false, error: err instanceof Rejection ? err.message : "internal error" };
    }
    if (ack) ack(reply);
  });
}

function requireStaff(client) {
  if (!STAFF.has(client.role)) throw new Rejection("forbidden");
}

export function attachSockets(io, { config, queue, log }) {
  const nsp = io.of("/");
  let lastClientId = 0;

  const staffUpdate = (action, client) => {
    io.to(DASHBOARD).emit("staffConnectionUpdate", {
      action,
      clientId: client.clientId,
      userId: client.userId,
      userRole: client.role,
      timestamp: new Date().toISOString(),
      totalConnected: nsp.sockets.size,
    });
  };

  io.use(socketAuth(config.jwtSecret));

  io.on("connection", (socket) => {
    const { userId, role, counterId } = socket.data.identity;
    const client = {
      clientId: ++lastClientId,
      userId,
      role,
      counterId,
      connectedAt: new Date().toISOString(),
      onDashboard: false,
      info: null,
    };
    socket.data.client = client;
    log.debug(`connected sid=${socket.id} client=${client.clientId} role=${role}`);

    socket.emit("connected", {
      socketId: socket.id,
      clientId: client.clientId,
      connectedAt: client.connectedAt,
      node: NODE_NAME,
      totalConnected: nsp.sockets.size,
    });

    handle(
      socket,
      "joinDashboard",
      (data) => {
        if (data !== undefined && !isPlainObject(data)) throw new Rejection("payload must be an object");
        requireStaff(client);
        if (!client.onDashboard) {
          socket.join(DASHBOARD);
          client.onDashboard = true;
          staffUpdate("connected", client);
        }
        return { room: DASHBOARD };
      },
      log,
    );

    handle(
      socket,
      "joinServiceQueue",
      (data) => {
        const serviceType = requireString(data, "serviceType");
        if (!queue.hasService(serviceType)) throw new Rejection("unknown service");
        const room = `service-${serviceType}`;
        socket.join(room);
        socket.to(room).emit("queueUserJoined", {
          serviceType,
          clientId: client.clientId,
          timestamp: new Date().toISOString(),
        });
        return { room };
      },
      log,
    );

    handle(
      socket,
      "joinCounter",
      (data) => {
        const id = requireString(data, "counterId");
        requireStaff(client);
        if (!queue.hasCounter(id)) throw new Rejection("unknown counter");
        const room = `counter-${id}`;
        socket.join(room);
        return { room };
      },
      log,
    );

    handle(
      socket,
      "joinUserRoom",
      (data) => {
        const target = requireString(data, "userId");
        if (target !== client.userId && !STAFF.has(client.role)) throw new Rejection("forbidden");
        const room = `user-${target}`;
        socket.join(room);
        return { room };
      },
      log,
    );

    handle(
      socket,
      "leaveRoom",
      (data) => {
        const room = requireString(data, "room");
        if (room === socket.id || !socket.rooms.has(room)) throw new Rejection("not a member of that room");
        socket.leave(room);
        if (room === DASHBOARD) client.onDashboard = false;
        return { room };
      },
      log,
    );

    socket.on("ping", (...args) => {
      const ack = args[args.length - 1];
      if (typeof ack !== "function") return;
      const now = Date.now();
      ack({ pong: true, timestamp: new Date(now).toISOString(), serverTime: now });
    });

    handle(
      socket,
      "clientError",
      (data) => {
        requireObject(data);
        const message = freeText(data.message, 500);
        const stack = freeText(data.stack, 2000);
        if (message === null) throw new Rejection("message is required");
        log.debug(`clientError sid=${socket.id} message=${JSON.stringify(message)} stack=${JSON.stringify(stack)}`);
        return {};
      },
      log,
    );

    handle(
      socket,
      "clientInfo",
      (data) => {
        requireObject(data);
        client.info = {
          userAgent: freeText(data.userAgent, 512),
          language: freeText(data.language, 64),
          timezone: freeText(data.timezone, 64),
        };
        return {};
      },
      log,
    );

    socket.on("disconnect", (reason) => {
      log.debug(`disconnected sid=${socket.id} client=${client.clientId} reason=${reason}`);
      if (client.onDashboard) staffUpdate("disconnected", client);
    });
  });
}
