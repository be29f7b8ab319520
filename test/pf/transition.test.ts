/**
 * Make-before-break, checked after every pfctl call: random configs (hosts, weights, families,
 * dialect) and random event sequences (down, up, drain, undrain, with pfctl failing now and
 * then) run through the planner and the real pf driver against the emulator. After each call of
 * a transition, every client prefix must route to the owner it had before the transition or to
 * the one the transition gives it: never to a third host, never unsteered while it has an owner.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { bucketTables, buildPartition } from '../../src/buckets/partition.ts';
import { parseConfig } from '../../src/config/load.ts';
import type { Config } from '../../src/config/model.ts';
import { buildMapper } from '../../src/daemon/daemon.ts';
import { plan } from '../../src/daemon/plan.ts';
import type { BucketAssignment } from '../../src/drivers/driver.ts';
import type { HostState } from '../../src/health/types.ts';
import type { IpAddress } from '../../src/net/address.ts';
import { formatAddress, parseAddress } from '../../src/net/address.ts';
import { PfDriver } from '../../src/pf/driver.ts';
import { pfctlRunner } from '../../src/pf/pfctl.ts';
import { PfEmulator } from '../pf-emulator/emulator.ts';

const emulators: PfEmulator[] = [];
after(() => {
  for (const e of emulators) e.cleanup();
});

interface Scenario {
  hosts: number[];
  six: boolean;
  dialect: 'freebsd' | 'openbsd';
  buckets: 16 | 32;
  events: Array<{ kind: 'down' | 'up' | 'drain' | 'undrain'; host: number; fail: boolean }>;
}

const arbScenario: fc.Arbitrary<Scenario> = fc.integer({ min: 2, max: 5 }).chain((n) =>
  fc.record({
    hosts: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: n, maxLength: n }),
    six: fc.boolean(),
    dialect: fc.constantFrom('freebsd' as const, 'openbsd' as const),
    buckets: fc.constantFrom(16 as const, 32 as const),
    events: fc.array(fc.record({ kind: fc.constantFrom('down' as const, 'up' as const, 'drain' as const, 'undrain' as const), host: fc.nat({ max: n - 1 }), fail: fc.boolean() }), { minLength: 2, maxLength: 5 }),
  }),
);

function configOf(s: Scenario, pfctl: string): Config {
  const hosts = s.hosts.map((w, i) => `  lb${i + 1}: {weight: ${w}, addresses: {web: "10.0.1.${i + 1}:8080"${s.six ? `, web6: "2001:db8:1::${i + 1}"` : ''}}}`).join('\n');
  const six = s.six ? '  web6: {interface: em0, family: inet6, external: [2001:db8:ff::10], ports: [443]}\n' : '';
  return parseConfig(
    `buckets: {count: ${s.buckets}, seed: 3, inet_prefix: 6, inet6_prefix: 8}
driver: pf
pf: {pfctl: ${pfctl}, dialect: ${s.dialect}, timeout: 20s}
services:
  web: {interface: em0, external: <ext>, ports: [80, 443]}
${six}hosts:
${hosts}
`,
    'transition.yaml',
  );
}

/** One client per source prefix of every bucket, in both families in use. */
function clientsOf(config: Config): Array<{ bucket: number; source: IpAddress; destination: IpAddress; port: number }> {
  const out: Array<{ bucket: number; source: IpAddress; destination: IpAddress; port: number }> = [];
  bucketTables(buildPartition(config.buckets)).forEach((t, bucket) => {
    for (const c of t.inet) out.push({ bucket, source: c.address, destination: parseAddress('192.0.2.10')!, port: 443 });
    if (config.services.length > 1) for (const c of t.inet6) out.push({ bucket, source: c.address, destination: parseAddress('2001:db8:ff::10')!, port: 443 });
  });
  return out;
}

/** Where a host receives a client of this family. */
function addressOf(config: Config, host: string | null, family: 4 | 6): string | null {
  if (host === null) return null;
  const target = config.hosts.find((h) => h.name === host)!.targets[family === 4 ? 'web' : 'web6']!;
  return formatAddress(target.address);
}

test('after every pfctl call of a transition, every client prefix routes to its old or its new owner', async () => {
  await fc.assert(
    fc.asyncProperty(arbScenario, async (s) => {
      const emulator = new PfEmulator(s.dialect);
      emulators.push(emulator);
      emulator.loadMain(`table <ext> { 192.0.2.10 }\n${s.dialect === 'freebsd' ? 'rdr-anchor' : 'anchor'} "pfsteer"\n`);
      process.env.PFSTEER_PF_EMULATOR = emulator.dir;
      const config = configOf(s, emulator.pfctl);
      const clients = clientsOf(config);
      const packets = clients.map((c) => ({ source: c.source, destination: c.destination, port: c.port, interface: 'em0' }));
      // Per client: where it routed when the transition began, and where the transition sends it.
      let allowed: Array<Set<string | null>> = [];
      let checked = 0;
      // Collected, not thrown: the driver would take a throw inside pfctl for a failed command.
      const violations: string[] = [];
      const routes = (): Array<string | null> => emulator.routeMany(packets).map((answer) => (answer.anchor === null ? null : answer.address));
      const check = (args: string[]): void => {
        routes().forEach((where, i) => {
          if (!allowed[i]!.has(where)) violations.push(`after pfctl ${args.join(' ')}: bucket ${clients[i]!.bucket} (${formatAddress(clients[i]!.source)}) routed to ${where}, allowed ${[...allowed[i]!].join(' or ')}`);
        });
        checked++;
      };
      const runner = pfctlRunner(config.pf);
      const driver = new PfDriver(config, {
        pfctl: async (args, input) => {
          const r = await runner(args, input);
          if (allowed.length > 0) check(args);
          return r;
        },
      });
      const mapper = buildMapper(config);
      const states = new Map<string, HostState>(config.hosts.map((h) => [h.name, 'up']));
      const drained = new Set<string>();
      const applied = new Map<number, BucketAssignment>();
      const step = async (): Promise<void> => {
        const p = plan({ config, mapper, states, drained, applied });
        const now = routes();
        // The first load starts from an empty anchor: nothing routed yet, so only the new owner counts.
        allowed = clients.map((c, i) => new Set([addressOf(config, p.desired[c.bucket]!.host, c.source.family), ...(applied.size > 0 ? [now[i]!] : [])]));
        const results = await driver.apply(p.changes, { desired: p.desired });
        results.forEach((r, i) => {
          const change = p.changes[i]!;
          if (r.ok) applied.set(change.bucket, change);
          else applied.delete(change.bucket);
        });
      };
      await step();
      for (const event of s.events) {
        const host = config.hosts[event.host]!.name;
        if (event.kind === 'down') states.set(host, 'down');
        if (event.kind === 'up') states.set(host, 'up');
        if (event.kind === 'drain') drained.add(host);
        if (event.kind === 'undrain') drained.delete(host);
        if (event.fail) emulator.faults({ fail: 1, match: '-T (add|delete|flush)' });
        await step();
        emulator.faults({});
        // The retry a reconciler would make.
        await step();
      }
      assert.deepEqual(violations.slice(0, 3), []);
      assert.ok(checked > 0);
      // Settled: every bucket routes to exactly its desired owner.
      const final = plan({ config, mapper, states, drained, applied });
      assert.deepEqual(final.changes, []);
      emulator.routeMany(packets).forEach((answer, i) => {
        const want = addressOf(config, final.desired[clients[i]!.bucket]!.host, clients[i]!.source.family);
        assert.equal(answer.anchor === null ? null : answer.address, want);
      });
    }),
    { numRuns: 8, seed: 1313 },
  );
});
