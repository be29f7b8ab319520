/**
 * The reconcile loop against drivers that are slow or stuck: a hung load holds back only its
 * own bucket, a drift read that overlaps a load reports no drift, and reloads neither overlap a
 * pass nor read back a filter whose rendering they did not change.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { parseConfig } from '../../src/config/load.ts';
import { buildMapper, Daemon } from '../../src/daemon/daemon.ts';
import { createMetrics } from '../../src/daemon/metrics.ts';
import { Reconciler } from '../../src/daemon/reconciler.ts';
import type { ApplyResult, BucketAssignment, Driver, ObservedBucket } from '../../src/drivers/driver.ts';
import { MemoryDriver } from '../../src/drivers/memory.ts';
import type { HostState } from '../../src/health/types.ts';
import type { IpAddress } from '../../src/net/address.ts';
import { until } from '../support/until.ts';
import { B, Fixture } from './fixture.ts';

const logger = pino({ level: 'silent' });
const config = parseConfig(
  `buckets: {count: 32, inet_prefix: 8}
driver: pf
pf: {concurrency: 4}
services:
  web: {interface: em0, external: <ext>, ports: [443]}
hosts:
  lb1: {addresses: {web: 10.0.1.11}}
  lb2: {addresses: {web: 10.0.1.12}}
  lb3: {addresses: {web: 10.0.1.13}}
`,
  'reconciler.yaml',
);

/** A driver over a memory filter that loads each batch in one call; a call touching a held bucket waits. */
class HeldDriver implements Driver {
  readonly kind = 'pf' as const;
  readonly memory = new MemoryDriver();
  readonly held = new Set<number>();
  #release: Array<() => void> = [];
  observeDelayMs = 0;

  async observe(): Promise<ObservedBucket[]> {
    const snapshot = await this.memory.observe();
    await new Promise((resolve) => setTimeout(resolve, this.observeDelayMs));
    return snapshot;
  }

  async apply(assignments: readonly BucketAssignment[]): Promise<ApplyResult[]> {
    if (assignments.some((a) => this.held.has(a.bucket))) await new Promise<void>((resolve) => this.#release.push(resolve));
    return this.memory.apply(assignments);
  }

  release(): void {
    this.held.clear();
    for (const resolve of this.#release.splice(0)) resolve();
  }

  killStates(address: IpAddress): Promise<number> {
    return this.memory.killStates(address);
  }

  countStates(addresses: readonly IpAddress[]): Promise<number> {
    return this.memory.countStates(addresses);
  }

  async close(): Promise<void> {}
}

function reconcilerOn(driver: Driver, states: Map<string, HostState>): Reconciler {
  return new Reconciler({ config, mapper: buildMapper(config), driver, logger, metrics: createMetrics(), states: () => states, drained: () => new Set() });
}

const owner = (driver: HeldDriver, bucket: number): string | null | undefined => driver.memory.buckets.get(bucket)?.host;

test('a hung load holds back only its own buckets: a failover meanwhile moves every other bucket at once', async () => {
  const driver = new HeldDriver();
  const states = new Map<string, HostState>([['lb1', 'up'], ['lb2', 'up'], ['lb3', 'up']]);
  const reconciler = reconcilerOn(driver, states);
  const mapper = buildMapper(config);
  await reconciler.run();
  const allUp = mapper.owners(new Set(['lb1', 'lb2', 'lb3']));
  // lb1 fails and the load that moves its buckets hangs.
  allUp.forEach((o, b) => o === 'lb1' && driver.held.add(b));
  states.set('lb1', 'down');
  const first = reconciler.run();
  // lb2 fails meanwhile: its buckets are not in the hung load and move at once.
  states.set('lb2', 'down');
  const failover = reconciler.run();
  const lb2Buckets = allUp.flatMap((o, b) => (o === 'lb2' ? [b] : []));
  await until(() => lb2Buckets.every((b) => owner(driver, b) === 'lb3'), 1_000, "lb2's buckets moved while another load hangs");
  assert.ok(allUp.every((o, b) => o !== 'lb1' || owner(driver, b) === 'lb1'), "lb1's buckets wait for their own load");

  driver.release();
  await Promise.all([first, failover]);
  assert.deepEqual(Array.from({ length: 32 }, (_, b) => owner(driver, b)), mapper.owners(new Set(['lb3'])));
  await reconciler.close();
});

test('a drift read that overlaps a load calls nothing drift', async () => {
  const driver = new HeldDriver();
  const states = new Map<string, HostState>([['lb1', 'up'], ['lb2', 'up'], ['lb3', 'up']]);
  const reconciler = reconcilerOn(driver, states);
  await reconciler.run();
  driver.observeDelayMs = 200;
  // The read takes its snapshot now; lb3 fails and its buckets load before the read returns.
  const read = reconciler.repairDrift();
  states.set('lb3', 'down');
  await reconciler.run();
  assert.equal(await read, 0);
  assert.equal(reconciler.driftRepairs, 0);
  await reconciler.close();
});

/** Counts reads and closes over a shared memory filter; notes a close while a load of its own runs. */
class CountingDriver implements Driver {
  readonly kind = 'memory' as const;
  static observes = 0;
  static created: CountingDriver[] = [];
  static closedMidLoad = 0;
  readonly #memory: MemoryDriver;
  #loading = 0;
  closed = false;

  get loading(): number {
    return this.#loading;
  }

  applyDelayMs = 0;

  constructor(memory: MemoryDriver) {
    this.#memory = memory;
    CountingDriver.created.push(this);
  }

  observe(): Promise<ObservedBucket[]> {
    CountingDriver.observes++;
    return this.#memory.observe();
  }

  async apply(assignments: readonly BucketAssignment[]): Promise<ApplyResult[]> {
    this.#loading++;
    await new Promise((resolve) => setTimeout(resolve, this.applyDelayMs));
    this.#loading--;
    return this.#memory.apply(assignments);
  }

  killStates(address: IpAddress): Promise<number> {
    return this.#memory.killStates(address);
  }

  countStates(addresses: readonly IpAddress[]): Promise<number> {
    return this.#memory.countStates(addresses);
  }

  async close(): Promise<void> {
    if (this.#loading > 0) CountingDriver.closedMidLoad++;
    this.closed = true;
  }
}

test('reloads: ten at once run as at most two, an unchanged config reads nothing back and loads nothing, no pass overlaps a swap', async () => {
  const fx = await Fixture.create();
  try {
    const parts = { ...fx.parts, createDriver: () => new CountingDriver(fx.driver) };
    fx.daemon = await Daemon.start(fx.file, parts, logger);
    const loads = fx.driver.loads.length;
    assert.equal(fx.driver.buckets.size, B);
    assert.equal(CountingDriver.observes, 1, 'the filter read once, at start');

    const results = await Promise.all(Array.from({ length: 10 }, () => fx.daemon!.reload() as Promise<{ ok: boolean }>));
    assert.ok(results.every((r) => r.ok));
    assert.ok(CountingDriver.created.length <= 3, `${CountingDriver.created.length} drivers for 10 reloads`);
    assert.equal(CountingDriver.observes, 1, 'an unchanged reload reads nothing back');
    assert.equal(fx.driver.loads.length, loads, 'and loads nothing');
    assert.deepEqual(CountingDriver.created.map((d) => d.closed), [...CountingDriver.created.map(() => true).slice(1), false], 'every replaced driver closed');

    // A reload while a failover's loads are slow waits for them, and closes no driver under a load.
    const current = CountingDriver.created.at(-1)!;
    current.applyDelayMs = 300;
    fx.backends[0]!.healthy = false;
    await until(() => current.loading > 0, 5_000, 'a failover load in flight');
    await fx.daemon.reload();
    assert.equal(CountingDriver.closedMidLoad, 0);
    await until(() => !fx.owners().includes('lb1'), 5_000, 'lb1\'s buckets moved');
  } finally {
    await fx.close();
  }
});
