// Rate limits and connection caps as socket.io-client sees them: a failure
// ack, then a disconnect; a refused handshake is a connect_error the client
// retries with its backoff, and gets in once a place is free.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ack, client, closeAll, once, rawClient, startServer } from './helpers.js';

describe('events per connection (EVENT_BURST=5, EVENT_DEBT=3)', () => {
  let srv;
  before(async () => {
    // 0.01/s: no token comes back while a test runs
    srv = await startServer({ env: { EVENT_RATE: '0.01', EVENT_BURST: '5', EVENT_DEBT: '3' } });
  });
  after(async () => { closeAll(); await srv.close(); });

  for (const transport of ['websocket', 'polling']) {
    test(`over ${transport}: failure acks, then a disconnect`, async () => {
      const { socket } = await client(srv.url, { transports: [transport] });
      // the namespace CONNECT took the first token
      for (let i = 0; i < 4; i++) assert.equal((await ack(socket, 'ping')).pong, true, `ping ${i}`);
      assert.deepEqual(await ack(socket, 'ping'), { success: false, error: 'rate limit exceeded' });
      assert.deepEqual(await ack(socket, 'joinServiceQueue', { serviceType: 'Finance' }),
        { success: false, error: 'rate limit exceeded' });

      const fresh = await client(srv.url, { transports: [transport] });
      assert.equal((await ack(fresh.socket, 'ping')).pong, true, 'another connection has its own budget');

      const closed = once(socket, 'disconnect', 5000);
      socket.emit('ping');
      socket.emit('ping'); // four refused: over the debt
      const reason = await closed;
      assert.ok(['transport close', 'transport error', 'io server disconnect'].includes(reason), `disconnect reason ${reason}`);
      assert.equal((await ack(fresh.socket, 'ping')).pong, true);
      fresh.socket.disconnect();
    });
  }
});

describe('new connections per address (CONN_BURST_PER_IP=2)', () => {
  let srv;
  before(async () => {
    srv = await startServer({ env: { CONN_RATE_PER_IP: '0.01', CONN_BURST_PER_IP: '2' } });
  });
  after(async () => { closeAll(); await srv.close(); });

  test('the third handshake is refused with 429 and Retry-After, and the client retries', async () => {
    await client(srv.url, { transports: ['websocket'] });
    await client(srv.url, { transports: ['polling'] });
    const res = await fetch(`${srv.url}/socket.io/?EIO=4&transport=polling`);
    assert.equal(res.status, 429);
    assert.equal(res.headers.get('retry-after'), '100');
    assert.deepEqual(await res.json(), { code: 3, message: 'Too many new connections from this address' });

    for (const transport of ['websocket', 'polling']) {
      const socket = rawClient(srv.url, { transports: [transport], reconnection: true, reconnectionDelay: 50, reconnectionDelayMax: 100 });
      await once(socket, 'connect_error', 5000);
      await once(socket.io, 'reconnect_attempt', 5000);
      socket.disconnect();
    }
  });
});

describe('open connections per address (MAX_CONNECTIONS_PER_IP=2)', () => {
  let srv;
  before(async () => { srv = await startServer({ env: { MAX_CONNECTIONS_PER_IP: '2' } }); });
  after(async () => { closeAll(); await srv.close(); });

  test('a client refused at the cap gets in once a connection closes', async () => {
    const first = await client(srv.url, { transports: ['websocket'] });
    await client(srv.url, { transports: ['polling'] });
    const res = await fetch(`${srv.url}/socket.io/?EIO=4&transport=polling`);
    assert.equal(res.status, 429);
    assert.equal(res.headers.get('retry-after'), '5');
    assert.deepEqual(await res.json(), { code: 3, message: 'Too many connections from this address' });

    const waiting = rawClient(srv.url, { transports: ['websocket'], reconnection: true, reconnectionDelay: 50, reconnectionDelayMax: 100 });
    await once(waiting, 'connect_error', 5000);
    const connected = once(waiting, 'connect', 5000);
    first.socket.disconnect();
    await connected;
    assert.equal((await ack(waiting, 'ping')).pong, true);
  });
});

describe('API requests per address (REST_BURST_PER_IP=3)', () => {
  let srv;
  before(async () => { srv = await startServer({ env: { REST_RATE_PER_IP: '0.01', REST_BURST_PER_IP: '3' } }); });
  after(async () => { await srv.close(); });

  test('429 with Retry-After past the burst; probes are not limited', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await fetch(`${srv.url}/api/services`)).status, 200);
    const res = await fetch(`${srv.url}/api/services`);
    assert.equal(res.status, 429);
    assert.equal(res.headers.get('retry-after'), '100');
    assert.deepEqual(await res.json(), { error: 'rate limit exceeded' });
    for (const probe of ['/health', '/ready', '/metrics']) {
      const r = await fetch(`${srv.url}${probe}`);
      await r.arrayBuffer();
      assert.equal(r.status, 200, probe);
    }
  });
});
