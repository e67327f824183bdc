// Transports, the "connected" greeting, client-to-server acks and CORS.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ORIGIN, ack, client, closeAll, once, rawClient, startServer } from './helpers.js';

const RFC3339_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}(Z|[+-]\d{2}:\d{2})$/;

function assertHello(hello, socket) {
  assert.equal(typeof hello, 'object');
  assert.equal(hello.socketId, socket.id, 'socketId is the client-side socket.id');
  assert.equal(typeof hello.socketId, 'string');
  assert.ok(Number.isInteger(hello.clientId) && hello.clientId > 0, `clientId ${hello.clientId}`);
  assert.match(hello.connectedAt, RFC3339_MS);
  assert.equal(typeof hello.node, 'string');
  assert.ok(hello.node.length > 0);
  assert.ok(Number.isInteger(hello.totalConnected) && hello.totalConnected >= 1, `totalConnected ${hello.totalConnected}`);
}

describe('transports', () => {
  let srv;
  before(async () => { srv = await startServer(); });
  after(async () => { closeAll(); await srv.close(); });

  test('websocket only: connected greeting and ping ack', async () => {
    const { socket, hello } = await client(srv.url, { transports: ['websocket'] });
    assert.equal(socket.io.engine.transport.name, 'websocket');
    assertHello(hello, socket);
    const pong = await ack(socket, 'ping');
    assert.equal(pong.pong, true);
    assert.match(pong.timestamp, RFC3339_MS);
    assert.equal(typeof pong.serverTime, 'number');
    assert.ok(Math.abs(pong.serverTime - Date.now()) < 5000, 'serverTime is epoch milliseconds');
    socket.disconnect();
  });

  test('polling only: connected greeting and ping ack', async () => {
    const { socket, hello } = await client(srv.url, { transports: ['polling'] });
    assert.equal(socket.io.engine.transport.name, 'polling');
    assertHello(hello, socket);
    const pong = await ack(socket, 'ping');
    assert.equal(pong.pong, true);
    assert.match(pong.timestamp, RFC3339_MS);
    assert.equal(typeof pong.serverTime, 'number');
    // still polling: no upgrade was offered to this client
    assert.equal(socket.io.engine.transport.name, 'polling');
    socket.disconnect();
  });

  test('default: polling upgrades to websocket', async () => {
    const socket = rawClient(srv.url);
    const hello = once(socket, 'connected', 5000);
    let first;
    const upgraded = new Promise((resolve) => {
      socket.io.on('open', () => {
        first = socket.io.engine.transport.name;
        socket.io.engine.once('upgrade', (t) => resolve(t.name));
      });
    });
    await once(socket, 'connect', 5000);
    assert.equal(first, 'polling', 'the default path opens with polling');
    assertHello(await hello, socket);
    assert.equal(await Promise.race([upgraded, once(socket, 'disconnect', 5000).then(() => 'disconnected')]), 'websocket');
    assert.equal(socket.io.engine.transport.name, 'websocket');
    const pong = await ack(socket, 'ping');
    assert.equal(pong.pong, true);
    socket.disconnect();
  });

  test('clientIds are distinct and totalConnected counts open sockets', async () => {
    const a = await client(srv.url, { transports: ['websocket'] });
    const b = await client(srv.url, { transports: ['websocket'] });
    assert.notEqual(a.hello.clientId, b.hello.clientId);
    assert.notEqual(a.hello.socketId, b.hello.socketId);
    assert.ok(b.hello.totalConnected >= 2, `totalConnected ${b.hello.totalConnected} with two sockets open`);
    a.socket.disconnect();
    b.socket.disconnect();
  });

  test('CORS: a disallowed Origin on the polling handshake gets 403', async () => {
    const res = await fetch(`${srv.url}/socket.io/?EIO=4&transport=polling`, { headers: { Origin: 'http://evil.example' } });
    assert.equal(res.status, 403);
    assert.equal(res.headers.get('access-control-allow-origin'), null);
  });

  test('CORS: an allowed Origin gets Access-Control-Allow-Origin and a handshake', async () => {
    const res = await fetch(`${srv.url}/socket.io/?EIO=4&transport=polling`, { headers: { Origin: ORIGIN } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), ORIGIN);
    assert.equal(res.headers.get('access-control-allow-credentials'), 'true');
    const body = await res.text();
    assert.match(body, /^0\{.*"sid":/, `handshake body ${body}`);
  });

  test('CORS: preflight from an allowed Origin', async () => {
    const res = await fetch(`${srv.url}/socket.io/?EIO=4&transport=polling`, {
      method: 'OPTIONS',
      headers: { Origin: ORIGIN, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' },
    });
    assert.ok(res.status === 204 || res.status === 200, `preflight status ${res.status}`);
    assert.equal(res.headers.get('access-control-allow-origin'), ORIGIN);
  });

  test('CORS: the client from a disallowed Origin cannot connect over websocket', async () => {
    const socket = rawClient(srv.url, { transports: ['websocket'], extraHeaders: { Origin: 'http://evil.example' } });
    const err = await once(socket, 'connect_error', 5000);
    assert.ok(err instanceof Error);
    assert.equal(socket.connected, false);
    // control: the same client with an allowed Origin connects
    const ok = await client(srv.url, { transports: ['websocket'], extraHeaders: { Origin: ORIGIN } });
    assert.equal(ok.socket.connected, true);
    ok.socket.disconnect();
  });
});
