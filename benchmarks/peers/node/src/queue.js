// In-memory tickets and counters: just enough of the queue domain for the
// "rest" benchmark scenario. Nothing is persisted; finished tickets are dropped.

import { Rejection } from "./validate.js";

export const PRIORITIES = ["vip", "priority", "normal"];
const PRIORITY_WEIGHT = { vip: 3, priority: 2, normal: 1 };
const DEFAULT_SERVICE_SECONDS = 180;
const EWMA_ALPHA = 0.2;
const COUNTER_COUNT = 3;

function prefixesFor(services) {
  const taken = new Set();
  return new Map(
    services.map((name) => {
      const letters = name.replace(/[^A-Za-z]/g, "").toUpperCase() || "Q";
      let prefix = letters.slice(0, 1);
      for (let len = 2; taken.has(prefix) && len <= 3; len++) prefix = letters.slice(0, len);
      for (let n = 2; taken.has(prefix); n++) prefix = `${letters[0]}${n}`.slice(0, 3);
      taken.add(prefix);
      return [name, prefix];
    }),
  );
}

export class QueueState {
  constructor({ services, timezone }) {
    const prefixes = prefixesFor(services);
    this.services = new Map(
      services.map((name) => [
        name,
        {
          name,
          prefix: prefixes.get(name),
          waiting: { vip: [], priority: [], normal: [] },
          serving: new Set(),
          meanServiceSeconds: DEFAULT_SERVICE_SECONDS,
          day: null,
          lastNumber: 0,
        },
      ]),
    );
    this.counters = new Map();
    for (let i = 1; i <= COUNTER_COUNT; i++) {
      const id = String(i);
      this.counters.set(id, {
        id,
        name: `Counter ${i}`,
        services: [...services],
        status: "open",
        currentTicketId: null,
      });
    }
    this.tickets = new Map();
    this.lastTicketId = 0;
    this.dayFormat = new Intl.DateTimeFormat("en-CA", {
      timeZone: timezone,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
    });
  }

  hasService(name) {
    return this.services.has(name);
  }

  hasCounter(id) {
    return this.counters.has(id);
  }

  listCounters() {
    return [...this.counters.values()].map((c) => ({ ...c, services: [...c.services] }));
  }

  counterView(id) {
    const c = this.counters.get(id);
    return { ...c, services: [...c.services] };
  }

  createTicket({ serviceType, userId, priority }) {
    const service = this.services.get(serviceType);
    if (!service) throw new Rejection("unknown service");

    const today = this.dayFormat.format(new Date());
    if (service.day !== today) {
      service.day = today;
      service.lastNumber = 0;
    }
    const number = ++service.lastNumber;
    const now = Date.now();
    const ticket = {
      id: String(++this.lastTicketId),
      number,
      displayNumber: service.prefix + String(number).padStart(3, "0"),
      serviceType,
      status: "waiting",
      priority,
      userId,
      counterId: null,
      recallCount: 0,
      createdAt: new Date(now).toISOString(),
      calledAt: null,
      completedAt: null,
      createdMs: now,
      calledMs: 0,
    };
    service.waiting[priority].push(ticket);
    this.tickets.set(ticket.id, ticket);
    return ticket;
  }

  // Calls the head, among the counter's services, whose wait times its
  // priority weight is largest.
  callNext(counterId) {
    const counter = this.counters.get(counterId);
    if (!counter) throw new Rejection("counter not found", 404);
    if (counter.status !== "open") throw new Rejection("counter is not open", 409);
    if (counter.currentTicketId !== null) throw new Rejection("counter is already serving", 409);

    const now = Date.now();
    let best = null;
    let bestScore = -1;
    for (const name of counter.services) {
      const head = this.head(this.services.get(name));
      if (!head) continue;
      const score = (now - head.createdMs + 1) * PRIORITY_WEIGHT[head.priority];
      if (score > bestScore) {
        best = head;
        bestScore = score;
      }
    }
    if (!best) throw new Rejection("no waiting ticket for this counter", 404);

    const service = this.services.get(best.serviceType);
    service.waiting[best.priority].shift();
    service.serving.add(best);
    best.status = "serving";
    best.counterId = counter.id;
    best.calledMs = now;
    best.calledAt = new Date(now).toISOString();
    counter.currentTicketId = best.id;
    return { ticket: best, counter };
  }

  complete(ticketId) {
    const ticket = this.tickets.get(ticketId);
    if (!ticket) throw new Rejection("ticket not found", 404);
    if (ticket.status !== "serving") throw new Rejection(`cannot complete a ${ticket.status} ticket`, 409);

    const now = Date.now();
    const service = this.services.get(ticket.serviceType);
    const counter = this.counters.get(ticket.counterId);
    service.serving.delete(ticket);
    const seconds = (now - ticket.calledMs) / 1000;
    service.meanServiceSeconds = (1 - EWMA_ALPHA) * service.meanServiceSeconds + EWMA_ALPHA * seconds;
    ticket.status = "completed";
    ticket.completedAt = new Date(now).toISOString();
    counter.currentTicketId = null;
    this.tickets.delete(ticket.id);
    return { ticket, counter };
  }

  head(service) {
    for (const p of PRIORITIES) {
      if (service.waiting[p].length > 0) return service.waiting[p][0];
    }
    return null;
  }

  openCounters(serviceType) {
    let n = 0;
    for (const c of this.counters.values()) {
      if (c.status === "open" && c.services.includes(serviceType)) n++;
    }
    return n;
  }

  waitingCount(service) {
    return PRIORITIES.reduce((sum, p) => sum + service.waiting[p].length, 0);
  }

  // Seconds until `ahead` waiting tickets and those now being served are done.
  estimate(service, ahead) {
    const open = this.openCounters(service.name);
    if (open === 0) return null;
    const now = Date.now();
    let remaining = 0;
    for (const t of service.serving) {
      remaining += Math.max(0, service.meanServiceSeconds - (now - t.calledMs) / 1000);
    }
    return Math.ceil((ahead * service.meanServiceSeconds + remaining) / open);
  }

  position(ticket) {
    const service = this.services.get(ticket.serviceType);
    let ahead = 0;
    for (const p of PRIORITIES) {
      if (p === ticket.priority) return ahead + service.waiting[p].lastIndexOf(ticket) + 1;
      ahead += service.waiting[p].length;
    }
    return null;
  }

  snapshot(serviceType) {
    const service = this.services.get(serviceType);
    const waiting = this.waitingCount(service);
    return {
      serviceType,
      waiting,
      serving: service.serving.size,
      estimatedWaitSeconds: this.estimate(service, waiting),
    };
  }

  // The contract's Ticket shape; position and estimate only while waiting.
  ticketView(ticket) {
    let position = null;
    let estimatedWaitSeconds = null;
    if (ticket.status === "waiting") {
      position = this.position(ticket);
      estimatedWaitSeconds = this.estimate(this.services.get(ticket.serviceType), position - 1);
    }
    return {
      id: ticket.id,
      number: ticket.number,
      displayNumber: ticket.displayNumber,
      serviceType: ticket.serviceType,
      status: ticket.status,
      priority: ticket.priority,
      userId: ticket.userId,
      counterId: ticket.counterId,
      position,
      estimatedWaitSeconds,
      recallCount: ticket.recallCount,
      createdAt: ticket.createdAt,
      calledAt: ticket.calledAt,
      completedAt: ticket.completedAt,
    };
  }
}
