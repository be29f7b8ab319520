/**
 * `npm run bench:pf`: the pf data path, the one-anchor layout against the per-bucket layout it
 * replaced (rendered here as the baseline), side by side in one run through the pf emulator.
 *
 * For B = 256, 4096, 65536 and N = 4, 16, 64 (IPv4 /16 source prefixes, one service on
 * <ext> ports 80 and 443):
 * - per new connection: table lookups and rules evaluated by pf's evaluation with skip steps
 *   (the emulator's), for steered packets (to <ext> on port 80 and on 443) and unsteered ones
 *   (to another address on port 443, and to <ext> on port 22);
 * - per health change (one host down) and per drain: pfctl calls and table entries sent, and
 *   the emulated apply time (the real driver, every call a pfctl process of the emulator);
 * - tables and table entries the layout uses; the calls to load it at start.
 * The old layout is measured where it fits: up to B = 4096 (65536 anchors would be 65536 tables,
 * beyond OpenBSD's limit and one pfctl per moved bucket). Its apply time is measured where a
 * health change is at most 256 loads; its counts are exact everywhere.
 *
 * Targets (new layout): lookups per new connection <= N + 2; pfctl calls per health change <=
 * changed tables + 1; one call at start. Writes bench/results/pf.{md,json} (not with --quick,
 * B = 256 and N = 4, 16 only); exit 1 on a miss.
 */
import { writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { bucketTables, buildPartition, type BucketTable } from '../src/buckets/partition.ts';
import { parseConfig } from '../src/config/load.ts';
import type { Config } from '../src/config/model.ts';
import { buildMapper } from '../src/daemon/daemon.ts';
import { plan } from '../src/daemon/plan.ts';
import { assignmentsFor } from '../src/drivers/assignments.ts';
import type { BucketAssignment } from '../src/drivers/driver.ts';
import type { HostState } from '../src/health/types.ts';
import { formatAddress, formatCidr, type IpAddress } from '../src/net/address.ts';
import { PfDriver } from '../src/pf/driver.ts';
import { pfctlRunner } from '../src/pf/pfctl.ts';
import { PfEmulator } from '../test/pf-emulator/emulator.ts';
import { parseRuleset } from '../test/pf-emulator/grammar.ts';
import { evaluate } from '../test/pf-emulator/evaluate.ts';
import { loadedAnchor } from '../test/pf-emulator/ruleset.ts';

const QUICK = process.argv.includes('--quick');
const GRID_B = QUICK ? [256] : [256, 4096, 65536];
const GRID_N = QUICK ? [4, 16] : [4, 16, 64];
const OLD_MAX_B = 4096;
const OLD_TIMED_LOADS = 256;
const SAMPLES = Number(process.env.BENCH_PF_SAMPLES ?? 400);
const MAIN = 'table <ext> { 192.0.2.10 }\n';

function configFor(buckets: number, hosts: number, pfctl: string): Config {
  const lines = Array.from({ length: hosts }, (_, i) => `  lb${i + 1}: {addresses: {web: 10.0.${1 + (i >> 8)}.${(i % 250) + 1}}}`).join('\n');
  return parseConfig(
    `buckets: {count: ${buckets}, seed: 1, inet_prefix: 16}
driver: pf
pf: {pfctl: ${pfctl}, concurrency: 4, timeout: 120s}
services:
  web: {interface: em0, external: <ext>, ports: [80, 443]}
hosts:
${lines}
`,
    'bench.yaml',
  );
}

/** The per-bucket layout pfsteer had before: anchor `pfsteer/bNNNN`, its own const table, one rule per service. */
function oldAnchor(config: Config, table: BucketTable, a: BucketAssignment): string {
  const name = `b${String(a.bucket).padStart(4, '0')}v4`;
  const route = a.routes[0]!;
  return `table <${name}> const { ${table.inet.map(formatCidr).join(' ')} }\nrdr on em0 inet proto tcp from <${name}> to <ext> port { 80 443 } -> ${formatAddress(route.address)}\n`;
}

function oldName(bucket: number): string {
  return `pfsteer/b${String(bucket).padStart(4, '0')}`;
}

interface Cost {
  lookups: { mean: number; max: number };
  rules: { mean: number; max: number };
}

interface Change {
  calls: number;
  changedTables: number;
  entries: number;
  movedPrefixes: number;
  ms: number | null;
}

interface Row {
  layout: 'one anchor' | 'per bucket';
  buckets: number;
  hosts: number;
  tables: number;
  entries: number;
  startCalls: number;
  steered: Cost;
  unsteered: Cost;
  down: Change;
  drain: Change;
}

function summarize(values: number[]): { mean: number; max: number } {
  return { mean: values.reduce((a, b) => a + b, 0) / values.length, max: Math.max(...values) };
}

const clients = fc.sample(fc.uint8Array({ minLength: 4, maxLength: 4 }).map((bytes): IpAddress => ({ family: 4, bytes })), { numRuns: SAMPLES, seed: 42 });

/** Every client to every (destination, port) given. */
function measureCost(emulator: PfEmulator, targets: ReadonlyArray<readonly [string, number]>): Cost {
  const memory = emulator.memory();
  const costs = targets.flatMap(([destination, port]) => {
    const to: IpAddress = { family: 4, bytes: Uint8Array.from(destination.split('.').map(Number)) };
    return clients.map((source) => evaluate(memory, { source, destination: to, port, interface: 'em0', protocol: 'tcp' }));
  });
  return { lookups: summarize(costs.map((c) => c.tableLookups)), rules: summarize(costs.map((c) => c.rulesEvaluated)) };
}

/** To the service on both its ports; to another address on a service port, and to the service address on another port. */
const STEERED = [['192.0.2.10', 80], ['192.0.2.10', 443]] as const;
const UNSTEERED = [['198.51.100.99', 443], ['192.0.2.10', 22]] as const;

type BenchEvent = { down?: string; drain?: string };

/** The plan from `from` when one host goes down or is drained, every other host up. */
function planEvent(config: Config, from: BucketAssignment[], event: BenchEvent): ReturnType<typeof plan> {
  const states = new Map<string, HostState>(config.hosts.map((h) => [h.name, h.name === event.down ? 'down' : 'up']));
  const drained = new Set(event.drain ? [event.drain] : []);
  return plan({ config, mapper: buildMapper(config), states, drained, applied: new Map(from.map((a) => [a.bucket, a])) });
}

interface EmulatedPf {
  emulator: PfEmulator;
  config: Config;
  /** The all-up mapping. */
  all: BucketAssignment[];
}

/** An emulated FreeBSD pf whose main ruleset holds `hook`, with the bench's config for B and N pointed at it. */
async function withEmulatedPf<T>(hook: string, b: number, n: number, fn: (pf: EmulatedPf) => Promise<T>): Promise<T> {
  const emulator = new PfEmulator('freebsd');
  try {
    emulator.loadMain(`${MAIN}${hook}\n`);
    process.env.PFSTEER_PF_EMULATOR = emulator.dir;
    const config = configFor(b, n, emulator.pfctl);
    return await fn({ emulator, config, all: assignmentsFor(config, buildMapper(config).owners(new Set(config.hosts.map((h) => h.name)))) });
  } finally {
    emulator.cleanup();
  }
}

/** Runs the real driver for one event; counts what it sent. */
async function newChange(emulator: PfEmulator, config: Config, driver: PfDriver, from: BucketAssignment[], event: BenchEvent): Promise<{ change: Change; to: BucketAssignment[] }> {
  const p = planEvent(config, from, event);
  const before = emulator.calls().length;
  const started = performance.now();
  const results = await driver.apply(p.changes, { desired: p.desired });
  const ms = performance.now() - started;
  if (results.some((r) => !r.ok)) throw new Error(`apply failed: ${String(results.find((r) => !r.ok)!.error)}`);
  const tables = bucketTables(buildPartition(config.buckets));
  const changedHosts = new Set(p.changes.flatMap((c) => [c.host, from[c.bucket]!.host]));
  return {
    change: {
      calls: emulator.calls().length - before,
      changedTables: changedHosts.size,
      entries: driver.lastApply!.entries,
      movedPrefixes: p.changes.reduce((n, c) => n + tables[c.bucket]!.inet.length, 0),
      ms,
    },
    to: p.desired,
  };
}

function runNew(b: number, n: number): Promise<Row> {
  return withEmulatedPf('rdr-anchor "pfsteer"', b, n, async ({ emulator, config, all }) => {
    const driver = new PfDriver(config, { pfctl: pfctlRunner(config.pf) });
    const before = emulator.calls().length;
    await driver.apply(all, { desired: all });
    const startCalls = emulator.calls().length - before;
    const steered = measureCost(emulator, STEERED);
    const unsteered = measureCost(emulator, UNSTEERED);
    const down = await newChange(emulator, config, driver, all, { down: 'lb2' });
    // Back to all up (its own table commands), then a drain of lb1.
    await driver.apply(all.filter((a, i) => a.host !== down.to[i]!.host), { desired: all });
    const drain = await newChange(emulator, config, driver, all, { drain: 'lb1' });
    const demand = driver.demand();
    return { layout: 'one anchor', buckets: b, hosts: n, tables: demand.tables, entries: demand.tableEntries, startCalls, steered, unsteered, down: down.change, drain: drain.change };
  });
}

async function oldChange(emulator: PfEmulator, config: Config, tables: BucketTable[], from: BucketAssignment[], event: BenchEvent): Promise<Change> {
  const p = planEvent(config, from, event);
  const entries = p.changes.reduce((s, c) => s + tables[c.bucket]!.inet.length, 0);
  let ms: number | null = null;
  if (p.changes.length <= OLD_TIMED_LOADS) {
    const pfctl = pfctlRunner(config.pf);
    const started = performance.now();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < p.changes.length) {
        const c = p.changes[next++]!;
        const r = await pfctl(['-a', oldName(c.bucket), '-f', '-'], oldAnchor(config, tables[c.bucket]!, c));
        if (r.exitCode !== 0) throw new Error(r.stderr);
      }
    };
    await Promise.all(Array.from({ length: config.pf.concurrency }, worker));
    ms = performance.now() - started;
  }
  // Every load re-sends the bucket's whole const table: its entries are the moved prefixes, once.
  return { calls: p.changes.length, changedTables: p.changes.length, entries, movedPrefixes: entries, ms };
}

function runOld(b: number, n: number): Promise<Row> {
  return withEmulatedPf('rdr-anchor "pfsteer/*"', b, n, async ({ emulator, config, all }) => {
    const tables = bucketTables(buildPartition(config.buckets));
    // Written into the emulator directly: B loads through pfctl would measure the set-up.
    emulator.store.update((m) => {
      for (const a of all) {
        const source = oldAnchor(config, tables[a.bucket]!, a);
        m.anchors[oldName(a.bucket)] = loadedAnchor(source, parseRuleset(source, 'freebsd'));
      }
    });
    const steered = measureCost(emulator, STEERED);
    const unsteered = measureCost(emulator, UNSTEERED);
    const down = await oldChange(emulator, config, tables, all, { down: 'lb2' });
    const drain = await oldChange(emulator, config, tables, all, { drain: 'lb1' });
    return { layout: 'per bucket', buckets: b, hosts: n, tables: b, entries: 2 ** config.buckets.inetPrefix, startCalls: b, steered, unsteered, down, drain };
  });
}

const rows: Row[] = [];
for (const b of GRID_B) {
  for (const n of GRID_N) {
    process.stderr.write(`B=${b} N=${n}: one anchor ... `);
    rows.push(await runNew(b, n));
    if (b <= OLD_MAX_B) {
      process.stderr.write('per bucket ... ');
      rows.push(await runOld(b, n));
    }
    process.stderr.write('done\n');
  }
}

interface Verdict {
  lookups: boolean;
  calls: boolean;
  start: boolean;
}

function verdict(r: Row): Verdict {
  return {
    lookups: r.steered.lookups.max <= r.hosts + 2 && r.unsteered.lookups.max <= r.hosts + 2,
    calls: r.down.calls <= r.down.changedTables + 1 && r.drain.calls <= r.drain.changedTables + 1,
    start: r.startCalls === 1,
  };
}

const fmt = (x: number): string => (Number.isInteger(x) ? String(x) : x.toFixed(1));
const ms = (x: number | null): string => (x === null ? 'n/a' : `${(x / 1000).toFixed(2)} s`);
const machine = `node ${process.version}, ${availableParallelism()} CPUs (${cpus()[0]?.model ?? 'unknown'})`;
const newRows = rows.filter((r) => r.layout === 'one anchor');
const pass = newRows.every((r) => Object.values(verdict(r)).every(Boolean));
const md = [
  '# bench:pf: the pf data path, one anchor with per-host tables against one anchor per bucket',
  '',
  `Machine: ${machine}. ${SAMPLES} random IPv4 clients per cell; IPv4 /16 source prefixes (65536 of them); one service on <ext> ports 80 and 443; FreeBSD dialect. Steered: every client to <ext> on 80 and on 443; unsteered: every client to another address on 443 and to <ext> on 22. Lookups and rules are counted by the emulator's evaluation with pf's skip steps; calls, entries and apply times come from the real pf driver (new) or per-bucket \`pfctl -a pfsteer/bNNNN -f -\` loads (old), every call a pfctl process of the emulator (its time is the emulator's: a Node start-up per call, not pf's).`,
  '',
  '## Per new connection',
  '',
  '| B | N | layout | lookups steered (mean / max) | lookups unsteered (mean / max) | rules steered (mean / max) | rules unsteered (mean / max) | target lookups <= N + 2 |',
  '|---:|---:|---|---:|---:|---:|---:|---|',
  ...rows.map((r) => `| ${r.buckets} | ${r.hosts} | ${r.layout} | ${fmt(r.steered.lookups.mean)} / ${r.steered.lookups.max} | ${fmt(r.unsteered.lookups.mean)} / ${r.unsteered.lookups.max} | ${fmt(r.steered.rules.mean)} / ${r.steered.rules.max} | ${fmt(r.unsteered.rules.mean)} / ${r.unsteered.rules.max} | ${r.layout === 'one anchor' ? (verdict(r).lookups ? 'PASS' : 'FAIL') : '-'} |`),
  '',
  '## Per health change (lb2 down) and per drain (lb1)',
  '',
  '| B | N | layout | tables | entries | calls at start | down: calls / changed tables | down: entries sent / moved prefixes | down: apply | drain: calls / changed tables | drain: entries / moved | drain: apply | target calls <= changed + 1, one at start |',
  '|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  ...rows.map(
    (r) =>
      `| ${r.buckets} | ${r.hosts} | ${r.layout} | ${r.tables} | ${r.entries} | ${r.startCalls} | ${r.down.calls} / ${r.down.changedTables} | ${r.down.entries} / ${r.down.movedPrefixes} | ${ms(r.down.ms)} | ${r.drain.calls} / ${r.drain.changedTables} | ${r.drain.entries} / ${r.drain.movedPrefixes} | ${ms(r.drain.ms)} | ${r.layout === 'one anchor' ? (verdict(r).calls && verdict(r).start ? 'PASS' : 'FAIL') : '-'} |`,
  ),
  '',
  `Result: ${pass ? 'every target met by the one-anchor layout' : 'a target was missed (see FAIL)'}.`,
  '',
].join('\n');
const out = new URL('./results/', import.meta.url);
if (!QUICK) {
  writeFileSync(join(out.pathname, 'pf.md'), md);
  writeFileSync(join(out.pathname, 'pf.json'), `${JSON.stringify({ machine, samples: SAMPLES, rows }, null, 2)}\n`);
}
process.stdout.write(md);
if (!pass) process.exitCode = 1;
