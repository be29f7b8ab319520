import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import type { HttpCheck } from '../../src/config/model.ts';
import { checkSession } from '../../src/health/run-check.ts';
import { parseAddress } from '../../src/net/address.ts';

function check(port: number, fresh: boolean): HttpCheck {
  return {
    type: 'http',
    name: 'web',
    address: parseAddress('127.0.0.1')!,
    port,
    path: '/haproxy_check',
    method: 'GET',
    expectStatus: [200],
    tlsVerify: true,
    fresh,
    interval: 1000,
    timeout: 1000,
    rise: 2,
    fall: 3,
    fastinter: 1000,
    downinter: 1000,
    jitter: 0,
  };
}

for (const fresh of [true, false]) {
  test(`fresh: ${fresh} — ${fresh ? 'every run opens its own connection' : 'runs share one kept-alive connection'}`, async () => {
    let connections = 0;
    const server = createServer((_req, res) => res.end('ok'));
    server.on('connection', () => connections++);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const session = checkSession(check((server.address() as AddressInfo).port, fresh));
    try {
      for (let i = 0; i < 4; i++) {
        const result = await session.run(new AbortController().signal).result;
        assert.equal(result.code, 'ok', result.detail);
      }
      assert.equal(connections, fresh ? 4 : 1);
    } finally {
      await session.close();
      server.closeAllConnections();
      server.close();
    }
  });
}

test('https with a CA file, an SNI name and a client certificate: verified both ways, a full handshake every fresh run, a resumed one after reconnecting without fresh', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pfsteer-tls-'));
  const file = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => promisify(execFile)('openssl', args);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2'];
  await openssl('req', '-x509', ...ec, '-subj', '/CN=lb1-service', '-addext', 'subjectAltName=DNS:lb1-service', '-keyout', file('server.key'), '-out', file('server.pem'));
  await openssl('req', '-x509', ...ec, '-subj', '/CN=pfsteer', '-keyout', file('client.key'), '-out', file('client.pem'));
  const seen: Array<{ servername: unknown; client: unknown; reused: boolean }> = [];
  const server = createHttpsServer(
    { key: await readFile(file('server.key')), cert: await readFile(file('server.pem')), ca: await readFile(file('client.pem')), requestCert: true, rejectUnauthorized: true },
    (request, response) => {
      const socket = request.socket as TLSSocket;
      seen.push({ servername: socket.servername, client: socket.getPeerCertificate().subject?.CN, reused: socket.isSessionReused() });
      response.end('ok');
    },
  );
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const tls = { type: 'https', host: 'lb1-service', ca: file('server.pem'), clientCert: { cert: file('client.pem'), key: file('client.key') } } as const;
  const session = checkSession({ ...check(port, true), ...tls });
  const kept = checkSession({ ...check(port, false), ...tls });
  try {
    for (let i = 0; i < 3; i++) {
      const result = await session.run(new AbortController().signal).result;
      assert.equal(result.code, 'ok', result.detail);
    }
    assert.deepEqual(seen, Array(3).fill({ servername: 'lb1-service', client: 'pfsteer', reused: false }));

    // Without `fresh`, a connection the server closed when idle comes back resuming the TLS session.
    server.keepAliveTimeout = 100;
    seen.length = 0;
    for (let i = 0; i < 3; i++) {
      const result = await kept.run(new AbortController().signal).result;
      assert.equal(result.code, 'ok', result.detail);
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    assert.deepEqual(seen.map((s) => s.reused), [false, true, true]);
  } finally {
    await session.close();
    await kept.close();
    server.closeAllConnections();
    server.close();
    await rm(dir, { recursive: true, force: true });
  }
});
