/**
 * `pfsteer status --compare` as a process against a running daemon (memory driver, real HTTP
 * checks): equal, a peer that sees a host down, and files that are no status at all.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { pino } from 'pino';
import { Daemon } from '../../src/daemon/daemon.ts';
import { realParts } from '../../src/daemon/parts.ts';
import { DEFAULT_ALGORITHM } from '../../src/mapping/algorithms.ts';
import { mappingDigest } from '../../src/mapping/digest.ts';
import { startBackends, type Backend } from '../support/net.ts';
import { until } from '../support/until.ts';

const cli = ['src/cli/main.ts'];
let dir = '';
let socket = '';
let daemon: Daemon | undefined;
const backends: Backend[] = [];

interface Status {
  hosts: Array<{ name: string; weight: number; state: string }>;
  mapping: { digest: string; buckets: number; seed: number; partition: { kind: 'prefix'; inetPrefix: number; inet6Prefix: number }; owners: Array<string | null> };
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pfsteer-compare-'));
  socket = join(dir, 'control.sock');
  backends.push(...(await startBackends(3)));
  const hosts = backends.map((b, i) => `  lb${i + 1}:\n    addresses: {std: 10.0.1.${11 + i}}\n    checks: [{type: http, address: 127.0.0.1, port: ${b.port}, path: /}]\n`).join('');
  await writeFile(
    join(dir, 'pfsteer.yaml'),
    `defaults: {interval: 200ms, timeout: 150ms, rise: 1, fall: 5, jitter: 0ms}
buckets: {count: 32}
driver: memory
control: {socket: ${socket}, mode: "0600"}
daemon: {state_file: ${join(dir, 'state.json')}}
services:
  std: {interface: em0, external: [203.0.113.10], ports: [443]}
hosts:
${hosts}`,
  );
  daemon = await Daemon.start(join(dir, 'pfsteer.yaml'), { ...realParts, createDriver: realParts.createDriver }, pino({ level: 'silent' }));
  await until(() => (daemon!.status() as Status).hosts.every((h) => h.state === 'up') && new Set((daemon!.status() as Status).mapping.owners).size === 3, 5000, 'every host up');
});

after(async () => {
  await daemon?.close();
  for (const b of backends) b.server.close();
  await rm(dir, { recursive: true, force: true });
});

const status = (...args: string[]) => execa('node', [...cli, 'status', '--socket', socket, ...args], { reject: false });

test('a peer with the same view compares equal (exit 0), also through standard input', async () => {
  const own = await status('--json');
  assert.equal(own.exitCode, 0, own.stderr);
  await writeFile(join(dir, 'same.json'), own.stdout);
  const r = await status('--compare', join(dir, 'same.json'));
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, /the pair steers alike/);
  const piped = await execa('node', [...cli, 'status', '--socket', socket, '--compare', '-'], { input: own.stdout, reject: false });
  assert.equal(piped.exitCode, 0, piped.stderr);
});

test('a peer that sees lb2 down: exit 1, every bucket of lb2 named with the reason', async () => {
  const own = JSON.parse((await status('--json')).stdout) as Status;
  const owners = DEFAULT_ALGORITHM.build({ hosts: own.hosts.map((h) => ({ name: h.name, weight: h.weight })), buckets: 32, seed: own.mapping.seed }).owners(new Set(['lb1', 'lb3']));
  const digest = mappingDigest({ buckets: 32, seed: own.mapping.seed, partition: own.mapping.partition, owners });
  const peer = { ...own, hosts: own.hosts.map((h) => (h.name === 'lb2' ? { ...h, state: 'down' } : h)), mapping: { ...own.mapping, owners, digest } };
  await writeFile(join(dir, 'peer.json'), JSON.stringify(peer));
  const lb2Buckets = own.mapping.owners.flatMap((o, b) => (o === 'lb2' ? [b] : []));

  const r = await status('--compare', join(dir, 'peer.json'));
  assert.equal(r.exitCode, 1, r.stderr);
  assert.match(r.stdout, /lb2 is up here, down on the peer/);
  assert.match(r.stdout, new RegExp(`${lb2Buckets.length} bucket\\(s\\) differ`));
  const json = await status('--compare', join(dir, 'peer.json'), '--json');
  assert.equal(json.exitCode, 1);
  const comparison = JSON.parse(json.stdout) as { buckets: Array<{ bucket: number; here: string; reasons: Array<{ kind: string; host: string }> }> };
  assert.deepEqual(comparison.buckets.map((d) => d.bucket), lb2Buckets);
  assert.ok(comparison.buckets.every((d) => d.here === 'lb2' && d.reasons.length === 1 && d.reasons[0]!.kind === 'health' && d.reasons[0]!.host === 'lb2'));
});

test('a file that is not a pfsteer status: exit 2 and a clear error', async () => {
  await writeFile(join(dir, 'plan.json'), '{"anchors": {}}\n');
  await writeFile(join(dir, 'junk.txt'), 'lb1 up\n');
  for (const [file, why] of [['plan.json', /has no `mapping`/], ['junk.txt', /not JSON/], ['missing.json', /cannot read/]] as const) {
    const r = await status('--compare', join(dir, file));
    assert.equal(r.exitCode, 2, `${file}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, why);
  }
});
