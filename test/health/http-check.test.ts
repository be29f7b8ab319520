import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
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
