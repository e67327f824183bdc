// The contract's client-to-server events, their role rules, acks and room
// broadcasts, bad input, and the admin broadcast over HTTP.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ack, client, closeAll, collect, once, quiet, rawClient, startServer, token, SECRET } from './helpers.js';

const RFC3339_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}(Z|[+-]\d{2}:\d{2})$/;

const admin = token({ role: 'admin', sub: 'admin-1' });
const staff = token({ role: 'staff', sub: 'staff-1' });
const customer = token({ role: 'customer', sub: 'cust-1' });

function assertRefused(res, what) {
  assert.equal(typeof res, 'object', `${what}: ack is an object`);
  assert.equal(res.success, false, `${what}: ${JSON.stringify(res)}`);
  assert.equal(typeof res.error, 'string', `${what}: error is a string`);
  assert.ok(res.error.length > 0);
}

function assertJoined(res, room) {
  assert.deepEqual(res, { success: true, room });
}

let srv;
// Counters exist only once created through the API; c1..c3 are their ids.
let c1;
let c2;
let c3;
let staffC1;
before(async () => {
  srv = await startServer();
  const ids = [];
  for (const name of ['Interop 1', 'Interop 2', 'Interop 3']) {
    const res = await fetch(`${srv.url}/api/counters`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${admin}` },
      body: JSON.stringify({ name, services: ['Finance'] }),
    });
    assert.equal(res.status, 201, `create counter ${name}`);
    const body = await res.json();
    const id = body.id ?? body.counter?.id;
    assert.equal(typeof id, 'string', `counter id in ${JSON.stringify(body)}`);
    ids.push(id);
  }
  [c1, c2, c3] = ids;
  staffC1 = token({ role: 'staff', sub: 'staff-2', counterId: c1 });
});
after(async () => { closeAll(); await srv.close(); });

const ws = (tok, extra = {}) => client(srv.url, { transports: ['websocket'], auth: tok ? { token: tok } : undefined, ...extra });
const polling = (tok) => client(srv.url, { transports: ['polling'], auth: tok ? { token: tok } : undefined });

async function broadcast(body, tok = admin) {
  const headers = { 'Content-Type': 'application/json' };
  if (tok) headers.Authorization = `Bearer ${tok}`;
  const res = await fetch(`${srv.url}/api/admin/broadcast`, { method: 'POST', headers, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

describe('identity', () => {
  for (const transport of ['websocket', 'polling']) {
    for (const [name, tok] of [
      ['signed with another secret', token({ role: 'admin', sub: 'x', secret: `${SECRET}-wrong` })],
      ['expired', token({ role: 'admin', sub: 'x', ttl: -60 })],
      ['not a JWT', 'garbage.token.here'],
    ]) {
      test(`a token ${name} is refused with "unauthorized" over ${transport}`, async () => {
        const socket = rawClient(srv.url, { transports: [transport], auth: { token: tok } });
        const err = await once(socket, 'connect_error', 5000);
        assert.equal(err.message, 'unauthorized');
        assert.equal(socket.connected, false);
      });
    }
  }

  test('a token that is not a string is refused', async () => {
    const socket = rawClient(srv.url, { transports: ['websocket'], auth: { token: 12345 } });
    const err = await once(socket, 'connect_error', 5000);
    assert.equal(err.message, 'unauthorized');
  });

  test('no token connects as a guest; a valid token connects', async () => {
    const guest = await ws();
    assert.equal(guest.socket.connected, true);
    const a = await ws(admin);
    assert.equal(a.socket.connected, true);
    guest.socket.disconnect();
    a.socket.disconnect();
  });
});

describe('joinDashboard', () => {
  test('customer and guest are refused, staff and admin join', async () => {
    const c = await ws(customer);
    assertRefused(await ack(c.socket, 'joinDashboard', { userRole: 'customer', userId: 'cust-1' }), 'customer');
    const g = await ws();
    assertRefused(await ack(g.socket, 'joinDashboard', { userRole: 'staff', userId: 'g' }), 'guest claiming staff');
    const s = await ws(staff);
    assertJoined(await ack(s.socket, 'joinDashboard', { userRole: 'staff', userId: 'staff-1' }), 'dashboard');
    const a = await polling(admin);
    assertJoined(await ack(a.socket, 'joinDashboard', { userRole: 'admin', userId: 'admin-1' }), 'dashboard');
    for (const x of [c, g, s, a]) x.socket.disconnect();
  });

  test('dashboard members get staffConnectionUpdate connected, then disconnected', async () => {
    const watcher = await ws(staff);
    assertJoined(await ack(watcher.socket, 'joinDashboard', { userRole: 'staff', userId: 'staff-1' }), 'dashboard');
    const updates = collect(watcher.socket, 'staffConnectionUpdate');
    const outsider = await ws(customer);
    const outsiderUpdates = collect(outsider.socket, 'staffConnectionUpdate');

    const joiner = await ws(admin);
    const connected = once(watcher.socket, 'staffConnectionUpdate');
    assertJoined(await ack(joiner.socket, 'joinDashboard', { userRole: 'admin', userId: 'admin-1' }), 'dashboard');
    const up = await connected;
    assert.equal(up.action, 'connected');
    assert.equal(up.clientId, joiner.hello.clientId);
    assert.equal(up.userId, 'admin-1');
    assert.equal(up.userRole, 'admin');
    assert.match(up.timestamp, RFC3339_MS);
    assert.ok(Number.isInteger(up.totalConnected) && up.totalConnected >= 3, `totalConnected ${up.totalConnected}`);

    const disconnected = once(watcher.socket, 'staffConnectionUpdate');
    joiner.socket.disconnect();
    const down = await disconnected;
    assert.equal(down.action, 'disconnected');
    assert.equal(down.clientId, joiner.hello.clientId);
    assert.equal(down.userId, 'admin-1');
    assert.equal(down.userRole, 'admin');
    assert.match(down.timestamp, RFC3339_MS);
    assert.equal(typeof down.totalConnected, 'number');

    await quiet(); // nothing else may arrive: the watcher got each update once, the outsider none
    assert.equal(updates.length, 2, JSON.stringify(updates));
    assert.equal(outsiderUpdates.length, 0, 'a socket outside the dashboard got a staffConnectionUpdate');
    watcher.socket.disconnect();
    outsider.socket.disconnect();
  });
});

describe('joinServiceQueue', () => {
  test('an unknown service is refused', async () => {
    const c = await ws(customer);
    assertRefused(await ack(c.socket, 'joinServiceQueue', { serviceType: 'Nope' }), 'unknown service');
    c.socket.disconnect();
  });

  test('others in the room get queueUserJoined, the sender does not', async () => {
    const a = await ws(customer);
    const b = await polling();
    const outside = await ws();
    assertJoined(await ack(a.socket, 'joinServiceQueue', { serviceType: 'Registrar' }), 'service-Registrar');
    assertJoined(await ack(b.socket, 'joinServiceQueue', { serviceType: 'Registrar' }), 'service-Registrar');
    assertJoined(await ack(outside.socket, 'joinServiceQueue', { serviceType: 'Admissions' }), 'service-Admissions');
    const gotA = collect(a.socket, 'queueUserJoined');
    const gotB = collect(b.socket, 'queueUserJoined');
    const gotOut = collect(outside.socket, 'queueUserJoined');

    const c = await ws(staff);
    const gotC = collect(c.socket, 'queueUserJoined');
    const atA = once(a.socket, 'queueUserJoined');
    const atB = once(b.socket, 'queueUserJoined');
    assertJoined(await ack(c.socket, 'joinServiceQueue', { serviceType: 'Registrar' }), 'service-Registrar');
    for (const ev of [await atA, await atB]) {
      assert.equal(ev.serviceType, 'Registrar');
      assert.equal(ev.clientId, c.hello.clientId);
      assert.match(ev.timestamp, RFC3339_MS);
    }
    await quiet(); // the sender and the other room must stay silent; each member hears it once
    assert.equal(gotC.length, 0, 'the sender got its own queueUserJoined');
    assert.equal(gotOut.length, 0, 'a member of another service room got queueUserJoined');
    assert.equal(gotA.length, 1);
    assert.equal(gotB.length, 1);
    for (const x of [a, b, c, outside]) x.socket.disconnect();
  });
});

describe('joinCounter', () => {
  test('customer and guest are refused', async () => {
    const c = await ws(customer);
    assertRefused(await ack(c.socket, 'joinCounter', { counterId: c1 }), 'customer');
    const g = await ws();
    assertRefused(await ack(g.socket, 'joinCounter', { counterId: c1 }), 'guest');
    c.socket.disconnect();
    g.socket.disconnect();
  });

  test('a staff token with counterId joins only that counter', async () => {
    const s = await ws(staffC1);
    assertRefused(await ack(s.socket, 'joinCounter', { counterId: c2 }), 'another counter');
    assertJoined(await ack(s.socket, 'joinCounter', { counterId: c1 }), `counter-${c1}`);
    s.socket.disconnect();
  });

  test('staff without counterId and admins may join any counter', async () => {
    const s = await ws(staff);
    assertJoined(await ack(s.socket, 'joinCounter', { counterId: c2 }), `counter-${c2}`);
    const a = await ws(admin);
    assertJoined(await ack(a.socket, 'joinCounter', { counterId: c3 }), `counter-${c3}`);
    assertRefused(await ack(a.socket, 'joinCounter', { counterId: 'no-such-counter' }), 'unknown counter');
    s.socket.disconnect();
    a.socket.disconnect();
  });
});

describe('joinUserRoom', () => {
  test('own user room ok, another user refused for a customer', async () => {
    const c = await ws(customer);
    assertJoined(await ack(c.socket, 'joinUserRoom', { userId: 'cust-1' }), 'user-cust-1');
    assertRefused(await ack(c.socket, 'joinUserRoom', { userId: 'cust-2' }), 'another user');
    c.socket.disconnect();
  });

  test('a guest may not join a user room', async () => {
    const g = await ws();
    assertRefused(await ack(g.socket, 'joinUserRoom', { userId: 'cust-1' }), 'guest');
    g.socket.disconnect();
  });

  test('staff and admins may join any user room', async () => {
    const s = await ws(staff);
    assertJoined(await ack(s.socket, 'joinUserRoom', { userId: 'cust-9' }), 'user-cust-9');
    const a = await ws(admin);
    assertJoined(await ack(a.socket, 'joinUserRoom', { userId: 'cust-8' }), 'user-cust-8');
    s.socket.disconnect();
    a.socket.disconnect();
  });
});

describe('leaveRoom', () => {
  test('a member leaves; a non-member is refused; a left room no longer receives', async () => {
    const c = await ws(customer);
    assertJoined(await ack(c.socket, 'joinServiceQueue', { serviceType: 'Finance' }), 'service-Finance');
    assert.deepEqual(await ack(c.socket, 'leaveRoom', { room: 'service-Finance' }), { success: true, room: 'service-Finance' });
    assertRefused(await ack(c.socket, 'leaveRoom', { room: 'service-Finance' }), 'leaving twice');
    assertRefused(await ack(c.socket, 'leaveRoom', { room: 'dashboard' }), 'never joined');
    assertRefused(await ack(c.socket, 'leaveRoom', { room: '' }), 'empty room');

    const got = collect(c.socket, 'afterLeave');
    const res = await broadcast({ event: 'afterLeave', data: { x: 1 }, room: 'service-Finance' });
    assert.equal(res.status, 202);
    assert.equal(res.body.recipients, 0);
    await quiet(); // the socket left the room: the broadcast must not reach it
    assert.equal(got.length, 0);
    c.socket.disconnect();
  });
});

describe('clientError and clientInfo', () => {
  test('clientError is acked, a long message is truncated not refused', async () => {
    const c = await ws();
    assert.deepEqual(await ack(c.socket, 'clientError', { message: 'boom', stack: 'at x\n at y' }), { success: true });
    assert.deepEqual(await ack(c.socket, 'clientError', { message: 'm'.repeat(5000), stack: '\u0000\u0007' }), { success: true });
    c.socket.disconnect();
  });

  test('clientInfo is acked and stored on the client record', async () => {
    const c = await ws();
    const info = { userAgent: 'interop-agent/1.0', language: 'sw-KE', timezone: 'Africa/Nairobi' };
    assert.deepEqual(await ack(c.socket, 'clientInfo', info), { success: true });
    const res = await fetch(`${srv.url}/api/admin/clients/${encodeURIComponent(c.socket.id)}`, { headers: { Authorization: `Bearer ${admin}` } });
    assert.equal(res.status, 200);
    const rec = await res.json();
    assert.equal(rec.socketId, c.socket.id);
    assert.equal(rec.clientId, c.hello.clientId);
    assert.equal(rec.userAgent, info.userAgent);
    assert.equal(rec.language, info.language);
    assert.equal(rec.timezone, info.timezone);
    c.socket.disconnect();
  });

  test('client records carry RFC 3339 millisecond times', async () => {
    const c = await ws();
    const res = await fetch(`${srv.url}/api/admin/clients/${encodeURIComponent(c.socket.id)}`, { headers: { Authorization: `Bearer ${admin}` } });
    const rec = await res.json();
    assert.match(rec.connectedAt, RFC3339_MS, `connectedAt ${rec.connectedAt}`);
    c.socket.disconnect();
  });
});

describe('bad input', () => {
  const long = 'x'.repeat(200);
  const cases = [
    ['joinDashboard', 'staff', 'a string instead of an object'],
    ['joinDashboard', { userRole: 7, userId: 'staff-1' }, 'a number instead of a string'],
    ['joinDashboard', { userRole: 'staff', userId: long }, 'a 200-char field'],
    ['joinServiceQueue', 'Finance', 'a string instead of an object'],
    ['joinServiceQueue', {}, 'a missing field'],
    ['joinServiceQueue', { serviceType: 42 }, 'a number instead of a string'],
    ['joinServiceQueue', { serviceType: long }, 'a 200-char field'],
    ['joinServiceQueue', [1, 2], 'an array'],
    ['joinCounter', 'counter', 'a string instead of an object'],
    ['joinCounter', {}, 'a missing field'],
    ['joinCounter', { counterId: 1 }, 'a number instead of a string'],
    ['joinCounter', { counterId: long }, 'a 200-char field'],
    ['joinUserRoom', 'staff-1', 'a string instead of an object'],
    ['joinUserRoom', {}, 'a missing field'],
    ['joinUserRoom', { userId: 3 }, 'a number instead of a string'],
    ['joinUserRoom', { userId: long }, 'a 200-char field'],
    ['leaveRoom', 'dashboard', 'a string instead of an object'],
    ['leaveRoom', {}, 'a missing field'],
    ['leaveRoom', { room: 9 }, 'a number instead of a string'],
    ['leaveRoom', { room: long }, 'a 200-char field'],
    ['clientError', 'boom', 'a string instead of an object'],
    ['clientError', { message: 5 }, 'a number instead of a string'],
    ['clientInfo', 'agent', 'a string instead of an object'],
    ['clientInfo', { userAgent: {} }, 'an object instead of a string'],
  ];

  test('each bad payload gets {success:false, error} and the connection keeps working', async () => {
    // staff, so that role checks cannot be what refuses the input
    const { socket } = await ws(staff);
    for (const [event, data, what] of cases) {
      assertRefused(await ack(socket, event, data), `${event} with ${what}`);
    }
    assert.equal(socket.connected, true);
    const pong = await ack(socket, 'ping');
    assert.equal(pong.pong, true);
    // and a good join still works on the same connection
    assertJoined(await ack(socket, 'joinServiceQueue', { serviceType: 'Finance' }), 'service-Finance');
    socket.disconnect();
  });

  test('an unknown event with an ack is refused, the connection keeps working', async () => {
    const { socket } = await polling();
    assertRefused(await ack(socket, 'noSuchEvent', { a: 1 }), 'unknown event');
    assert.equal((await ack(socket, 'ping')).pong, true);
    socket.disconnect();
  });
});

describe('admin broadcast over HTTP', () => {
  test('to a room: 202 with recipients, each member receives it once, others none', async () => {
    const m1 = await ws(customer);
    const m2 = await polling();
    const other = await ws();
    assertJoined(await ack(m1.socket, 'joinServiceQueue', { serviceType: 'Admissions' }), 'service-Admissions');
    assertJoined(await ack(m2.socket, 'joinServiceQueue', { serviceType: 'Admissions' }), 'service-Admissions');
    const got1 = collect(m1.socket, 'systemNotification');
    const got2 = collect(m2.socket, 'systemNotification');
    const gotOther = collect(other.socket, 'systemNotification');
    const at1 = once(m1.socket, 'systemNotification');
    const at2 = once(m2.socket, 'systemNotification');

    const data = { message: 'closing soon', level: 'info', n: [1, 2] };
    const res = await broadcast({ event: 'systemNotification', data, room: 'service-Admissions' });
    assert.equal(res.status, 202);
    assert.equal(res.body.recipients, 2);
    assert.deepEqual(await at1, data);
    assert.deepEqual(await at2, data);
    await quiet(); // exactly once: no duplicate may follow, and no non-member may get it
    assert.equal(got1.length, 1);
    assert.equal(got2.length, 1);
    assert.equal(gotOther.length, 0);
    for (const x of [m1, m2, other]) x.socket.disconnect();
  });

  test('without a room: every socket receives it once', async () => {
    const sockets = [await ws(), await polling(), await ws(staff)];
    const got = sockets.map((x) => collect(x.socket, 'announcement'));
    const arrivals = sockets.map((x) => once(x.socket, 'announcement'));
    const res = await broadcast({ event: 'announcement', data: 'hello everyone' });
    assert.equal(res.status, 202);
    assert.ok(Number.isInteger(res.body.recipients) && res.body.recipients >= sockets.length, `recipients ${res.body.recipients}`);
    for (const a of arrivals) assert.equal(await a, 'hello everyone');
    await quiet(); // exactly once: no duplicate may follow
    for (const g of got) assert.equal(g.length, 1);
    for (const x of sockets) x.socket.disconnect();
  });

  test('a staff token gets 403, no token 401, a bad token 401', async () => {
    const c = await ws();
    const got = collect(c.socket, 'forbiddenEvent');
    const body = { event: 'forbiddenEvent', data: {} };
    const s = await broadcast(body, staff);
    assert.equal(s.status, 403);
    assert.equal(typeof s.body.error, 'string');
    const n = await broadcast(body, null);
    assert.equal(n.status, 401);
    assert.equal(typeof n.body.error, 'string');
    const b = await broadcast(body, token({ role: 'admin', sub: 'x', secret: 'other' }));
    assert.equal(b.status, 401);
    await quiet(); // a refused broadcast must not be delivered
    assert.equal(got.length, 0);
    c.socket.disconnect();
  });

  test('a user room broadcast reaches the user and staff watching it', async () => {
    const c = await ws(customer);
    const s = await polling(staff);
    assertJoined(await ack(c.socket, 'joinUserRoom', { userId: 'cust-1' }), 'user-cust-1');
    assertJoined(await ack(s.socket, 'joinUserRoom', { userId: 'cust-1' }), 'user-cust-1');
    const atC = once(c.socket, 'personal');
    const atS = once(s.socket, 'personal');
    const res = await broadcast({ event: 'personal', data: { for: 'cust-1' }, room: 'user-cust-1' });
    assert.equal(res.status, 202);
    assert.equal(res.body.recipients, 2);
    assert.deepEqual(await atC, { for: 'cust-1' });
    assert.deepEqual(await atS, { for: 'cust-1' });
    c.socket.disconnect();
    s.socket.disconnect();
  });
});
