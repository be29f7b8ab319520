/**
 * Every network check ends at its deadline, measured from the run's start, in every phase that
 * can hang against a silent target, and its verdict names that phase: no SYN-ACK (an address in
 * a namespace whose packets an nft rule drops), a connection accepted but no TLS ServerHello,
 * response headers never sent, a body trickled. The bound asserted is generous (timeout + 1 s;
 * before the fix an http check waited 10 s for undici's own connect timeout); the tight figure is
 * bench:health's lateness.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TLSSocket } from 'node:tls';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import type { Check, HttpCheck, TcpCheck } from '../../src/config/model.ts';
import { checkSession } from '../../src/health/run-check.ts';
import type { CheckResult } from '../../src/health/types.ts';
import { parseAddress } from '../../src/net/address.ts';
import { runChecksIn, type CheckSpec } from '../support/check-runner.ts';
import { createSilentNet, SILENT4, SILENT6 } from '../support/silent-net.ts';

const TIMEOUT = 200;
/** Far below any library default (undici's connect timeout is 10 s, the kernel's SYN retries 2 min). */
const BOUND = TIMEOUT + 1000;
const TIMING = { interval: 1000, timeout: TIMEOUT, rise: 1, fall: 1, fastinter: 1000, downinter: 1000, jitter: 0 };

function httpSpec(name: string, address: string, port: number, extra: Partial<HttpCheck> = {}): CheckSpec {
  return { ...TIMING, name, type: 'http', address, port, path: '/', method: 'GET', expectStatus: [200], tlsVerify: false, fresh: true, ...extra } as CheckSpec;
}

function tcpSpec(name: string, address: string, port: number, extra: Partial<TcpCheck> = {}): CheckSpec {
  return { ...TIMING, name, type: 'tcp', address, port, ...extra } as CheckSpec;
}

function asCheck(spec: CheckSpec): Check {
  return { ...spec, address: parseAddress(spec.address)! } as Check;
}

/** Runs the check once (or `runs` times in one session), timing each run from its start. */
async function runTimed(spec: CheckSpec, runs = 1): Promise<Array<CheckResult & { elapsed: number }>> {
  const session = checkSession(asCheck(spec));
  const out = [];
  try {
    for (let i = 0; i < runs; i++) {
      const start = performance.now();
      const result = await session.run(new AbortController().signal).result;
      out.push({ ...result, elapsed: performance.now() - start });
    }
  } finally {
    await session.close();
  }
  return out;
}

function assertCut(result: CheckResult & { elapsed: number }, code: string, what: string): void {
  assert.equal(result.code, code, `${what}: ${result.code} ${result.detail}`);
  assert.equal(result.ok, false);
  assert.ok(result.elapsed >= TIMEOUT - 2, `${what}: verdict after ${result.elapsed.toFixed(1)} ms, before its deadline`);
  assert.ok(result.elapsed <= BOUND, `${what}: verdict after ${result.elapsed.toFixed(1)} ms, bound ${BOUND} ms`);
}

async function listen(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

const servers: Server[] = [];
const sockets = new Set<Socket>();
let dir: string;
let key: Buffer;
let cert: Buffer;

/** A server that `serve`s each connection; every socket is destroyed when the file's tests end. */
async function serve(serve: (socket: Socket) => void): Promise<number> {
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined).on('close', () => sockets.delete(socket));
    serve(socket);
  });
  servers.push(server);
  return listen(server);
}

async function serveHttp(handle: (request: IncomingMessage, response: ServerResponse) => void): Promise<number> {
  const server = createHttpServer(handle);
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  servers.push(server);
  return listen(server);
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pfsteer-silent-'));
  await promisify(execFile)('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=silent', '-days', '2', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')]);
  [key, cert] = await Promise.all([readFile(join(dir, 'key.pem')), readFile(join(dir, 'cert.pem'))]);
});

after(async () => {
  for (const socket of sockets) socket.destroy();
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  await rm(dir, { recursive: true, force: true });
});

test('no SYN-ACK: http, https and tcp checks of an address whose packets are dropped end in connect-timeout at their deadline', async () => {
  const silent = await createSilentNet('sd');
  try {
    const specs = [
      httpSpec('http', SILENT4, 8081),
      httpSpec('https', SILENT4, 443, { type: 'https' }),
      httpSpec('kept-alive', SILENT4, 8081, { fresh: false }),
      httpSpec('http6', SILENT6, 8081),
      tcpSpec('tcp', SILENT4, 8081),
      tcpSpec('tcp-expect', SILENT6, 8081, { send: 'PING\n', expect: 'PONG' }),
    ];
    const results = await runChecksIn(silent.lab, silent.ns, specs);
    assert.deepEqual(results.map((r) => r.name), specs.map((s) => s.name));
    for (const r of results) assertCut(r, 'connect-timeout', r.name);
  } finally {
    await silent.lab.destroy();
  }
});

test('connection accepted but no TLS ServerHello: https ends in tls-timeout', async () => {
  const port = await serve((socket) => socket.resume());
  const [result] = await runTimed(httpSpec('https', '127.0.0.1', port, { type: 'https' }));
  assertCut(result!, 'tls-timeout', 'https');
});

test('response headers never sent: http, https (handshake done) and tcp with expect end in response-timeout', async () => {
  const silent = await serve((socket) => socket.resume());
  const tls = await serve((socket) => new TLSSocket(socket, { isServer: true, key, cert }).on('error', () => undefined).resume());
  const results = await Promise.all([
    runTimed(httpSpec('http', '127.0.0.1', silent)),
    runTimed(httpSpec('https', '127.0.0.1', tls, { type: 'https' })),
    runTimed(tcpSpec('tcp', '127.0.0.1', silent, { send: 'PING\n', expect: 'PONG' })),
  ]);
  for (const [r] of results) assertCut(r!, 'response-timeout', r!.detail);
});

/** A server answering headers at once (or after `delay` ms), then one byte every 20 ms, never the whole body. */
async function trickle(delay = 0): Promise<number> {
  return serveHttp((_request, response) => {
    setTimeout(() => {
      response.writeHead(200, { 'content-length': '1000' });
      const timer = setInterval(() => response.write('x'), 20);
      response.on('close', () => clearInterval(timer));
    }, delay);
  });
}

test('a trickled body ends in body-timeout at the deadline, with and without expect_body', async () => {
  const port = await trickle();
  const results = await Promise.all([runTimed(httpSpec('plain', '127.0.0.1', port)), runTimed(httpSpec('body', '127.0.0.1', port, { expectBody: 'ok' }))]);
  for (const [r] of results) assertCut(r!, 'body-timeout', r!.detail);
});

test('the deadline runs from the run start, not afresh per phase: a TLS handshake or headers half the timeout late, then nothing, end at the timeout', async () => {
  // Wider than the other tests' 200 ms, so a loaded machine's event-loop lag cannot move the phase.
  const timeout = 600;
  const late = timeout / 2;
  const tls = await serve((socket) => {
    socket.pause();
    setTimeout(() => new TLSSocket(socket, { isServer: true, key, cert }).on('error', () => undefined).resume(), late);
  });
  const body = await trickle(late);
  const results = await Promise.all([
    runTimed({ ...httpSpec('https', '127.0.0.1', tls, { type: 'https' }), timeout } as CheckSpec),
    runTimed({ ...httpSpec('http', '127.0.0.1', body), timeout } as CheckSpec),
  ]);
  assert.deepEqual(results.map(([r]) => r!.code), ['response-timeout', 'body-timeout']);
  for (const [r] of results) {
    assert.ok(r!.elapsed >= timeout - 2, `verdict after ${r!.elapsed.toFixed(1)} ms, before the deadline`);
    assert.ok(r!.elapsed < late + timeout, `verdict after ${r!.elapsed.toFixed(1)} ms: the last phase had a fresh budget`);
  }
});

test('expect_body against an endless body stops reading at 64 KB: a verdict long before the deadline, the connection closed', async () => {
  let written = 0;
  let closed = 0;
  const chunk = Buffer.alloc(16 * 1024, 'y');
  const port = await serveHttp((_request, response) => {
    response.writeHead(200);
    const pump = () => {
      while (!response.destroyed && response.write(chunk)) written += chunk.length;
    };
    response.on('drain', pump).on('close', () => closed++);
    pump();
  });
  const long = { ...httpSpec('endless', '127.0.0.1', port, { expectBody: 'needle' }), timeout: 5000 } as CheckSpec;
  const [missing] = await runTimed(long);
  assert.equal(missing!.code, 'http-body', missing!.detail);
  assert.ok(missing!.elapsed < 1000, `verdict after ${missing!.elapsed.toFixed(0)} ms; before the fix the check read until its 5000 ms timeout`);
  const [found] = await runTimed({ ...long, expectBody: 'yyyy' } as CheckSpec);
  assert.equal(found!.code, 'ok', found!.detail);
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(closed, 2, 'the server saw both responses end');
  const after = written;
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(written, after, 'nothing is written once the check stopped reading');
});

test('after a run cut at its deadline on a kept-alive connection, the next run connects anew and is ok', async () => {
  let requests = 0;
  const port = await serveHttp((_request, response) => {
    // The second request hangs: the kept-alive connection it arrived on must be dropped.
    if (++requests !== 2) response.end('ok');
  });
  const results = await runTimed(httpSpec('kept', '127.0.0.1', port, { fresh: false }), 3);
  assert.deepEqual(results.map((r) => r.code), ['ok', 'response-timeout', 'ok']);
  assertCut(results[1]!, 'response-timeout', 'second run');
});
