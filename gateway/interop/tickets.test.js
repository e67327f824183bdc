// Ticket lifecycle over REST, watched live by real socket.io-client sockets:
// each event reaches the contract's rooms once, and no one else.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ack, client, closeAll, collect, once, quiet, startServer, token } from './helpers.js';

const staff = token({ role: 'staff', sub: 'staff-t' });

describe('ticket events through socket.io-client', () => {
  let srv;
  before(async () => { srv = await startServer(); });
  after(async () => { closeAll(); await srv.close(); });

  const api = async (method, path, { tok, body } = {}) => {
    const headers = { 'Content-Type': 'application/json' };
    if (tok) headers.Authorization = `Bearer ${tok}`;
    const res = await fetch(`${srv.url}${path}`, { method, headers, body: body ? JSON.stringify(body) : undefined });
    return { status: res.status, body: await res.json() };
  };
  const ws = (tok) => client(srv.url, { transports: ['websocket'], auth: tok ? { token: tok } : undefined });

  test('create, call, complete and a counter pause reach the right rooms once', async () => {
    const counters = (await api('GET', '/api/counters')).body.items;
    const counter = counters.find((c) => c.services.includes('Finance') && c.status === 'open');
    assert.ok(counter, 'a seeded open counter serves Finance');

    // The customer's ticket comes first: it carries the token of its user room.
    const created = await api('POST', '/api/tickets', { body: { serviceType: 'Finance' } });
    assert.equal(created.status, 201);
    const { ticket, token: customerToken } = created.body;
    assert.match(ticket.displayNumber, /^F\d{3,}$/);

    const dash = (await ws(staff)).socket;
    assert.deepEqual(await ack(dash, 'joinDashboard', {}), { success: true, room: 'dashboard' });
    const finance = (await ws()).socket;
    assert.deepEqual(await ack(finance, 'joinServiceQueue', { serviceType: 'Finance' }), { success: true, room: 'service-Finance' });
    const registrar = (await ws()).socket;
    assert.deepEqual(await ack(registrar, 'joinServiceQueue', { serviceType: 'Registrar' }), { success: true, room: 'service-Registrar' });
    const customer = (await ws(customerToken)).socket;
    assert.deepEqual(await ack(customer, 'joinUserRoom', { userId: ticket.userId }), { success: true, room: `user-${ticket.userId}` });
    const desk = (await ws(staff)).socket;
    assert.deepEqual(await ack(desk, 'joinCounter', { counterId: counter.id }), { success: true, room: `counter-${counter.id}` });

    const events = ['ticketCreated', 'ticketServing', 'ticketCompleted', 'queueUpdated', 'counterStatusChange'];
    const seen = new Map();
    for (const [name, s] of Object.entries({ dash, finance, registrar, customer, desk })) {
      seen.set(name, Object.fromEntries(events.map((e) => [e, collect(s, e)])));
    }

    // A second Finance ticket, created while everyone watches.
    const created2 = once(finance, 'ticketCreated');
    const second = await api('POST', '/api/tickets', { tok: staff, body: { serviceType: 'Finance', userId: 'someone-else' } });
    assert.equal(second.status, 201);
    const ev = await created2;
    assert.equal(ev.ticket.id, second.body.ticket.id);
    assert.match(ev.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

    const serving = once(customer, 'ticketServing');
    const call = await api('POST', `/api/counters/${counter.id}/call-next`, { tok: staff });
    assert.equal(call.status, 200);
    assert.equal(call.body.ticket.id, ticket.id, 'the older ticket is called first');
    assert.equal((await serving).ticket.status, 'serving');

    const completed = once(customer, 'ticketCompleted');
    const done = await api('POST', `/api/tickets/${ticket.id}/complete`, { tok: staff });
    assert.equal(done.status, 200);
    assert.equal((await completed).ticket.status, 'completed');

    const paused = once(desk, 'counterStatusChange');
    const patch = await api('PATCH', `/api/counters/${counter.id}`, { tok: staff, body: { status: 'paused' } });
    assert.equal(patch.status, 200);
    const change = await paused;
    assert.equal(change.counter.status, 'paused');
    assert.equal(change.previousStatus, 'open');

    await quiet(); // let any duplicate or misrouted event arrive before counting
    const count = (who, e) => seen.get(who)[e].length;
    // ticketCreated (second ticket): service room and dashboard; its owner is not our customer.
    assert.deepEqual([count('dash', 'ticketCreated'), count('finance', 'ticketCreated'), count('customer', 'ticketCreated')], [1, 1, 0]);
    for (const e of ['ticketServing', 'ticketCompleted']) {
      assert.deepEqual([count('dash', e), count('finance', e), count('customer', e)], [1, 1, 1], e);
    }
    for (const e of ['ticketCreated', 'ticketServing', 'ticketCompleted', 'counterStatusChange']) {
      assert.equal(count('registrar', e), 0, `registrar room got ${e}`);
    }
    // A pause of a counter that also serves Registrar changes Registrar's
    // estimate; whatever queueUpdated reaches that room is about Registrar.
    for (const u of seen.get('registrar').queueUpdated) assert.equal(u.serviceType, 'Registrar');
    assert.deepEqual([count('desk', 'counterStatusChange'), count('dash', 'counterStatusChange'), count('finance', 'counterStatusChange')], [1, 1, 0]);
    assert.equal(count('desk', 'ticketServing'), 0, 'ticket events do not go to counter rooms');
    const updates = seen.get('finance').queueUpdated;
    assert.ok(updates.length >= 3, 'queueUpdated after each move');
    const last = updates.at(-1);
    assert.equal(last.serviceType, 'Finance');
    assert.equal(last.waiting, 1, 'the second ticket still waits');
    assert.equal(count('customer', 'queueUpdated'), 0, 'queueUpdated goes to service rooms and the dashboard only');
  });
});
