/**
 * Model-based test of the reconcile loop: random sequences of host failures, returns, drains,
 * reloads, pfctl failures and restarts, run against the real Reconciler and a memory filter,
 * checked after every step against a model that knows only the healthy set and the mapping.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { pino } from 'pino';
import { parseConfig } from '../../src/config/load.ts';
import type { Config } from '../../src/config/model.ts';
import { buildMapper } from '../../src/daemon/daemon.ts';
import { createMetrics } from '../../src/daemon/metrics.ts';
import { Reconciler } from '../../src/daemon/reconciler.ts';
import { MemoryDriver } from '../../src/drivers/memory.ts';
import type { HostState } from '../../src/health/types.ts';

const B = 32;
const HOSTS = ['lb1', 'lb2', 'lb3', 'lb4'];

function configWith(hosts: string[]): Config {
  return parseConfig(
    `buckets: {count: ${B}, inet_prefix: 8}
driver: memory
services:
  web: {interface: em0, external: <ext>, ports: [443]}
hosts:
${hosts.map((h) => `  ${h}: {addresses: {web: 10.0.1.${HOSTS.indexOf(h) + 11}}}`).join('\n')}
`,
    'model.yaml',
  );
}
/** Reload switches between these: lb4 joins the config, or leaves it. */
const CONFIGS = { three: configWith(HOSTS.slice(0, 3)), four: configWith(HOSTS) };

interface Model {
  config: keyof typeof CONFIGS;
  down: Set<string>;
  drained: Set<string>;
  failing: boolean;
  /** Owners the filter held after the last clean pass (what `keep` keeps when all are down). */
  last: Array<string | null>;
}

interface Real {
  driver: MemoryDriver;
  reconciler: Reconciler;
  states: Map<string, HostState>;
  drained: Set<string>;
  config: Config;
}

const logger = pino({ level: 'silent' });

function reconcilerFor(real: Omit<Real, 'reconciler'>): Reconciler {
  return new Reconciler({
    config: real.config,
    mapper: buildMapper(real.config),
    driver: real.driver,
    logger,
    metrics: createMetrics(),
    states: () => real.states,
    drained: () => real.drained,
  });
}

function held(real: Real): Array<string | null | undefined> {
  return Array.from({ length: B }, (_, b) => real.driver.buckets.get(b)?.host);
}

/** What the filter must hold once no load is failing. */
function expected(m: Model): Array<string | null> {
  const config = CONFIGS[m.config];
  const eligible = config.hosts.map((h) => h.name).filter((h) => !m.down.has(h) && !m.drained.has(h));
  if (eligible.length === 0) return m.last;
  return buildMapper(config).owners(new Set(eligible)) as Array<string | null>;
}

function check(m: Model, r: Real, movedOnlyFrom?: string, before?: Array<string | null | undefined>): void {
  if (m.failing) return;
  const now = held(r);
  assert.deepEqual(now, expected(m));
  if (movedOnlyFrom !== undefined && before) {
    now.forEach((owner, b) => {
      if (before[b] !== movedOnlyFrom) assert.equal(owner, before[b], `bucket ${b} moved though ${movedOnlyFrom} did not own it`);
    });
  }
  m.last = now as Array<string | null>;
}

type Cmd = fc.AsyncCommand<Model, Real>;

class Health implements Cmd {
  readonly host: string;
  readonly state: 'up' | 'down';
  constructor(host: string, state: 'up' | 'down') {
    this.host = host;
    this.state = state;
  }
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    const before = held(r);
    const wasEligible = !m.down.has(this.host) && !m.drained.has(this.host);
    if (this.state === 'down') m.down.add(this.host);
    else m.down.delete(this.host);
    r.states.set(this.host, this.state);
    await r.reconciler.run();
    const inConfig = CONFIGS[m.config].hosts.some((h) => h.name === this.host);
    check(m, r, this.state === 'down' && wasEligible && inConfig && !m.failing ? this.host : undefined, before);
  }
  toString(): string {
    return `${this.host} ${this.state}`;
  }
}

class DrainCmd implements Cmd {
  readonly host: string;
  readonly drain: boolean;
  constructor(host: string, drain: boolean) {
    this.host = host;
    this.drain = drain;
  }
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    if (this.drain) {
      m.drained.add(this.host);
      r.drained.add(this.host);
    } else {
      m.drained.delete(this.host);
      r.drained.delete(this.host);
    }
    await r.reconciler.run();
    check(m, r);
  }
  toString(): string {
    return `${this.drain ? 'drain' : 'undrain'} ${this.host}`;
  }
}

class Reload implements Cmd {
  readonly to: keyof typeof CONFIGS;
  constructor(to: keyof typeof CONFIGS) {
    this.to = to;
  }
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    m.config = this.to;
    r.config = CONFIGS[this.to];
    r.reconciler.replace({ config: r.config, mapper: buildMapper(r.config), driver: r.driver }, true);
    await r.reconciler.run();
    check(m, r);
  }
  toString(): string {
    return `reload ${this.to}`;
  }
}

class PfctlFails implements Cmd {
  readonly buckets: number[];
  constructor(buckets: number[]) {
    this.buckets = buckets;
  }
  check(m: Model): boolean {
    return !m.failing;
  }
  async run(m: Model, r: Real): Promise<void> {
    for (const b of this.buckets) r.driver.failing.add(b);
    m.failing = true;
    await r.reconciler.run();
  }
  toString(): string {
    return `pfctl fails for ${this.buckets.join(',')}`;
  }
}

class PfctlHeals implements Cmd {
  check(m: Model): boolean {
    return m.failing;
  }
  async run(m: Model, r: Real): Promise<void> {
    r.driver.failing.clear();
    m.failing = false;
    await r.reconciler.run();
    check(m, r);
  }
  toString(): string {
    return 'pfctl works again';
  }
}

class Restart implements Cmd {
  check(m: Model): boolean {
    return !m.failing;
  }
  async run(m: Model, r: Real): Promise<void> {
    await r.reconciler.close();
    const loads = r.driver.loads.length;
    r.reconciler = reconcilerFor(r);
    await r.reconciler.adopt();
    await r.reconciler.run();
    assert.equal(r.driver.loads.length, loads, 'a restart with nothing changed loads nothing');
    check(m, r);
  }
  toString(): string {
    return 'restart';
  }
}

const host = fc.constantFrom(...HOSTS);
const commands = [
  fc.tuple(host, fc.constantFrom<'up' | 'down'>('up', 'down')).map(([h, s]) => new Health(h, s)),
  fc.tuple(host, fc.boolean()).map(([h, d]) => new DrainCmd(h, d)),
  fc.constantFrom<keyof typeof CONFIGS>('three', 'four').map((c) => new Reload(c)),
  fc.uniqueArray(fc.integer({ min: 0, max: B - 1 }), { minLength: 1, maxLength: 6 }).map((b) => new PfctlFails(b)),
  fc.constant(new PfctlHeals()),
  fc.constant(new Restart()),
];

test('the reconciler follows the model through random failures, drains, reloads, pfctl errors and restarts', async () => {
  await fc.assert(
    fc.asyncProperty(fc.commands(commands, { maxCommands: 40 }), async (cmds) => {
      const config = CONFIGS.three;
      const base = { driver: new MemoryDriver(), states: new Map<string, HostState>(HOSTS.map((h) => [h, 'up'])), drained: new Set<string>(), config };
      const real: Real = { ...base, reconciler: reconcilerFor(base) };
      await real.reconciler.run();
      const model: Model = { config: 'three', down: new Set(), drained: new Set(), failing: false, last: [] };
      model.last = expected({ ...model, last: [] });
      check(model, real);
      try {
        await fc.asyncModelRun(() => ({ model, real }), cmds);
      } finally {
        await real.reconciler.close();
      }
    }),
    { numRuns: 60 },
  );
});
