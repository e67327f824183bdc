// maxHttpBufferSize: an event over the limit closes the connection on each
// transport, and the server keeps serving new clients.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ack, client, closeAll, once, startServer } from './helpers.js';

const LIMIT = 1000;

describe(`payload limit (MAX_HTTP_BUFFER_SIZE=${LIMIT})`, () => {
  let srv;
  before(async () => { srv = await startServer({ env: { MAX_HTTP_BUFFER_SIZE: String(LIMIT) } }); });
  after(async () => { closeAll(); await srv.close(); });

  for (const transport of ['websocket', 'polling']) {
    test(`over ${transport}: under the limit passes, over the limit disconnects`, async () => {
      const { socket } = await client(srv.url, { transports: [transport] });
      // an event well under the limit is served
      assert.deepEqual(await ack(socket, 'clientError', { message: 'x'.repeat(LIMIT / 2) }), { success: true });

      const closed = once(socket, 'disconnect', 5000);
      socket.emit('clientError', { message: 'x'.repeat(LIMIT * 5) });
      const reason = await closed;
      assert.ok(['transport close', 'transport error'].includes(reason), `disconnect reason ${reason}`);
      assert.equal(socket.connected, false);

      // the server still serves new clients
      const fresh = await client(srv.url, { transports: [transport] });
      assert.equal((await ack(fresh.socket, 'ping')).pong, true);
      fresh.socket.disconnect();
    });
  }

  test('a binary event is bounded as a whole, not per attachment', async () => {
    const { socket } = await client(srv.url, { transports: ['websocket'] });
    // small attachments are reassembled and the event is served (an unknown
    // event is acked with a failure)
    const small = await ack(socket, 'no-such-event', Buffer.alloc(100), Buffer.alloc(100));
    assert.deepEqual(small, { success: false, error: 'unknown event' });

    // each attachment is under the limit, together they are over it
    const closed = once(socket, 'disconnect', 5000);
    socket.emit('no-such-event', Buffer.alloc(LIMIT * 0.6), Buffer.alloc(LIMIT * 0.6));
    const reason = await closed;
    assert.ok(['transport close', 'transport error'].includes(reason), `disconnect reason ${reason}`);
  });

  test('over polling the oversized POST itself is refused', async () => {
    const hs = await fetch(`${srv.url}/socket.io/?EIO=4&transport=polling`);
    const text = await hs.text();
    const { sid } = JSON.parse(text.slice(1));
    const url = `${srv.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`;
    const connect = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'text/plain;charset=UTF-8' }, body: '40' });
    assert.equal(connect.status, 200);
    const big = `42${JSON.stringify(['clientError', { message: 'y'.repeat(LIMIT * 5) }])}`;
    const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'text/plain;charset=UTF-8' }, body: big });
    assert.ok(res.status >= 400, `oversized POST answered ${res.status}`);
    await res.arrayBuffer();
  });
});
