/**
 * The real pf driver, through execa, against the pf emulator: loads, reads back, routing of
 * thousands of clients, inconsistencies, failures, states and limits.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { execa } from 'execa';
import fc from 'fast-check';
import { bucketOf, buildPartition } from '../../src/buckets/partition.ts';
import { loadConfig } from '../../src/config/load.ts';
import type { Config } from '../../src/config/model.ts';
import { buildMapper } from '../../src/daemon/daemon.ts';
import { assignmentFor, assignmentsFor } from '../../src/drivers/assignments.ts';
import { answerClient, buildReport, expectedAssignments, type HealthView } from '../../src/inspect/report.ts';
import type { IpAddress } from '../../src/net/address.ts';
import { formatAddress, parseAddress } from '../../src/net/address.ts';
import { PfDriver } from '../../src/pf/driver.ts';
import { PfctlError } from '../../src/pf/pfctl.ts';
import { PfParseError } from '../../src/pf/rules.ts';
import { PfEmulator } from '../pf-emulator/emulator.ts';

const B = 32;
const dir = mkdtempSync(join(tmpdir(), 'pfsteer-pfdrv-'));
const MAIN = 'table <ext4> { 192.0.2.10 }\nrdr-anchor "pfsteer/*"\n';
const EXT6 = '2001:db8:ff::10';
const allUp: HealthView = { source: 'assumed', states: new Map([['lb1', 'up'], ['lb2', 'up'], ['lb3', 'up']]), drained: new Set() };

function yaml(pfctl: string, extra = ''): string {
  return `buckets: {count: ${B}, seed: 7, inet_prefix: 10, inet6_prefix: 10}
driver: pf
pf: {pfctl: ${pfctl}, concurrency: 4${extra.includes('timeout') ? '' : ', timeout: 15s'}${extra}}
control: {socket: ${join(dir, 'none.sock')}}
services:
  web:
    interface: em0
    external: <ext4>
    ports: [80, 443]
  web6:
    interface: em0
    family: inet6
    external: [${EXT6}]
    ports: [443]
hosts:
  lb1: {addresses: {web: 10.0.1.11, web6: "2001:db8:1::11"}}
  lb2: {addresses: {web: "10.0.1.12:8080", web6: "[2001:db8:1::12]:8443"}}
  lb3: {addresses: {web: 10.0.1.13, web6: "2001:db8:1::13"}, weight: 2}
`;
}

const emulators: PfEmulator[] = [];
function fresh(os: 'freebsd' | 'openbsd' = 'freebsd'): PfEmulator {
  const e = new PfEmulator(os);
  e.loadMain(os === 'freebsd' ? MAIN : MAIN.replace('rdr-anchor', 'anchor'));
  emulators.push(e);
  process.env.PFSTEER_PF_EMULATOR = e.dir;
  return e;
}

async function configFor(e: PfEmulator, extra = '', dialect: 'freebsd' | 'openbsd' = 'freebsd'): Promise<Config> {
  const file = join(dir, `c${emulators.length}-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, yaml(e.pfctl, `${extra}, dialect: ${dialect}`));
  return loadConfig(file);
}

let emu: PfEmulator;
let config: Config;
let driver: PfDriver;

before(async () => {
  emu = fresh();
  config = await configFor(emu);
  driver = new PfDriver(config);
  const results = await driver.apply(assignmentsFor(config, buildMapper(config).owners(new Set(['lb1', 'lb2', 'lb3']))));
  assert.deepEqual(results.filter((r) => !r.ok), []);
});

after(() => {
  for (const e of emulators) e.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

test('every bucket is one pfctl -a pfsteer/bNNNN -f - call, and reads back clean', async () => {
  const loads = emu.loads();
  assert.equal(loads.length, B);
  assert.deepEqual(loads.map((c) => c.argv.join(' ')).sort(), Array.from({ length: B }, (_, b) => `-a pfsteer/b${String(b).padStart(4, '0')} -f -`).sort());
  const { buckets, extra } = await driver.readAnchors();
  assert.deepEqual(extra, []);
  const owners = buildMapper(config).owners(new Set(['lb1', 'lb2', 'lb3']));
  for (const b of buckets) {
    assert.deepEqual(b.problems, [], `bucket ${b.bucket}`);
    assert.equal(b.assignment?.host, owners[b.bucket]);
  }
});

const arbV4 = fc.uint8Array({ minLength: 4, maxLength: 4 }).map((bytes): IpAddress => ({ family: 4, bytes }));
// Mostly global unicast (2000::/3), some outside it, which all fall to one documented bucket.
const arbV6 = fc.tuple(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.integer({ min: 0, max: 9 })).map(([bytes, k]): IpAddress => {
  const b = bytes.slice();
  if (k > 0) b[0] = 0x20 | (b[0]! & 0x1f);
  return { family: 6, bytes: b };
});

test('10,000 random clients: the emulator routes each where bucketOf + the mapping say, and inspect --client agrees', async () => {
  const partition = buildPartition(config.buckets);
  const owners = buildMapper(config).owners(new Set(['lb1', 'lb2', 'lb3']));
  const clients = [...fc.sample(arbV4, { numRuns: 5000, seed: 1 }), ...fc.sample(arbV6, { numRuns: 5000, seed: 2 })];
  const packets = clients.map((source) => ({ source, destination: parseAddress(source.family === 4 ? '192.0.2.10' : EXT6)!, port: 443, interface: 'em0' }));
  const answers = emu.routeMany(packets);
  const { buckets, extra } = await driver.readAnchors();
  const report = buildReport(config, buckets, extra, expectedAssignments(config, buildMapper(config), allUp), allUp);
  let v6 = 0;
  clients.forEach((source, i) => {
    const bucket = bucketOf(partition, source);
    const host = config.hosts.find((h) => h.name === owners[bucket])!;
    const target = host.targets[source.family === 4 ? 'web' : 'web6']!;
    const answer = answers[i]!;
    assert.equal(answer.anchor, `pfsteer/b${String(bucket).padStart(4, '0')}`, formatAddress(source));
    assert.equal(answer.address, formatAddress(target.address));
    assert.equal(answer.port, target.port ?? 443);
    const told = answerClient(config, report, bucket, source);
    assert.equal(told.where, answer.anchor);
    assert.equal(told.services[0]!.address, answer.address);
    if (source.family === 6) v6++;
  });
  assert.equal(v6, 5000);
});

test('pfsteer inspect --client (the command, through the real driver) names the bucket, anchor and target', async () => {
  const file = join(dir, 'inspect.yaml');
  writeFileSync(file, yaml(emu.pfctl));
  const client = '198.51.100.7';
  const bucket = bucketOf(buildPartition(config.buckets), parseAddress(client)!);
  const owner = buildMapper(config).owners(new Set(['lb1', 'lb2', 'lb3']))[bucket]!;
  const r = await execa('node', ['src/cli/main.ts', 'inspect', '-c', file, '--client', client, '--json'], { reject: false, env: emu.env() });
  assert.equal(r.exitCode, 0, r.stderr);
  const answer = JSON.parse(r.stdout) as { client: { bucket: number; where: string; services: Array<{ service: string; host: string; address: string }> } };
  const routed = emu.route({ source: parseAddress(client)!, destination: parseAddress('192.0.2.10')!, port: 80, interface: 'em0' });
  assert.equal(answer.client.bucket, bucket);
  assert.equal(answer.client.where, routed.anchor);
  assert.deepEqual(answer.client.services.map((s) => [s.service, s.host, s.address]), [['web', owner, routed.address]]);
});

test('pfsteer plan --diff lists exactly the anchors a host going down changes, against what pf holds', async () => {
  const file = join(dir, 'plan.yaml');
  writeFileSync(file, yaml(emu.pfctl));
  const r = await execa('node', ['src/cli/main.ts', 'plan', '-c', file, '--down', 'lb2', '--diff', '--json'], { reject: false, env: emu.env() });
  assert.equal(r.exitCode, 0, r.stderr);
  const { diff } = JSON.parse(r.stdout) as { diff: Array<{ bucket: number; from: string; to: string }> };
  const before = buildMapper(config).owners(new Set(['lb1', 'lb2', 'lb3']));
  const after = buildMapper(config).owners(new Set(['lb1', 'lb3']));
  assert.deepEqual(diff.map((d) => d.bucket), before.flatMap((o, b) => (o === 'lb2' ? [b] : [])));
  for (const d of diff) assert.deepEqual([d.from, d.to], ['lb2', after[d.bucket]]);
});

test('inspect names every inconsistency: missing, extra and wrong anchors, edited tables', async () => {
  const e = fresh();
  const c = await configFor(e);
  const d = new PfDriver(c);
  const expected = expectedAssignments(c, buildMapper(c), allUp);
  await d.apply(expected.map((a) => a!));
  e.removeAnchor('pfsteer/b0001');
  const wrong = expected[2]!.host === 'lb1' ? 'lb2' : 'lb1';
  await d.apply([assignmentFor(c, 2, wrong)]);
  const pfctl = (args: string[], input: string) => execa(e.pfctl, args, { input, env: e.env() });
  await pfctl(['-a', 'pfsteer/junk', '-f', '-'], 'table <x> { 10.0.0.0/8 }\n');
  const text3 = d.render(expected[3]!).replace(/table <b0003v4> const \{ [^ ]+ /, 'table <b0003v4> const { ');
  await pfctl(['-a', 'pfsteer/b0003', '-f', '-'], text3);
  const { buckets, extra } = await d.readAnchors();
  const report = buildReport(c, buckets, extra, expected, allUp);
  assert.deepEqual(report.inconsistencies, [
    'extra anchor pfsteer/junk: no bucket of this layout',
    'bucket 1: anchor pfsteer/b0001 is missing',
    `bucket 2: held by ${wrong}, but config and health imply ${expected[2]!.host}`,
    'bucket 3: table <b0003v4> differs from the partition',
  ]);
  const file = join(dir, 'broken.yaml');
  writeFileSync(file, yaml(e.pfctl));
  const r = await execa('node', ['src/cli/main.ts', 'inspect', '-c', file], { reject: false, env: e.env() });
  assert.equal(r.exitCode, 1);
  assert.match(r.stdout, /4 inconsistencies:/);
  assert.match(r.stdout, /bucket 2: held by/);
});

test('a failed load reports command, exit code and stderr, and leaves that bucket as it was', async () => {
  const e = fresh();
  const c = await configFor(e);
  const d = new PfDriver(c);
  await d.apply([assignmentFor(c, 0, 'lb1'), assignmentFor(c, 1, 'lb1')]);
  const before = e.memory().anchors['pfsteer/b0001']!.source;
  e.faults({ fail: 1, match: 'pfsteer/b0001 -f' });
  const results = await d.apply([assignmentFor(c, 0, 'lb2'), assignmentFor(c, 1, 'lb2')]);
  assert.equal(results[0]!.ok, true);
  assert.equal(results[1]!.ok, false);
  const error = results[1]!.error as PfctlError;
  assert.ok(error instanceof PfctlError);
  assert.deepEqual(error.command.slice(-4), ['-a', 'pfsteer/b0001', '-f', '-']);
  assert.equal(error.exitCode, 1);
  assert.match(error.stderr, /Device busy/);
  assert.equal(e.memory().anchors['pfsteer/b0001']!.source, before);
});

test('a hung pfctl is cut off at the configured timeout; garbage output is a parse error naming the line', async () => {
  const e = fresh();
  const c = await configFor(e, ', timeout: 800ms');
  const d = new PfDriver(c);
  await d.apply([assignmentFor(c, 0, 'lb1')]);
  e.faults({ hang: 1, match: '-s Anchors' });
  const started = Date.now();
  await assert.rejects(d.observe(), (err: unknown) => err instanceof PfctlError && /did not finish within 800 ms/.test(err.message));
  assert.ok(Date.now() - started < 5000);
  e.faults({ garbage: 1, match: 'pfsteer/b0000 -vv' });
  await assert.rejects(d.observe(), (err: unknown) => err instanceof PfParseError && /pfctl -a pfsteer\/b0000 -vv -P -s nat, line 1/.test(err.message));
});

test('permission denied hints at pf.command_prefix; the prefix is used when set', async () => {
  const e = fresh();
  const c = await configFor(e);
  process.env.PFSTEER_PF_EMULATOR_DENY = '1';
  try {
    await assert.rejects(new PfDriver(c).observe(), /Permission denied.*set pf\.command_prefix, e\.g\. \[doas\]/);
  } finally {
    delete process.env.PFSTEER_PF_EMULATOR_DENY;
  }
  const prefixed = await configFor(e, ', command_prefix: [env, PFSTEER_PF_EMULATOR_DENY=0]');
  assert.equal((await new PfDriver(prefixed).observe()).length, B);
});

test('states to a host are counted, and killed with -k nat (freebsd) or by id (openbsd)', async () => {
  for (const os of ['freebsd', 'openbsd'] as const) {
    const e = fresh(os);
    const c = await configFor(e, '', os);
    const d = new PfDriver(c);
    await d.apply(assignmentsFor(c, new Array(B).fill('lb2')));
    for (let i = 1; i <= 4; i++) e.route({ source: parseAddress(`198.51.${i}.9`)!, destination: parseAddress('192.0.2.10')!, port: 443, interface: 'em0' }, { establish: true });
    const lb2 = parseAddress('10.0.1.12')!;
    assert.equal(await d.countStates([lb2]), 4, os);
    assert.equal(await d.countStates([parseAddress('10.0.1.11')!]), 0, os);
    assert.equal(await d.killStates(lb2), 4, os);
    assert.equal(e.statesTo(lb2), 0, os);
  }
});

test('openbsd dialect: pass in quick ... rdr-to rules load under anchor "pfsteer/*" and read back clean', async () => {
  const e = fresh('openbsd');
  const c = await configFor(e, '', 'openbsd');
  const d = new PfDriver(c);
  const want = expectedAssignments(c, buildMapper(c), allUp).map((a) => a!);
  assert.deepEqual((await d.apply(want)).filter((r) => !r.ok), []);
  const observed = await d.observe();
  assert.deepEqual(observed.flatMap((o) => o.problems), []);
  const answer = e.route({ source: parseAddress('198.51.100.7')!, destination: parseAddress('192.0.2.10')!, port: 80, interface: 'em0' });
  const bucket = bucketOf(buildPartition(c.buckets), parseAddress('198.51.100.7')!);
  assert.equal(answer.address, formatAddress(c.hosts.find((h) => h.name === want[bucket]!.host)!.targets.web!.address));
});

test("prepare refuses a layout beyond pf's table-entries limit, naming the set limit to raise", async () => {
  const e = new PfEmulator();
  emulators.push(e);
  e.loadMain(`set limit table-entries 100\n${MAIN}`);
  process.env.PFSTEER_PF_EMULATOR = e.dir;
  const c = await configFor(e);
  await assert.rejects(new PfDriver(c).prepare(), /set limit table-entries/);
  process.env.PFSTEER_PF_EMULATOR = emu.dir;
});
