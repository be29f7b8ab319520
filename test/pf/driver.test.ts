/**
 * The real pf driver, through execa, against the pf emulator: the whole-anchor load, table moves
 * per health change, reading back, routing of thousands of clients, inconsistencies, failures and
 * how retries converge, the old layout's removal, the hook, flush, states and limits.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { execa } from 'execa';
import fc from 'fast-check';
import pino from 'pino';
import { bucketOf, bucketTables, buildPartition } from '../../src/buckets/partition.ts';
import { loadConfig } from '../../src/config/load.ts';
import type { Config } from '../../src/config/model.ts';
import { buildMapper } from '../../src/daemon/daemon.ts';
import { assignmentFor, assignmentsFor } from '../../src/drivers/assignments.ts';
import type { BucketAssignment } from '../../src/drivers/driver.ts';
import { answerClient, buildReport, expectedAssignments, type HealthView } from '../../src/inspect/report.ts';
import { readPf } from '../../src/cli/inspect.ts';
import type { IpAddress } from '../../src/net/address.ts';
import { formatAddress, formatCidr, parseAddress } from '../../src/net/address.ts';
import { PfDriver } from '../../src/pf/driver.ts';
import { PfctlError } from '../../src/pf/pfctl.ts';
import { PfParseError } from '../../src/pf/rules.ts';
import { PfEmulator } from '../pf-emulator/emulator.ts';

const B = 32;
const dir = mkdtempSync(join(tmpdir(), 'pfsteer-pfdrv-'));
const MAIN = 'table <ext4> { 192.0.2.10 }\nrdr-anchor "pfsteer"\n';
const EXT6 = '2001:db8:ff::10';
const HOSTS = ['lb1', 'lb2', 'lb3'];
const allUp: HealthView = { source: 'assumed', states: new Map(HOSTS.map((h) => [h, 'up'])), drained: new Set() };

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
function fresh(os: 'freebsd' | 'openbsd' = 'freebsd', main = MAIN): PfEmulator {
  const e = new PfEmulator(os);
  e.loadMain(os === 'freebsd' ? main : main.replace('rdr-anchor', 'anchor'));
  emulators.push(e);
  process.env.PFSTEER_PF_EMULATOR = e.dir;
  return e;
}

async function configFor(e: PfEmulator, extra = '', dialect: 'freebsd' | 'openbsd' = 'freebsd'): Promise<Config> {
  const file = join(dir, `c${emulators.length}-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, yaml(e.pfctl, `${extra}, dialect: ${dialect}`));
  return loadConfig(file);
}

function desired(config: Config, up: readonly string[]): BucketAssignment[] {
  return assignmentsFor(config, buildMapper(config).owners(new Set(up)));
}

/** Apply a whole desired mapping the way the reconciler does: the changed buckets, with the context. */
async function applyMapping(d: PfDriver, want: BucketAssignment[], from: ReadonlyArray<string | null>) {
  const changes = want.filter((a) => a.host !== from[a.bucket]);
  return d.apply(changes, { desired: want });
}

let emu: PfEmulator;
let config: Config;
let driver: PfDriver;

before(async () => {
  emu = fresh();
  config = await configFor(emu);
  driver = new PfDriver(config);
  const results = await driver.apply(desired(config, HOSTS), { desired: desired(config, HOSTS) });
  assert.deepEqual(results.filter((r) => !r.ok), []);
});

after(() => {
  for (const e of emulators) e.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

/** A fresh emulator and a driver that has loaded the all-up mapping: where most tests start. */
async function loaded(extra = '') {
  const e = fresh();
  const c = await configFor(e, extra);
  const d = new PfDriver(c);
  const all = desired(c, HOSTS);
  await d.apply(all, { desired: all });
  return { e, c, d, all };
}

test('start is one pfctl -a pfsteer -f - of the whole anchor, and reads back clean', async () => {
  assert.deepEqual(emu.loads().map((c) => c.argv.join(' ')), ['-o none -a pfsteer -f -']);
  const reading = await driver.readAnchor();
  assert.deepEqual(reading.problems, []);
  assert.deepEqual(reading.children, []);
  const owners = buildMapper(config).owners(new Set(HOSTS));
  for (const b of reading.buckets) {
    assert.deepEqual(b.problems, [], `bucket ${b.bucket}`);
    assert.equal(b.assignment?.host, owners[b.bucket]);
  }
  assert.deepEqual((await driver.checkHook()).ok, true);
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
  const owners = buildMapper(config).owners(new Set(HOSTS));
  const clients = [...fc.sample(arbV4, { numRuns: 5000, seed: 1 }), ...fc.sample(arbV6, { numRuns: 5000, seed: 2 })];
  const packets = clients.map((source) => ({ source, destination: parseAddress(source.family === 4 ? '192.0.2.10' : EXT6)!, port: 443, interface: 'em0' }));
  const answers = emu.routeMany(packets);
  const report = buildReport(config, await readPf(driver, config), expectedAssignments(config, buildMapper(config), allUp), allUp);
  assert.deepEqual(report.inconsistencies, []);
  clients.forEach((source, i) => {
    const bucket = bucketOf(partition, source);
    const host = config.hosts.find((h) => h.name === owners[bucket])!;
    const target = host.targets[source.family === 4 ? 'web' : 'web6']!;
    const answer = answers[i]!;
    assert.equal(answer.anchor, 'pfsteer', formatAddress(source));
    assert.equal(answer.address, formatAddress(target.address));
    assert.equal(answer.port, target.port ?? 443);
    const told = answerClient(config, report, bucket, source);
    assert.equal(told.where, `<${host.name}-${source.family === 4 ? 'v4' : 'v6'}>`);
    assert.equal(told.services[0]!.address, answer.address);
  });
});

test('pfsteer inspect --client (the command, through the real driver) names the bucket, table and target', async () => {
  const file = join(dir, 'inspect.yaml');
  writeFileSync(file, yaml(emu.pfctl));
  const client = '198.51.100.7';
  const bucket = bucketOf(buildPartition(config.buckets), parseAddress(client)!);
  const owner = buildMapper(config).owners(new Set(HOSTS))[bucket]!;
  const r = await execa('node', ['src/cli/main.ts', 'inspect', '-c', file, '--client', client, '--json'], { reject: false, env: emu.env() });
  assert.equal(r.exitCode, 0, r.stderr);
  const answer = JSON.parse(r.stdout) as { client: { bucket: number; where: string; services: Array<{ service: string; host: string; address: string }> } };
  const routed = emu.route({ source: parseAddress(client)!, destination: parseAddress('192.0.2.10')!, port: 80, interface: 'em0' });
  assert.equal(answer.client.bucket, bucket);
  assert.equal(answer.client.where, `<${owner}-v4>`);
  assert.deepEqual(answer.client.services.map((s) => [s.service, s.host, s.address]), [['web', owner, routed.address]]);
});

test('pfsteer plan --diff lists exactly the buckets a host going down moves, against what pf holds', async () => {
  const file = join(dir, 'plan.yaml');
  writeFileSync(file, yaml(emu.pfctl));
  const r = await execa('node', ['src/cli/main.ts', 'plan', '-c', file, '--down', 'lb2', '--diff', '--json'], { reject: false, env: emu.env() });
  assert.equal(r.exitCode, 0, r.stderr);
  const { diff, anchors } = JSON.parse(r.stdout) as { anchors: Record<string, string>; diff: Array<{ bucket: number; from: string; to: string }> };
  assert.deepEqual(Object.keys(anchors), ['pfsteer']);
  const before = buildMapper(config).owners(new Set(HOSTS));
  const after = buildMapper(config).owners(new Set(['lb1', 'lb3']));
  assert.deepEqual(diff.map((d) => d.bucket), before.flatMap((o, b) => (o === 'lb2' ? [b] : [])));
  for (const d of diff) assert.deepEqual([d.from, d.to], ['lb2', after[d.bucket]]);
});

/** Prefixes of the buckets that differ between two mappings, for one family. */
function movedPrefixes(c: Config, from: ReadonlyArray<string | null>, to: ReadonlyArray<string | null>): number {
  const tables = bucketTables(buildPartition(c.buckets));
  return from.reduce((n, o, b) => n + (o === to[b] ? 0 : tables[b]!.inet.length + tables[b]!.inet6.length), 0);
}

test('a host down, then back: table commands only, adds before deletes, calls <= changed tables + 1, entries <= 2 x moved', async () => {
  const { e, c, d, all } = await loaded();
  const calls = e.calls().length;
  const down = desired(c, ['lb1', 'lb3']);
  const results = await applyMapping(d, down, all.map((a) => a.host));
  assert.ok(results.length > 0 && results.every((r) => r.ok));
  const sent = e.calls().slice(calls);
  // lb2 loses in both families; lb1 and lb3 gain in both: 6 tables change.
  assert.deepEqual(sent.map((x) => x.argv.slice(0, 6).join(' ')).sort(), [
    '-a pfsteer -t lb1-v4 -T add',
    '-a pfsteer -t lb1-v6 -T add',
    '-a pfsteer -t lb2-v4 -T flush',
    '-a pfsteer -t lb2-v6 -T flush',
    '-a pfsteer -t lb3-v4 -T add',
    '-a pfsteer -t lb3-v6 -T add',
  ]);
  const lastAdd = Math.max(...sent.map((x, i) => (x.argv.includes('add') ? i : -1)));
  const firstDelete = sent.findIndex((x) => x.argv.includes('flush') || x.argv.includes('delete'));
  assert.ok(lastAdd < firstDelete, 'every add before the first delete');
  const moved = movedPrefixes(c, all.map((a) => a.host), down.map((a) => a.host));
  assert.ok(d.lastApply!.entries <= 2 * moved, `${d.lastApply!.entries} entries for ${moved} moved prefixes`);
  assert.equal(d.lastApply!.calls, 6);
  const reading = await d.readAnchor();
  assert.deepEqual(reading.buckets.map((b) => b.assignment?.host), down.map((a) => a.host));
  // lb2 back: it gets exactly its buckets again, taken from the tables of lb1 and lb3.
  const before = e.calls().length;
  assert.ok((await applyMapping(d, all, down.map((a) => a.host))).every((r) => r.ok));
  const back = e.calls().slice(before).map((x) => x.argv.slice(0, 6).join(' ')).sort();
  assert.deepEqual(back, ['-a pfsteer -t lb1-v4 -T delete', '-a pfsteer -t lb1-v6 -T delete', '-a pfsteer -t lb2-v4 -T add', '-a pfsteer -t lb2-v6 -T add', '-a pfsteer -t lb3-v4 -T delete', '-a pfsteer -t lb3-v6 -T delete']);
  assert.deepEqual((await d.readAnchor()).buckets.map((b) => b.assignment?.host), all.map((a) => a.host));
});

test('a failed add leaves the bucket with its old owner and sends no delete; the retry sends what is missing', async () => {
  const { e, c, d, all } = await loaded();
  const down = desired(c, ['lb1', 'lb3']);
  e.faults({ fail: 1, match: 'lb3-v4 -T add' });
  const results = await applyMapping(d, down, all.map((a) => a.host));
  const failed = results.filter((r) => !r.ok).map((r) => r.bucket);
  const toLb3 = down.filter((a) => a.host === 'lb3' && all[a.bucket]!.host === 'lb2').map((a) => a.bucket);
  assert.deepEqual(failed, toLb3);
  const error = results.find((r) => !r.ok)!.error as PfctlError;
  assert.ok(error instanceof PfctlError);
  assert.deepEqual(error.command.slice(-8), ['-a', 'pfsteer', '-t', 'lb3-v4', '-T', 'add', '-f', '-']);
  assert.equal(error.exitCode, 1);
  assert.match(error.stderr, /Device busy/);
  // Those buckets are still in lb2's tables (their IPv6 prefixes, whose add worked, in lb3's too); the others moved.
  const reading = await d.readAnchor();
  for (const b of reading.buckets) {
    if (!failed.includes(b.bucket)) assert.equal(b.assignment?.host, down[b.bucket]!.host, `bucket ${b.bucket}`);
    else assert.ok(b.problems.every((p) => / is in the tables of lb2 and lb3$/.test(p)), `bucket ${b.bucket}: ${b.problems.join('; ')}`);
  }
  const prefix = bucketTables(buildPartition(c.buckets))[failed[0]!]!.inet[0]!;
  assert.equal(e.route({ source: prefix.address, destination: parseAddress('192.0.2.10')!, port: 80, interface: 'em0' }).address, '10.0.1.12');
  const before = e.calls().length;
  const retry = await d.apply(failed.map((b) => down[b]!), { desired: down });
  assert.ok(retry.every((r) => r.ok));
  assert.deepEqual(e.calls().slice(before).map((x) => x.argv.slice(0, 6).join(' ')).sort(), ['-a pfsteer -t lb2-v4 -T flush', '-a pfsteer -t lb2-v6 -T flush', '-a pfsteer -t lb3-v4 -T add']);
  assert.deepEqual((await d.readAnchor()).buckets.map((b) => b.assignment?.host), down.map((a) => a.host));
});

test('a failed delete leaves the bucket in both tables (routed to the old or the new owner); the retry only deletes', async () => {
  const { e, c, d, all } = await loaded();
  const down = desired(c, ['lb1', 'lb3']);
  e.faults({ fail: 1, match: 'lb2-v4 -T (flush|delete)' });
  const results = await applyMapping(d, down, all.map((a) => a.host));
  const moved = all.filter((a) => a.host === 'lb2').map((a) => a.bucket);
  assert.deepEqual(results.filter((r) => !r.ok).map((r) => r.bucket), moved);
  const partition = buildPartition(c.buckets);
  const tables = bucketTables(partition);
  for (const b of moved) {
    const prefix = tables[b]!.inet[0];
    if (!prefix) continue;
    const answer = e.route({ source: prefix.address, destination: parseAddress('192.0.2.10')!, port: 80, interface: 'em0' });
    const allowed = [all[b]!, down[b]!].map((a) => formatAddress(a.routes.find((r) => r.service === 'web')!.address));
    assert.ok(allowed.includes(answer.address), `bucket ${b} routed to ${answer.address}`);
  }
  const before = e.calls().length;
  assert.ok((await d.apply(moved.map((b) => down[b]!), { desired: down })).every((r) => r.ok));
  assert.deepEqual(e.calls().slice(before).map((x) => x.argv.slice(0, 6).join(' ')), ['-a pfsteer -t lb2-v4 -T flush']);
  const reading = await d.readAnchor();
  assert.deepEqual(reading.buckets.flatMap((b) => b.problems), []);
});

test('a table command with an unknown outcome (hung pfctl) makes the next apply one whole-anchor load', async () => {
  const { e, c, d, all } = await loaded(', timeout: 2500ms');
  const down = desired(c, ['lb1', 'lb3']);
  e.faults({ hang: 1, match: 'lb1-v4 -T add' });
  const results = await applyMapping(d, down, all.map((a) => a.host));
  assert.ok(results.some((r) => !r.ok));
  const before = e.calls().length;
  const failed = results.filter((r) => !r.ok).map((r) => down[r.bucket]!);
  assert.ok((await d.apply(failed, { desired: down })).every((r) => r.ok));
  assert.deepEqual(e.calls().slice(before).map((x) => x.argv.join(' ')), ['-o none -a pfsteer -f -']);
  assert.deepEqual((await d.readAnchor()).buckets.map((b) => b.assignment?.host), down.map((a) => a.host));
});

test('the old per-bucket anchors are removed after the new anchor loads, with a log line about the hook', async () => {
  const e = fresh();
  const c = await configFor(e);
  const pfctl = (args: string[], input = '') => execa(e.pfctl, args, { input, env: e.env() });
  for (const b of [0, 1, 2]) await pfctl(['-a', `pfsteer/b000${b}`, '-f', '-'], `table <b000${b}v4> const { 10.${b}.0.0/16 }\nrdr on em0 inet proto tcp from <b000${b}v4> to <ext4> port 80 -> 10.0.1.11\n`);
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (l: string) => void lines.push(l) });
  const d = new PfDriver(c, { logger });
  const observed = await d.observe();
  assert.ok(observed.every((o) => o.assignment === undefined || o.assignment.host === null));
  const all = desired(c, HOSTS);
  assert.ok((await d.apply(all, { desired: all })).every((r) => r.ok));
  assert.deepEqual((await d.readAnchor()).children, []);
  assert.ok(lines.some((l) => /the pf.conf hook changed/.test(l) && /rdr-anchor \\"pfsteer\\"/.test(l)), lines.join(''));
});

test('inspect names every inconsistency: prefix in no table or in two, unknown entry, extra rule, wrong target, missing hook, old anchor', async () => {
  const e = fresh('freebsd', 'table <ext4> { 192.0.2.10 }\n');
  const c = await configFor(e);
  const d = new PfDriver(c);
  const all = desired(c, HOSTS);
  await d.apply(all, { desired: all });
  const tables = bucketTables(buildPartition(c.buckets));
  const pfctl = (args: string[], input = '') => execa(e.pfctl, args, { input, env: e.env() });
  const b0 = tables[0]!.inet[0]!;
  const owner0 = all[0]!.host!;
  const other = HOSTS.find((h) => h !== owner0)!;
  await pfctl(['-a', 'pfsteer', '-t', `${owner0}-v4`, '-T', 'delete', formatCidr(b0)]);
  const b1 = tables[1]!.inet[0]!;
  const stranger = HOSTS.find((h) => h !== all[1]!.host)!;
  await pfctl(['-a', 'pfsteer', '-t', `${stranger}-v4`, '-T', 'add', formatCidr(b1)]);
  await pfctl(['-a', 'pfsteer', '-t', `${other}-v4`, '-T', 'add', '192.0.2.77']);
  await pfctl(['-a', 'pfsteer/b0007', '-f', '-'], 'table <b0007v4> const { 10.7.0.0/16 }\n');
  const report = buildReport(c, await readPf(d, c), expectedAssignments(c, buildMapper(c), allUp), allUp);
  const text = report.inconsistencies.join('\n');
  assert.match(text, /^hook: the main ruleset \(pfctl -s nat\) has no `rdr-anchor "pfsteer"`/m);
  assert.match(text, /old per-bucket anchor pfsteer\/b0007/);
  assert.match(text, new RegExp(`no bucket's prefix \\(192\\.0\\.2\\.77`));
  assert.match(text, /bucket 0: 1 of its \d+ prefixes are in no table/);
  assert.match(text, new RegExp(`bucket 1: prefix ${formatCidr(b1).replace(/\./g, '\\.')} is in the tables of`));
  // A rule loaded behind pfsteer's back: the whole anchor, one rule wrong.
  const text2 = d.render(all.map((a) => a.host)).replace(/-> 10\.0\.1\.13$/m, '-> 10.0.1.99');
  await pfctl(['-a', 'pfsteer', '-f', '-'], text2);
  const again = buildReport(c, await readPf(d, c), expectedAssignments(c, buildMapper(c), allUp), allUp).inconsistencies.join('\n');
  assert.match(again, /rule to the wrong address for lb3 \(line \d+: from <lb3-v4> to <ext4> -> 10\.0\.1\.99; expected web: .* -> 10\.0\.1\.13\)/);
  assert.match(again, /the rules of lb3 are missing or wrong/);
  const file = join(dir, 'broken.yaml');
  writeFileSync(file, yaml(e.pfctl));
  const r = await execa('node', ['src/cli/main.ts', 'inspect', '-c', file], { reject: false, env: e.env() });
  assert.equal(r.exitCode, 1);
  assert.match(r.stdout, /inconsistencies:/);
  assert.match(r.stdout, /hook: /);
});

test('drift of rules (anchor rules flushed behind pfsteer) shows when read; the repair is one whole-anchor load', async () => {
  const { e, d, all } = await loaded();
  await execa(e.pfctl, ['-a', 'pfsteer', '-F', 'rules'], { env: e.env(), reject: false });
  await execa(e.pfctl, ['-a', 'pfsteer', '-F', 'nat'], { env: e.env(), reject: false });
  const observed = await d.observe();
  assert.ok(observed.every((o) => o.problems.length > 0));
  const before = e.calls().length;
  assert.ok((await d.apply(all, { desired: all })).every((r) => r.ok));
  assert.deepEqual(e.calls().slice(before).map((x) => x.argv.join(' ')), ['-o none -a pfsteer -f -']);
  assert.deepEqual((await d.observe()).flatMap((o) => o.problems), []);
});

test('the hook: present, missing, or the old wildcard, each said plainly', async () => {
  const e = fresh();
  const c = await configFor(e);
  assert.equal((await new PfDriver(c).checkHook()).ok, true);
  e.loadMain('table <ext4> { 192.0.2.10 }\nrdr-anchor "pfsteer/*"\n');
  const old = await new PfDriver(c).checkHook();
  assert.equal(old.ok, false);
  assert.match(old.message, /old hook `rdr-anchor "pfsteer\/\*"`.*replace it with `rdr-anchor "pfsteer"`/);
  e.loadMain('table <ext4> { 192.0.2.10 }\n');
  assert.equal(
    (await new PfDriver(c).checkHook()).message,
    'the main ruleset (pfctl -s nat) has no `rdr-anchor "pfsteer"`, so nothing is steered: add `rdr-anchor "pfsteer"` in the translation section of pf.conf, before any other rdr rule for the same addresses, then reload pf (pfctl -f /etc/pf.conf)',
  );
});

test('flush removes the anchor, its tables and old bucket anchors; pfsteer flush asks unless --yes', async () => {
  const { e, c } = await loaded();
  const file = join(dir, 'flush.yaml');
  writeFileSync(file, yaml(e.pfctl));
  const refused = await execa('node', ['src/cli/main.ts', 'flush', '-c', file], { reject: false, env: e.env(), input: 'n\n' });
  assert.equal(refused.exitCode, 1);
  assert.ok(e.memory().anchors.pfsteer, 'still loaded after "n"');
  const r = await execa('node', ['src/cli/main.ts', 'flush', '-c', file, '--yes'], { reject: false, env: e.env() });
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, /anchor pfsteer: its rules and 6 table\(s\)/);
  const reading = await new PfDriver(c).readAnchor();
  assert.equal(reading.buckets.filter((b) => b.assignment?.host).length, 0);
});

test('a hung pfctl is cut off at the configured timeout; garbage output is a parse error naming the line', async () => {
  const e = fresh();
  const c = await configFor(e, ', timeout: 800ms');
  const d = new PfDriver(c);
  e.faults({ hang: 1, match: '-s Anchors' });
  const started = Date.now();
  await assert.rejects(d.observe(), (err: unknown) => err instanceof PfctlError && /did not finish within 800 ms/.test(err.message));
  assert.ok(Date.now() - started < 5000);
  e.faults({ garbage: 1, match: '-vv -P -s nat' });
  await assert.rejects(d.observe(), (err: unknown) => err instanceof PfParseError && /pfctl -a pfsteer -vv -P -s nat, line 1/.test(err.message));
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
    const all = assignmentsFor(c, new Array(B).fill('lb2'));
    await d.apply(all, { desired: all });
    for (let i = 1; i <= 4; i++) e.route({ source: parseAddress(`198.51.${i}.9`)!, destination: parseAddress('192.0.2.10')!, port: 443, interface: 'em0' }, { establish: true });
    const lb2 = parseAddress('10.0.1.12')!;
    assert.equal(await d.countStates([lb2]), 4, os);
    assert.equal(await d.countStates([parseAddress('10.0.1.11')!]), 0, os);
    assert.equal(await d.killStates(lb2), 4, os);
    assert.equal(e.statesTo(lb2), 0, os);
  }
});

test('openbsd dialect: pass in quick ... rdr-to rules load under anchor "pfsteer", move by table commands, read back clean', async () => {
  const e = fresh('openbsd');
  const c = await configFor(e, '', 'openbsd');
  const d = new PfDriver(c);
  const want = desired(c, HOSTS);
  assert.deepEqual((await d.apply(want, { desired: want })).filter((r) => !r.ok), []);
  assert.deepEqual((await d.observe()).flatMap((o) => o.problems), []);
  assert.equal((await d.checkHook()).ok, true);
  const down = desired(c, ['lb1', 'lb2']);
  assert.ok((await applyMapping(d, down, want.map((a) => a.host))).every((r) => r.ok));
  assert.equal(d.lastApply?.wholeAnchor, false);
  const client = parseAddress('198.51.100.7')!;
  const answer = e.route({ source: client, destination: parseAddress('192.0.2.10')!, port: 80, interface: 'em0' });
  const bucket = bucketOf(buildPartition(c.buckets), client);
  assert.equal(answer.address, formatAddress(c.hosts.find((h) => h.name === down[bucket]!.host)!.targets.web!.address));
});

test("openbsd: the anchor loads with pfctl's optimizer off (-o none), so seven literal external addresses stay seven rules and read back clean; optimized, they would read as drift", async () => {
  const e = fresh('openbsd');
  const file = join(dir, 'seven.yaml');
  const seven = Array.from({ length: 7 }, (_, i) => `192.0.2.${10 + i}`);
  writeFileSync(file, yaml(e.pfctl, ', dialect: openbsd').replace('external: <ext4>', `external: [${seven.join(', ')}]`));
  const c = await loadConfig(file);
  const d = new PfDriver(c);
  const want = desired(c, HOSTS);
  assert.deepEqual((await d.apply(want, { desired: want })).filter((r) => !r.ok), []);
  assert.deepEqual(e.loads().map((x) => x.argv.join(' ')), ['-o none -a pfsteer -f -']);
  assert.deepEqual((await d.readAnchor()).problems, []);
  const client = parseAddress('198.51.100.7')!;
  const owner = c.hosts.find((h) => h.name === want[bucketOf(buildPartition(c.buckets), client)]!.host)!;
  assert.equal(e.route({ source: client, destination: parseAddress('192.0.2.16')!, port: 443, interface: 'em0' }).address, formatAddress(owner.targets.web!.address));

  // The same text as plain pfctl loads it: the optimizer folds the addresses into a table of its own.
  const text = e.store.read().anchors.pfsteer!.source;
  const r = await execa(e.pfctl, ['-a', 'pfsteer', '-f', '-'], { input: text, reject: false, env: { PFSTEER_PF_EMULATOR: e.dir } });
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match((await d.readAnchor()).problems.join('\n'), /extra rule for lb1 \(line \d+: from <lb1-v4> to <__automatic_/);
});

test("prepare refuses a layout beyond pf's table-entries limit, naming the set limit to raise", async () => {
  const e = fresh('freebsd', `set limit table-entries 100\n${MAIN}`);
  const c = await configFor(e);
  await assert.rejects(new PfDriver(c).prepare(), /set limit table-entries/);
  // FreeBSD has no tables limit: prepare never asks for one there.
  const ok = fresh();
  await new PfDriver(await configFor(ok)).prepare();
  process.env.PFSTEER_PF_EMULATOR = emu.dir;
});

test('openbsd: prepare checks the tables limit (one table per host and family)', async () => {
  const e = fresh('openbsd', `set limit tables 4\n${MAIN}`);
  const c = await configFor(e, '', 'openbsd');
  await assert.rejects(new PfDriver(c).prepare(), (err: unknown) => err instanceof Error && /6 tables, pf allows 4: add "set limit tables 12"/.test(err.message));
  process.env.PFSTEER_PF_EMULATOR = emu.dir;
});

test('inspect knows the all_down policy: under keep, the mapping the daemon holds with every host down is no inconsistency', async () => {
  const e = fresh();
  const c = await configFor(e);
  const d = new PfDriver(c);
  // lb1 went down first, then the rest: the daemon keeps the mapping of lb2 and lb3.
  const held = desired(c, ['lb2', 'lb3']);
  await d.apply(held, { desired: held });
  const file = join(dir, 'keep.yaml');
  writeFileSync(file, yaml(e.pfctl));
  const r = await execa('node', ['src/cli/main.ts', 'inspect', '-c', file, '--down', 'lb1,lb2,lb3', '--json'], { reject: false, env: e.env() });
  assert.equal(r.exitCode, 0, r.stdout);
  const report = JSON.parse(r.stdout) as { inconsistencies: string[]; hosts: Array<{ name: string; buckets: number; expected: number }> };
  assert.deepEqual(report.inconsistencies, []);
  assert.equal(report.hosts.find((h) => h.name === 'lb1')!.buckets, 0);
  // Under fallthrough the same filter is wrong: every bucket should be in no table.
  const fall = join(dir, 'fallthrough.yaml');
  writeFileSync(fall, `${yaml(e.pfctl)}policy: {all_down: fallthrough}\n`);
  const f = await execa('node', ['src/cli/main.ts', 'inspect', '-c', fall, '--down', 'lb1,lb2,lb3', '--json'], { reject: false, env: e.env() });
  assert.equal(f.exitCode, 1);
  assert.ok((JSON.parse(f.stdout) as { inconsistencies: string[] }).inconsistencies.every((i) => /config and health imply nobody/.test(i)));
});

test('per host, inspect reports rule evaluations and states from pfctl counters', async () => {
  const { e, c, d, all } = await loaded();
  const partition = buildPartition(c.buckets);
  let lb2 = 0;
  for (let i = 1; i <= 40; i++) {
    const source = parseAddress(`198.${i}.0.9`)!;
    e.route({ source, destination: parseAddress('192.0.2.10')!, port: 443, interface: 'em0' }, { establish: true });
    if (all[bucketOf(partition, source)]!.host === 'lb2') lb2++;
  }
  const report = buildReport(c, await readPf(d, c), expectedAssignments(c, buildMapper(c), allUp), allUp);
  const hosts = new Map(report.hosts.map((h) => [h.name, h]));
  assert.equal(hosts.get('lb2')!.states, lb2);
  assert.equal([...hosts.values()].reduce((n, h) => n + h.states, 0), 40);
  assert.ok(hosts.get('lb1')!.evaluations > 0);
});

test('close cancels a read in flight (a stopping daemon does not wait on a hung pfctl listing)', async () => {
  const e = fresh();
  const c = await configFor(e, ', timeout: 30s');
  const d = new PfDriver(c);
  e.faults({ hang: 1, match: '-s Anchors' });
  const reading = d.observe();
  await new Promise((resolve) => setTimeout(resolve, 300));
  const started = Date.now();
  await d.close();
  await assert.rejects(reading, (err: unknown) => err instanceof PfctlError && /was cancelled/.test(err.message));
  assert.ok(Date.now() - started < 5000);
});
