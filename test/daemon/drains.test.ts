/**
 * Declarative drains: `hosts.NAME.drain` beside runtime drains, in the bookkeeping, in the
 * daemon's own drain wait, and in the real daemon on the memory driver with real HTTP checks.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { pino } from 'pino';
import type { Host } from '../../src/config/model.ts';
import { callControl } from '../../src/daemon/control-client.ts';
import { Daemon, type DaemonParts } from '../../src/daemon/daemon.ts';
import { DrainWaits } from '../../src/daemon/drain-wait.ts';
import { Drains } from '../../src/daemon/drains.ts';
import { realParts } from '../../src/daemon/parts.ts';
import { MemoryDriver } from '../../src/drivers/memory.ts';
import { parseAddress } from '../../src/net/address.ts';
import { startBackends, type Backend } from '../support/net.ts';
import { until } from '../support/until.ts';

const hostsNamed = (names: readonly string[], drained: ReadonlySet<string> = new Set()): Host[] =>
  names.map((name) => ({ name, weight: 1, targets: {}, checks: [], ...(drained.has(name) ? { drain: true } : {}) }));

test('drained hosts are the union of config and runtime drains; a continuing drain keeps its time; the file keeps both', () => {
  const names = ['a', 'b', 'c', 'd'];
  const op = fc.oneof(
    fc.record({ kind: fc.constant('config' as const), drained: fc.subarray(names) }),
    fc.record({ kind: fc.constantFrom('add' as const, 'remove' as const), host: fc.constantFrom(...names) }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 20 }), (ops) => {
      const drains = new Drains();
      let config = new Set<string>();
      const runtime = new Set<string>();
      let now = 1000;
      const since = new Map<string, number>();
      for (const o of ops) {
        now += 1000;
        const before = new Set(drains.hosts());
        const changes = o.kind === 'config' ? drains.applyConfig(hostsNamed(names, new Set(o.drained)), now) : o.kind === 'add' ? drains.addRuntime(o.host, now) : drains.removeRuntime(o.host);
        if (o.kind === 'config') {
          for (const h of o.drained) if (!config.has(h)) since.set(`config:${h}`, now);
          config = new Set(o.drained);
        } else if (o.kind === 'add') {
          if (!runtime.has(o.host)) since.set(`runtime:${o.host}`, now);
          runtime.add(o.host);
        } else runtime.delete(o.host);
        const union = new Set([...config, ...runtime]);
        assert.deepEqual(new Set(drains.hosts()), union);
        assert.deepEqual(changes.started, [...union].filter((h) => !before.has(h)).sort());
        assert.deepEqual(changes.ended, [...before].filter((h) => !union.has(h)).sort());
        for (const h of names) {
          assert.deepEqual(drains.of(h), [
            ...(config.has(h) ? [{ source: 'config', since: since.get(`config:${h}`) }] : []),
            ...(runtime.has(h) ? [{ source: 'runtime', since: since.get(`runtime:${h}`) }] : []),
          ]);
        }
      }
      const restored = new Drains();
      restored.restore(drains.persisted(), hostsNamed(names, config), now + 5000);
      assert.deepEqual(names.map((h) => restored.of(h)), names.map((h) => drains.of(h)), 'a restart keeps sources and times');
    }),
    { numRuns: 300 },
  );
});

test('the drain wait counts until no state is left, gives up at the deadline, and takes counts made elsewhere', async () => {
  const left = new Map([['lb1', 2], ['lb2', 5]]);
  let counts = 0;
  const waits = new DrainWaits({ count: async (h) => (counts++, left.get(h) ?? 0), pollMs: 10, timeoutMs: 300 });
  try {
    waits.start('lb1', Date.now());
    waits.start('lb2', Date.now());
    await until(() => waits.get('lb1')?.states === 2, 500, 'first count');
    assert.equal(waits.get('lb1')?.outcome, 'waiting');
    left.set('lb1', 0);
    await until(() => waits.get('lb1')?.outcome === 'empty', 500, 'lb1 empty');
    const after = counts;
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(counts - after <= 6, 'an empty host is no longer counted (lb2 still is)');
    await until(() => waits.get('lb2')?.outcome === 'timed-out', 1000, 'lb2 gives up');
    assert.equal(waits.get('lb2')?.states, 5);
    waits.record('lb2', 0);
    assert.equal(waits.get('lb2')?.outcome, 'empty', 'a later count of 0 ends it');
    waits.start('lb3', Date.now() - 10_000);
    await until(() => waits.get('lb3')?.outcome === 'empty', 500, 'a drain long past is counted once');
    waits.stop('lb1');
    assert.equal(waits.get('lb1'), undefined);
  } finally {
    waits.close();
  }
});

const logger = pino({ level: 'silent' });
let dir: string;
const backends: Backend[] = [];
const driver = new MemoryDriver();
const parts: DaemonParts = { createDriver: () => driver, createHealth: realParts.createHealth, drainWait: { pollMs: 20, timeoutMs: 60_000 } };
const B = 64;

function config(drained: readonly string[] = []): string {
  const hosts = backends
    .map((b, i) => `  lb${i + 1}:\n    addresses: {std: 10.0.1.${11 + i}}\n${drained.includes(`lb${i + 1}`) ? '    drain: true\n' : ''}    checks:\n      - {type: http, address: 127.0.0.1, port: ${b.port}, path: /}\n`)
    .join('');
  return `defaults: {interval: 100ms, timeout: 90ms, rise: 1, fall: 5, jitter: 0ms}
buckets: {count: ${B}}
driver: memory
control: {socket: ${join(dir, 'control.sock')}, mode: "0600"}
daemon: {state_file: ${join(dir, 'state.json')}, drift_interval: 1s, coalesce: 5ms}
services:
  std: {interface: em0, external: [203.0.113.10], ports: [443]}
hosts:
${hosts}`;
}

/** A slow first check on a busy machine may judge a host down at start; the tests begin with all up. */
const allUp = () => until(() => new Set(owners()).size === 3, 5000, 'every host up and owning buckets');
const owners = () => Array.from({ length: B }, (_, b) => driver.buckets.get(b)?.host ?? null);

interface HostStatus {
  name: string;
  drained: boolean;
  drains: Array<{ source: string; since: string }>;
  wait: { outcome: string; states?: number } | null;
  buckets: number;
}
interface Status {
  digest: string;
  hosts: HostStatus[];
  mapping: { digest: string; owners: Array<string | null> };
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pfsteer-drains-'));
  backends.push(...(await startBackends(3)));
  await writeFile(join(dir, 'pfsteer.yaml'), config());
});

after(async () => {
  for (const b of backends) b.server.close();
  await rm(dir, { recursive: true, force: true });
});

test('a config drain on reload moves exactly the buckets a runtime drain moves; status shows its source, time and wait; undrain refuses it', async () => {
  const file = join(dir, 'pfsteer.yaml');
  const socket = join(dir, 'control.sock');
  const status = () => callControl<Status>(socket, 'GET', '/status');
  const lb1 = (s: Status) => s.hosts.find((h) => h.name === 'lb1')!;
  let daemon = await Daemon.start(file, parts, logger);
  try {
    await allUp();
    const initial = owners();
    const own = initial.filter((o) => o === 'lb1').length;
    let loads = driver.loads.length;
    await callControl(socket, 'POST', '/drain/lb1');
    const runtime = owners();
    assert.equal(driver.loads.length - loads, own, 'a runtime drain loads only lb1\'s buckets');
    assert.equal(lb1(await status()).drains[0]?.source, 'runtime');
    await callControl(socket, 'POST', '/undrain/lb1');
    assert.deepEqual(owners(), initial);

    driver.states.push({ address: parseAddress('10.0.1.11')!, count: 2 });
    await writeFile(file, config(['lb1']));
    loads = driver.loads.length;
    assert.deepEqual(await daemon.reload(), { ok: true });
    assert.deepEqual(owners(), runtime, 'the same owners as the runtime drain');
    assert.equal(driver.loads.length - loads, own, 'and the same loads: only lb1\'s buckets');

    let s = await status();
    assert.deepEqual([lb1(s).drained, lb1(s).drains.map((d) => d.source), lb1(s).buckets], [true, ['config'], 0]);
    const since = lb1(s).drains[0]!.since;
    assert.ok(Math.abs(Date.parse(since) - Date.now()) < 10_000);
    await until(() => daemon.status() !== undefined && (lb1(daemon.status() as Status).wait?.states ?? -1) === 2, 2000, 'the wait counts lb1\'s 2 states');
    assert.equal(lb1(daemon.status() as Status).wait?.outcome, 'waiting');
    driver.states[0]!.count = 0;
    await until(() => lb1(daemon.status() as Status).wait?.outcome === 'empty', 2000, 'the wait ends with no state left');

    const metrics = await daemon.metrics.registry.metrics();
    assert.ok(metrics.includes(`pfsteer_mapping_info{digest="${s.digest}"} 1`), metrics);
    assert.match(metrics, /pfsteer_drain_since_seconds\{host="lb1",source="config"\} \d+/);
    assert.match(metrics, /pfsteer_host_eligible\{host="lb1"\} 0/);
    assert.match(metrics, /pfsteer_host_eligible\{host="lb2"\} 1/);
    assert.match(metrics, /pfsteer_host_drained\{host="lb1"\} 1/);
    assert.match(metrics, /pfsteer_drain_states\{host="lb1"\} 0/);
    assert.equal(s.mapping.digest, s.digest);
    assert.deepEqual(s.mapping.owners, owners());

    await assert.rejects(callControl(socket, 'POST', '/undrain/lb1'), (e: { code: string }) => e.code === 'drained-by-config');
    assert.deepEqual(await callControl(socket, 'POST', '/drain/lb1'), { host: 'lb1', drained: true, source: 'config', buckets: 0 });
    assert.deepEqual(JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')).drained, [], 'no runtime drain beside the config\'s');

    await daemon.close();
    daemon = await Daemon.start(file, parts, logger);
    s = await status();
    assert.deepEqual(lb1(s).drains, [{ source: 'config', since }], 'a restart keeps the drain\'s time');

    await writeFile(file, config());
    await daemon.reload();
    assert.deepEqual(owners(), initial, 'removing the drain from the config restores the identical mapping');
    s = await status();
    assert.deepEqual([lb1(s).drained, lb1(s).drains, lb1(s).wait], [false, [], null]);
  } finally {
    driver.states.length = 0;
    await daemon.close();
    await writeFile(file, config());
  }
});

test('a host drained both ways stays drained until both end; undrain removes only the runtime one', async () => {
  const file = join(dir, 'pfsteer.yaml');
  const socket = join(dir, 'control.sock');
  const daemon = await Daemon.start(file, parts, logger);
  try {
    await allUp();
    const initial = owners();
    await callControl(socket, 'POST', '/drain/lb2');
    await writeFile(file, config(['lb2']));
    await daemon.reload();
    const lb2 = async () => (await callControl<Status>(socket, 'GET', '/status')).hosts.find((h) => h.name === 'lb2')!;
    assert.deepEqual((await lb2()).drains.map((d) => d.source), ['config', 'runtime']);
    assert.deepEqual(await callControl(socket, 'POST', '/undrain/lb2'), { host: 'lb2', drained: true, source: 'config', buckets: 0 });
    assert.deepEqual((await lb2()).drains.map((d) => d.source), ['config']);
    assert.ok(!owners().includes('lb2'));
    await writeFile(file, config());
    await daemon.reload();
    assert.deepEqual(owners(), initial);
  } finally {
    await daemon.close();
    await writeFile(file, config());
  }
});
