// The client record and per-socket limits, seen through the admin API.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ack, client, closeAll, once, startServer, token } from './helpers.js';

const admin = token({ role: 'admin', sub: 'admin-r' });
const staff = token({ role: 'staff', sub: 'staff-r' });

describe('client records and limits', () => {
  let srv;
  before(async () => { srv = await startServer(); });
  after(async () => { closeAll(); await srv.close(); });

  const record = async (id) => {
    const res = await fetch(`${srv.url}/api/admin/clients/${encodeURIComponent(id)}`, { headers: { Authorization: `Bearer ${admin}` } });
    assert.equal(res.status, 200);
    return res.json();
  };

  test('the record follows an upgrade from polling to websocket', async () => {
    const { socket } = await client(srv.url); // default: polling, then upgrade
    const engine = socket.io.engine;
    if (engine.transport.name !== 'websocket') await once(engine, 'upgrade', 5000);
    // The directory hears of the upgrade by message; give it a few tries.
    let rec;
    for (let i = 0; i < 50; i++) {
      rec = await record(socket.id);
      if (rec.transport === 'websocket') break;
      await new Promise((r) => setTimeout(r, 20)); // polling the admin API, not waiting on time
    }
    assert.equal(rec.transport, 'websocket');
  });

  test('a join sent twice is acked twice, both once it is in effect', async () => {
    const { socket } = await client(srv.url, { transports: ['websocket'] });
    const [a, b] = await Promise.all([
      ack(socket, 'joinServiceQueue', { serviceType: 'Finance' }),
      ack(socket, 'joinServiceQueue', { serviceType: 'Finance' }),
    ]);
    assert.deepEqual(a, { success: true, room: 'service-Finance' });
    assert.deepEqual(b, { success: true, room: 'service-Finance' });
    const rec = await record(socket.id);
    assert.deepEqual(rec.rooms, ['service-Finance']);
  });

  test('a socket may be in at most 64 rooms', async () => {
    const { socket } = await client(srv.url, { transports: ['websocket'], auth: { token: staff } });
    for (let i = 0; i < 64; i++) {
      assert.equal((await ack(socket, 'joinUserRoom', { userId: `u${i}` })).success, true, `room ${i}`);
    }
    const refused = await ack(socket, 'joinUserRoom', { userId: 'one-too-many' });
    assert.equal(refused.success, false);
    assert.match(refused.error, /too many rooms/);
    assert.deepEqual(await ack(socket, 'leaveRoom', { room: 'user-u0' }), { success: true, room: 'user-u0' });
    assert.equal((await ack(socket, 'joinUserRoom', { userId: 'one-too-many' })).success, true);
  });
});
