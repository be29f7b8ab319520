import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { freePort } from '../support/net.ts';

const cli = ['src/cli/main.ts'];
const exit1 = fileURLToPath(new URL('../fixtures/bin/exit1', import.meta.url));

let dir = '';
let file = '';
let listener: Server | undefined;


before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pfsteer-probe-'));
  listener = createHttpServer((request, response) => {
    response.statusCode = request.url === '/haproxy_check' ? 200 : 404;
    response.end('ok\n');
  });
  await new Promise<void>((resolve) => listener!.listen(0, '127.0.0.1', resolve));
  const up = (listener.address() as AddressInfo).port;
  // Nothing listens here once the probe runs: connections are refused.
  const refused = await freePort();
  file = join(dir, 'pfsteer.yaml');
  await writeFile(
    file,
    `driver: memory
buckets: {count: 16}
control: {socket: ${join(dir, 'control.sock')}}
daemon: {state_file: ${join(dir, 'state.json')}}
services:
  std: {interface: em0, external: [203.0.113.10], ports: [443]}
hosts:
  lb1:
    addresses: {std: 10.0.1.11}
    checks:
      - {type: tcp, name: port, address: 127.0.0.1, port: ${up}}
      - {type: http, name: haproxy, address: 127.0.0.1, port: ${up}, path: /haproxy_check}
  lb2:
    addresses: {std: 10.0.1.12}
    checks:
      - {type: tcp, name: port, address: 127.0.0.1, port: ${refused}}
      - {type: exec, name: script, command: [${exit1}]}
`,
  );
});

after(async () => {
  if (listener) await new Promise((resolve) => listener!.close(resolve));
  if (dir) await rm(dir, { recursive: true, force: true });
});

function probe(...args: string[]) {
  return execa(process.execPath, [...cli, 'probe', ...args], { reject: false });
}

test('probe of every host prints each result and the verdicts, and exits 1 when one is down', async () => {
  const result = await probe('-c', file);
  assert.equal(result.exitCode, 1, result.stderr);
  assert.match(result.stdout, /^lb1 up$/m);
  assert.match(result.stdout, /^ {2}port +ok +\d+ ms {2}connected$/m);
  assert.match(result.stdout, /^ {2}haproxy +ok +\d+ ms {2}status 200$/m);
  assert.match(result.stdout, /^lb2 down$/m);
  assert.match(result.stdout, /^ {2}port +refused +\d+ ms {2}.*ECONNREFUSED/m);
  assert.match(result.stdout, /^ {2}script +exit-code +\d+ ms {2}exit 1: backend pool empty: 0 of 2 servers up$/m);
});

test('probe of an up host exits 0', async () => {
  const result = await probe('-c', file, 'lb1');
  assert.equal(result.exitCode, 0, result.stderr);
  assert.match(result.stdout, /^lb1 up$/m);
  assert.doesNotMatch(result.stdout, /lb2/);
});

test('probe --json prints one object with every check result', async () => {
  const result = await probe('-c', file, 'lb2', 'lb1', '--json');
  assert.equal(result.exitCode, 1, result.stderr);
  const parsed = JSON.parse(result.stdout) as {
    up: boolean;
    hosts: Array<{ name: string; state: string; checks: Array<{ name: string; type: string; ok: boolean; code: string; detail: string; ms: number }> }>;
  };
  assert.equal(parsed.up, false);
  assert.deepEqual(
    parsed.hosts.map((h) => [h.name, h.state, h.checks.map((c) => [c.name, c.type, c.ok, c.code])]),
    [
      ['lb2', 'down', [['port', 'tcp', false, 'refused'], ['script', 'exec', false, 'exit-code']]],
      ['lb1', 'up', [['port', 'tcp', true, 'ok'], ['haproxy', 'http', true, 'ok']]],
    ],
  );
  for (const check of parsed.hosts.flatMap((h) => h.checks)) assert.ok(Number.isInteger(check.ms) && check.ms >= 0);
});

test('probe of a host the config lacks exits 2 and names the nearest one', async () => {
  const result = await probe('-c', file, 'lb3');
  assert.equal(result.exitCode, 2);
  assert.equal(result.stdout, '');
  assert.equal(result.stderr, `pfsteer: no host "lb3" in ${file}; did you mean "lb1"?`);
});

test('probe with an invalid config exits 2 with the located problem', async () => {
  const bad = join(dir, 'bad.yaml');
  await writeFile(bad, 'buckets: {count: 100}\n');
  const result = await probe('-c', bad);
  assert.equal(result.exitCode, 2);
  assert.match(result.stderr, /bad\.yaml:1:18: not-power-of-two/);
});

test('probe --help explains the exit codes', async () => {
  const result = await probe('--help');
  assert.equal(result.exitCode, 0);
  assert.match(result.stdout, /Exit codes:\n {2}0 {2}every probed host is up\n {2}1 {2}at least one probed host is down\n {2}2 {2}/);
});
