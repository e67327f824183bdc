// Shared helpers of the interop suite: spawn the queuecast binary on a free
// port, sign tokens, and await socket.io-client events with a deadline.
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { io } from 'socket.io-client';

export const SECRET = 'interop-test-secret-0123456789abcdef';
export const ORIGIN = 'http://allowed.example';

const BIN = process.env.QUEUECAST_BIN;
if (!BIN) throw new Error('QUEUECAST_BIN must name the queuecast binary');

/** freePort asks the kernel for a port nobody listens on. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** waitFor races a promise against a deadline that names what was awaited. */
export function waitFor(promise, ms, what) {
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** once resolves with the first argument of the next `event` on emitter. */
export function once(emitter, event, ms = 3000) {
  return waitFor(new Promise((resolve) => emitter.once(event, (arg) => resolve(arg))), ms, `event "${event}"`);
}

/** ack emits with an ack callback and resolves with the ack's first argument. */
export function ack(socket, event, ...args) {
  return socket.timeout(3000).emitWithAck(event, ...args);
}

/** collect records every payload of event on socket, for "exactly once" checks. */
export function collect(socket, event) {
  const got = [];
  socket.on(event, (data) => got.push(data));
  return got;
}

/**
 * quiet waits a short while to prove that something does NOT arrive: there
 * is no event to await for an absence, so a bounded sleep is the only way.
 */
export function quiet(ms = 300) {
  return new Promise((r) => setTimeout(r, ms));
}

const b64url = (s) => Buffer.from(s).toString('base64url');

/** token signs an HS256 JWT with the suite's secret (or another one). */
export function token({ role, sub, counterId, ttl = 3600, secret = SECRET }) {
  const claims = { sub, role, exp: Math.floor(Date.now() / 1000) + ttl };
  if (counterId) claims.counterId = counterId;
  const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64url(JSON.stringify(claims));
  const sig = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

// waitHealthy polls GET /health; the fixture has no such route, so for it any
// HTTP answer means it listens.
async function waitHealthy(url, child, fixture, log, ms = 10000) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`queuecast exited with ${child.exitCode} before it was healthy: ${log()}`);
    try {
      const res = await fetch(`${url}/health`);
      await res.arrayBuffer();
      if (res.ok || fixture) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50)); // poll interval of the health probe
  }
  throw new Error(`queuecast at ${url} not healthy within ${ms} ms`);
}

/**
 * startServer spawns `queuecast serve` (or `fixture`) on a free port with a
 * fresh DATA_DIR. The returned handle's stop() sends SIGTERM and resolves
 * with the exit code; restart() starts it again on the same port.
 */
export async function startServer({ env = {}, fixture = false, port } = {}) {
  port ??= await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'queuecast-interop-'));
  const handle = { port, url: `http://127.0.0.1:${port}`, dataDir, child: null, log: '' };

  handle.start = async () => {
    const args = fixture ? ['fixture', '--port', String(port)] : ['serve'];
    const child = spawn(BIN, args, {
      env: {
        ...process.env,
        PORT: String(port),
        JWT_SECRET: SECRET,
        DATA_DIR: dataDir,
        SOCKET_IO_ORIGIN: ORIGIN,
        LOG_LEVEL: 'warn',
        ...env,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr.on('data', (d) => { handle.log += d; });
    handle.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
    handle.child = child;
    await waitHealthy(handle.url, child, fixture, () => handle.log.trim());
    return handle;
  };

  handle.stop = async () => {
    const child = handle.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? child?.signalCode;
    child.kill('SIGTERM');
    try {
      return await waitFor(handle.exited, 8000, 'queuecast to exit after SIGTERM');
    } catch (err) {
      child.kill('SIGKILL');
      throw err;
    }
  };

  handle.close = async () => {
    try {
      await handle.stop();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  };

  await handle.start();
  return handle;
}

/**
 * client opens a socket.io-client connection and resolves once the server's
 * "connected" event arrives, with { socket, hello }. Every socket made here
 * is closed by closeAll().
 */
const open = new Set();
export async function client(url, opts = {}) {
  const socket = io(url, { forceNew: true, reconnection: false, ...opts });
  open.add(socket);
  const hello = once(socket, 'connected', 5000);
  const failed = new Promise((_, reject) => socket.once('connect_error', (err) => reject(err)));
  return { socket, hello: await Promise.race([hello, failed]) };
}

/** rawClient opens a socket without waiting for anything. */
export function rawClient(url, opts = {}) {
  const socket = io(url, { forceNew: true, reconnection: false, ...opts });
  open.add(socket);
  return socket;
}

export function closeAll() {
  for (const s of open) s.disconnect();
  open.clear();
}
