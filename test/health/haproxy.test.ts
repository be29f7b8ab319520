/**
 * The health engine against a real haproxy on loopback: `monitor-uri` answering 200 or 503 as
 * `monitor fail` trips, servers disabled over the admin socket, a TLS frontend with a
 * self-signed certificate. haproxy is required, not optional: without it these tests fail.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type Server } from 'node:http';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import type { HttpCheck } from '../../src/config/model.ts';
import type { CheckResult } from '../../src/health/types.ts';
import { checkSession } from '../../src/health/run-check.ts';
import { HealthMonitor } from '../../src/health/monitor.ts';
import type { HostTransition } from '../../src/health/types.ts';
import { parseAddress } from '../../src/net/address.ts';
import { freePort } from '../support/net.ts';

const INTERVAL = 200;
const TIMEOUT = 150;
const RISE = 2;
const FALL = 3;
// Timers, haproxy's own reaction and a loaded CI machine; an upper bound, not a speed target.
const SLACK = 500;

let dir = '';
let haproxy: ChildProcess | undefined;
let haproxyExit: Promise<void> = Promise.resolve();
let haproxyStderr = '';
let backend: Server | undefined;
let monitorPort = 0;
let tlsPort = 0;

function findHaproxy(): string {
  const candidates = process.env.HAPROXY ? [process.env.HAPROXY] : [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin'].map((d) => join(d, 'haproxy'));
  for (const file of candidates) {
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // Not here; try the next place.
    }
  }
  throw new Error(`haproxy is required for these tests and was not found (looked in ${candidates.join(', ')}); install it (Debian: apt-get install haproxy) or set HAPROXY to its path`);
}


const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitForListener(port: number, deadline: number): Promise<void> {
  while (performance.now() < deadline) {
    if (haproxy?.exitCode !== null) throw new Error(`haproxy exited with ${haproxy?.exitCode}: ${haproxyStderr}`);
    const connected = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (connected) return;
    await sleep(20);
  }
  throw new Error(`haproxy did not listen on 127.0.0.1:${port} within the deadline: ${haproxyStderr}`);
}

/** One command on haproxy's admin socket; its answer. */
function adminCommand(command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(join(dir, 'admin.sock'));
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.once('error', reject);
    socket.once('end', () => resolve(answer));
    socket.write(`${command}\n`);
  });
}

/** One run of a check, as `pfsteer probe` does it. */
async function runOnce(check: HttpCheck): Promise<CheckResult> {
  const session = checkSession(check);
  try {
    return await session.run(new AbortController().signal).result;
  } finally {
    await session.close();
  }
}

function httpCheck(overrides: Partial<HttpCheck> = {}): HttpCheck {
  return {
    type: 'http',
    name: 'haproxy',
    address: parseAddress('127.0.0.1')!,
    port: monitorPort,
    path: '/haproxy_check',
    method: 'GET',
    expectStatus: [200],
    tlsVerify: true,
    fresh: true,
    interval: INTERVAL,
    timeout: TIMEOUT,
    rise: RISE,
    fall: FALL,
    fastinter: INTERVAL,
    downinter: INTERVAL,
    jitter: 0,
    ...overrides,
  };
}

before(async () => {
  const binary = findHaproxy();
  dir = await mkdtemp(join(tmpdir(), 'pfsteer-haproxy-'));
  backend = createHttpServer((_request, response) => response.end('signal\n'));
  await new Promise<void>((resolve) => backend!.listen(0, '127.0.0.1', resolve));
  const backendPort = (backend.address() as AddressInfo).port;
  monitorPort = await freePort();
  tlsPort = await freePort();
  const pem = join(dir, 'lb1-service.pem');
  await promisify(execFile)('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=lb1-service', '-days', '2', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')]);
  await promisify(execFile)('sh', ['-c', `cat "${join(dir, 'cert.pem')}" "${join(dir, 'key.pem')}" > "${pem}"`]);
  const config = `global
  stats socket ${join(dir, 'admin.sock')} level admin

defaults
  mode http
  timeout connect 1s
  timeout client 5s
  timeout server 5s

frontend health
  bind 127.0.0.1:${monitorPort}
  monitor-uri /haproxy_check
  monitor fail if { nbsrv(signal) lt 1 }
  default_backend signal

frontend tls
  bind 127.0.0.1:${tlsPort} ssl crt ${pem}
  monitor-uri /haproxy_check
  monitor fail if { nbsrv(signal) lt 1 }
  default_backend signal

# No health check of its own: only the admin socket changes whether s1 counts.
backend signal
  server s1 127.0.0.1:${backendPort}
`;
  const file = join(dir, 'haproxy.cfg');
  await writeFile(file, config);
  haproxy = spawn(binary, ['-f', file, '-db'], { stdio: ['ignore', 'ignore', 'pipe'] });
  haproxy.stderr!.setEncoding('utf8');
  haproxy.stderr!.on('data', (chunk: string) => (haproxyStderr = (haproxyStderr + chunk).slice(-4096)));
  const child = haproxy;
  haproxyExit = new Promise((resolve) => child.once('exit', () => resolve()));
  const deadline = performance.now() + 5000;
  await waitForListener(monitorPort, deadline);
  await waitForListener(tlsPort, deadline);
});

after(async () => {
  // Only the haproxy this file started, by its pid.
  if (haproxy?.pid !== undefined && haproxy.exitCode === null && haproxy.signalCode === null) {
    process.kill(haproxy.pid, 'SIGKILL');
  }
  await haproxyExit;
  if (backend) await new Promise((resolve) => backend!.close(resolve));
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('https with verification off is ok against the self-signed frontend', async () => {
  const result = await runOnce(httpCheck({ type: 'https', port: tlsPort, host: 'lb1-service', tlsVerify: false, timeout: 2000 }));
  assert.equal(result.code, 'ok', result.detail);
  assert.equal(result.ok, true);
});

test('https with verification on fails with a TLS code', async () => {
  const result = await runOnce(httpCheck({ type: 'https', port: tlsPort, host: 'lb1-service', tlsVerify: true, timeout: 2000 }));
  assert.equal(result.ok, false);
  assert.equal(result.code, 'tls-verify', result.detail);
});

test('disable server turns the host down within fall x interval + timeout; enable brings it up within rise x interval', async () => {
  const transitions: Array<HostTransition & { t: number }> = [];
  const monitor = new HealthMonitor([{ name: 'lb1', weight: 1, targets: {}, checks: [httpCheck()] }], pino({ level: 'silent' }));
  monitor.onTransition((transition) => transitions.push({ ...transition, t: performance.now() }));
  const waitFor = async (to: string, limit: number) => {
    const until = performance.now() + limit;
    while (performance.now() < until && transitions.at(-1)?.to !== to) await sleep(10);
    return transitions.at(-1);
  };
  monitor.start();
  try {
    const first = await waitFor('up', INTERVAL + TIMEOUT + SLACK);
    assert.equal(first?.to, 'up', 'the first check should find haproxy up');
    assert.equal(first.from, 'unknown');

    const disabledAt = performance.now();
    assert.equal((await adminCommand('disable server signal/s1')).trim(), '');
    const downLimit = FALL * INTERVAL + TIMEOUT + SLACK;
    const down = await waitFor('down', downLimit);
    assert.equal(down?.to, 'down', `not down within ${downLimit} ms of disable server`);
    assert.match(down.reason, /haproxy: http-status status 503/);
    assert.ok(down.t - disabledAt <= downLimit, `down after ${down.t - disabledAt} ms`);
    // rise/fall holds: a single failure does not turn the host down.
    assert.ok(down.t - disabledAt >= (FALL - 1) * INTERVAL, `down after only ${down.t - disabledAt} ms, fewer than ${FALL} checks`);
    assert.equal(monitor.states().get('lb1'), 'down');

    const enabledAt = performance.now();
    assert.equal((await adminCommand('enable server signal/s1')).trim(), '');
    const upLimit = RISE * INTERVAL + SLACK;
    const up = await waitFor('up', upLimit);
    assert.equal(up?.to, 'up', `not up within ${upLimit} ms of enable server`);
    assert.ok(up.t - enabledAt <= upLimit, `up after ${up.t - enabledAt} ms`);
    assert.equal(up.from, 'down');
    assert.deepEqual(transitions.map((t) => t.to), ['up', 'down', 'up']);
  } finally {
    await monitor.close();
  }
});

test('with haproxy gone the check says refused', async () => {
  const child = haproxy!;
  process.kill(child.pid!, 'SIGTERM');
  await haproxyExit;
  const result = await runOnce(httpCheck({ timeout: 2000 }));
  assert.equal(result.ok, false);
  assert.equal(result.code, 'refused', result.detail);
});
