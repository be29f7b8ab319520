/** The control socket under requests no client should send, and the socket path's guards. */
import assert from 'node:assert/strict';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { execa } from 'execa';
import { pino } from 'pino';
import { callControl } from '../../src/daemon/control-client.ts';
import { Daemon } from '../../src/daemon/daemon.ts';
import { Fixture, sendRaw, statuses } from './fixture.ts';
import { until } from '../support/until.ts';

const LIMITS = { maxConnections: 8, headersTimeoutMs: 300, requestTimeoutMs: 600, keepAliveTimeoutMs: 300 };
let fx: Fixture;

before(async () => {
  fx = await Fixture.create({ controlLimits: LIMITS });
  await fx.start();
});

after(() => fx.close());

test('a request target no URL parser takes (GET //[) is answered 400 and the daemon goes on', async () => {
  const answer = await sendRaw(fx.socket, 'GET //[ HTTP/1.1\r\nhost: x\r\n\r\n');
  assert.deepEqual(statuses(answer), [400]);
  assert.match(answer, /"code":"bad-request"/);
  const bad = await sendRaw(fx.socket, 'POST /drain/%E0%A4%A HTTP/1.1\r\nhost: x\r\n\r\n');
  assert.deepEqual(statuses(bad), [400]);
  assert.equal((await callControl<{ ready: boolean }>(fx.socket, 'GET', '/status')).ready, true);
  await fx.failover(0);
});

test('an unknown host is the client\'s mistake (400); a failing driver is the daemon\'s (500)', async () => {
  assert.deepEqual(statuses(await sendRaw(fx.socket, 'POST /drain/nope HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n')), [400]);
  const original = fx.driver.countStates.bind(fx.driver);
  fx.driver.countStates = () => Promise.reject(new Error('pfctl went away'));
  try {
    const answer = await sendRaw(fx.socket, 'GET /states/lb1 HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n');
    assert.deepEqual(statuses(answer), [500]);
  } finally {
    fx.driver.countStates = original;
  }
});

test('connections are capped and idle ones closed: a flood of silent clients costs bounded descriptors and passes', async () => {
  const fds = async (): Promise<number> => (await readdir('/proc/self/fd')).length;
  const baseline = await fds();
  const sockets: Socket[] = [];
  let closed = 0;
  for (let i = 0; i < 100; i++) {
    const s = connect(fx.socket);
    s.on('error', () => undefined);
    s.on('close', () => closed++);
    // Reading, or the server's FIN would never show as a close here.
    s.resume();
    sockets.push(s);
  }
  // Each open client holds one descriptor here and at most one in the server, capped at 8.
  await until(() => closed >= 100 - LIMITS.maxConnections, 5_000, 'connections beyond the cap closed');
  await until(() => closed === 100, 5_000, 'idle connections closed by the server');
  assert.ok((await fds()) <= baseline + 4, `descriptors back near ${baseline}`);
  assert.equal((await callControl<{ ready: boolean }>(fx.socket, 'GET', '/status')).ready, true);
});

test('/states shares one count in flight among concurrent requests', async () => {
  let calls = 0;
  const original = fx.driver.countStates.bind(fx.driver);
  fx.driver.countStates = async (addresses) => {
    calls++;
    await new Promise((resolve) => setTimeout(resolve, 100));
    return original(addresses);
  };
  try {
    const answers = await Promise.all(Array.from({ length: 6 }, () => callControl<{ states: number }>(fx.socket, 'GET', '/states/lb2')));
    assert.deepEqual(answers.map((a) => a.states), [0, 0, 0, 0, 0, 0]);
    assert.equal(calls, 1);
  } finally {
    fx.driver.countStates = original;
  }
});

test('control.socket: a live daemon\'s socket stops a second one; a regular file is never removed', async () => {
  const logger = pino({ level: 'silent' });
  await assert.rejects(Daemon.start(fx.file, fx.parts, logger), (error: { code: string }) => error.code === 'control-in-use');
  assert.equal((await callControl<{ ready: boolean }>(fx.socket, 'GET', '/status')).ready, true, 'the first daemon still answers');

  const other = await Fixture.create();
  try {
    await writeFile(other.socket, 'precious\n');
    await assert.rejects(Daemon.start(other.file, other.parts, logger), (error: { code: string }) => error.code === 'control-not-socket');
    assert.equal(await readFile(other.socket, 'utf8'), 'precious\n');
  } finally {
    await other.close();
  }
});

test('control.socket: a stale socket (nobody answers) is replaced', async () => {
  const other = await Fixture.create();
  try {
    // A process that bound the socket and died without removing it.
    await execa('python3', ['-c', `import socket; socket.socket(socket.AF_UNIX).bind(${JSON.stringify(other.socket)})`]);
    assert.ok((await stat(other.socket)).isSocket());
    await other.start();
    assert.equal((await callControl<{ ready: boolean }>(other.socket, 'GET', '/status')).ready, true);
  } finally {
    await other.close();
  }
});
