// Express side: health, the admin broadcast and the minimal in-memory ticket
// routes that the "rest" benchmark scenario drives.

import { randomUUID } from "node:crypto";
import express from "express";
import { identify, requireRole, signCustomerToken } from "./auth.js";
import { PRIORITIES } from "./queue.js";
import { MAX_FIELD_LENGTH, Rejection, isPlainObject, requireString } from "./validate.js";

// Names Socket.IO keeps for itself; emitting them from the server throws.
const RESERVED_EVENTS = new Set([
  "connect",
  "connect_error",
  "disconnect",
  "disconnecting",
  "newListener",
  "removeListener",
]);

function cors(allowedOrigins) {
  return (req, res, next) => {
    const origin = req.get("origin");
    if (origin === undefined) return next();
    if (!allowedOrigins.has(origin)) return res.status(403).json({ error: "origin not allowed" });
    res.set({
      "Access-Control-Allow-Origin": origin,
      "Access-Control-Allow-Credentials": "true",
      Vary: "Origin",
    });
    if (req.method !== "OPTIONS") return next();
    res.set({
      "Access-Control-Allow-Methods": "GET, POST, PATCH, DELETE",
      "Access-Control-Allow-Headers": "Content-Type, Authorization",
      "Access-Control-Max-Age": "600",
    });
    res.sendStatus(204);
  };
}

function body(req) {
  if (!isPlainObject(req.body)) throw new Rejection("body must be a JSON object");
  return req.body;
}

export function createApp({ config, io, queue }) {
  const app = express();
  app.disable("x-powered-by");
  app.disable("etag");
  app.use(cors(config.allowedOrigins));
  app.use(express.json({ limit: "1mb" }));
  app.use(identify(config.jwtSecret));

  const staffOnly = requireRole("admin", "staff");

  // Ticket events go to the service, dashboard and owner rooms in one emit, so
  // a socket in several of them still gets each event once.
  const announce = (event, ticket, counter) => {
    const timestamp = new Date().toISOString();
    const serviceRoom = `service-${ticket.serviceType}`;
    const payload = { ticket: queue.ticketView(ticket), timestamp };
    if (counter) payload.counter = queue.counterView(counter.id);
    io.to([serviceRoom, "dashboard", `user-${ticket.userId}`]).emit(event, payload);
    io.to([serviceRoom, "dashboard"]).emit("queueUpdated", { ...queue.snapshot(ticket.serviceType), timestamp });
  };

  app.get("/health", (req, res) => {
    res.json({ status: "ok" });
  });

  app.post("/api/admin/broadcast", requireRole("admin"), (req, res) => {
    const { event, data, room } = body(req);
    if (typeof event !== "string" || event === "" || event.length > MAX_FIELD_LENGTH) {
      throw new Rejection("event must be a non-empty string of at most 128 characters");
    }
    if (RESERVED_EVENTS.has(event)) throw new Rejection("event name is reserved");
    if (room !== undefined && room !== null) {
      if (typeof room !== "string" || room === "" || room.length > MAX_FIELD_LENGTH) {
        throw new Rejection("room must be a non-empty string of at most 128 characters");
      }
    }
    const nsp = io.of("/");
    const target = room ? io.to(room) : io;
    const recipients = room ? (nsp.adapter.rooms.get(room)?.size ?? 0) : nsp.sockets.size;
    if (data === undefined) target.emit(event);
    else target.emit(event, data);
    res.status(202).json({ recipients });
  });

  app.get("/api/counters", (req, res) => {
    const items = queue.listCounters();
    res.json({ items, total: items.length });
  });

  app.post("/api/tickets", (req, res) => {
    const input = body(req);
    const serviceType = requireString(input, "serviceType");
    const priority = input.priority ?? "normal";
    if (!PRIORITIES.includes(priority)) throw new Rejection("priority must be normal, priority or vip");

    const { role, userId: caller } = req.identity;
    let userId;
    if (input.userId !== undefined && input.userId !== null) {
      const named = requireString(input, "userId");
      if (role === "guest") throw new Rejection("naming a userId needs a token", 403);
      if (role === "customer" && named !== caller) throw new Rejection("forbidden", 403);
      userId = named;
    } else {
      userId = role === "guest" ? randomUUID() : caller;
    }

    const ticket = queue.createTicket({ serviceType, userId, priority });
    const view = queue.ticketView(ticket);
    announce("ticketCreated", ticket);
    res.status(201).json({ ticket: view, token: signCustomerToken(userId, config.jwtSecret) });
  });

  app.post("/api/counters/:id/call-next", staffOnly, (req, res) => {
    const { ticket, counter } = queue.callNext(req.params.id);
    announce("ticketServing", ticket, counter);
    res.json({ ticket: queue.ticketView(ticket), counter: queue.counterView(counter.id) });
  });

  app.post("/api/tickets/:id/complete", staffOnly, (req, res) => {
    const { ticket, counter } = queue.complete(req.params.id);
    announce("ticketCompleted", ticket, counter);
    res.json({ ticket: queue.ticketView(ticket) });
  });

  app.use((req, res) => {
    res.status(404).json({ error: "not found" });
  });

  // Express needs all four parameters to treat this as the error handler.
  // eslint-disable-next-line no-unused-vars
  app.use((err, req, res, next) => {
    if (err instanceof Rejection) return res.status(err.status).json({ error: err.message });
    if (err.type === "entity.too.large") return res.status(413).json({ error: "body too large" });
    if (err.type === "entity.parse.failed") return res.status(400).json({ error: "invalid JSON" });
    console.error("request failed:", err);
    res.status(500).json({ error: "internal error" });
  });

  return app;
}
