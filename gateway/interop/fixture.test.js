// Against the protocol fixture: binary payloads both ways and server-to-client
// acks, over each transport.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ack, closeAll, once, rawClient, startServer, waitFor } from './helpers.js';

for (const transport of ['websocket', 'polling']) {
  describe(`fixture over ${transport}`, () => {
    let srv;
    let socket;
    before(async () => {
      srv = await startServer({ fixture: true });
      socket = rawClient(srv.url, { transports: [transport], auth: { token: 'abc' } });
      const auth = await once(socket, 'auth', 5000);
      assert.deepEqual(auth, { token: 'abc' }, 'the fixture echoes the CONNECT auth payload');
    });
    after(async () => { closeAll(); await srv.close(); });

    test('binary in "message" comes back as "message-back"', async () => {
      const buf = Buffer.from([0, 1, 2, 3, 255, 254]);
      const u8 = new Uint8Array([9, 8, 7]);
      const back = new Promise((resolve) => socket.once('message-back', (...args) => resolve(args)));
      socket.emit('message', buf, { nested: u8, n: 1 }, 'text');
      const [b0, obj, text] = await waitFor(back, 3000, '"message-back"');
      assert.ok(Buffer.isBuffer(b0) || b0 instanceof ArrayBuffer, `first arg is binary (${Object.prototype.toString.call(b0)})`);
      assert.deepEqual([...new Uint8Array(b0)], [0, 1, 2, 3, 255, 254]);
      assert.deepEqual([...new Uint8Array(obj.nested)], [9, 8, 7]);
      assert.equal(obj.n, 1);
      assert.equal(text, 'text');
      assert.equal(socket.io.engine.transport.name, transport);
    });

    test('binary in "message-with-ack" comes back in the ack', async () => {
      const big = Buffer.alloc(64 * 1024, 0xab);
      const answer = new Promise((resolve) => socket.emit('message-with-ack', big, { tag: 'x', bin: Buffer.from('hi') }, (...args) => resolve(args)));
      const [a0, a1] = await waitFor(answer, 3000, 'the ack of "message-with-ack"');
      assert.equal(new Uint8Array(a0).length, big.length);
      assert.ok(new Uint8Array(a0).every((b) => b === 0xab));
      assert.equal(a1.tag, 'x');
      assert.equal(Buffer.from(new Uint8Array(a1.bin)).toString(), 'hi');
    });

    test('server-to-client ack: ack-request answered, answer comes back as ack-result', async () => {
      socket.once('ack-request', (...args) => {
        const cb = args.pop();
        assert.equal(typeof cb, 'function', 'the server asked for an ack');
        cb({ got: args }, 42);
      });
      const result = new Promise((resolve) => socket.once('ack-result', (...args) => resolve(args)));
      socket.emit('request-ack', 'hello', { k: 1 });
      const args = await waitFor(result, 3000, '"ack-result"');
      assert.deepEqual(args, [{ got: ['hello', { k: 1 }] }, 42]);
    });

    test('the connection is still usable after binary traffic (ack echo)', async () => {
      const x = await ack(socket, 'message-with-ack', 'plain');
      assert.equal(x, 'plain');
    });
  });
}
