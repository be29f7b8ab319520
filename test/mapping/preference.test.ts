import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ALGORITHMS, DEFAULT_ALGORITHM } from '../../src/mapping/algorithms.ts';
import { balanceOf, collateralMoves, movedBuckets } from '../../src/mapping/measure.ts';
import type { HostSpec } from '../../src/mapping/types.ts';

const hostName = fc.stringMatching(/^[a-z][a-z0-9-]{0,6}$/);
const universe = fc.uniqueArray(fc.record({ name: hostName, weight: fc.integer({ min: 1, max: 4 }) }), {
  minLength: 1,
  maxLength: 12,
  selector: (h) => h.name,
});
const bucketCount = fc.constantFrom(16, 32, 64, 128, 256);
const seed = fc.integer({ min: 0, max: 0xffffffff });

const names = (hosts: readonly HostSpec[]) => new Set(hosts.map((h) => h.name));
const build = (hosts: readonly HostSpec[], buckets: number, s: number) => DEFAULT_ALGORITHM.build({ hosts, buckets, seed: s });

test('a host going down moves exactly its buckets, and its return restores the same mapping', () => {
  fc.assert(
    fc.property(universe, bucketCount, seed, fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }), fc.nat(), (hosts, buckets, s, upFlags, pick) => {
      const mapper = build(hosts, buckets, s);
      const healthy = hosts.filter((_, i) => upFlags[i]);
      if (healthy.length === 0) return;
      const changed = healthy[pick % healthy.length]!;
      const before = mapper.owners(names(healthy));
      const after = mapper.owners(names(healthy.filter((h) => h !== changed)));
      assert.equal(collateralMoves(before, after, changed.name), 0);
      for (let b = 0; b < buckets; b++) if (before[b] !== changed.name) assert.equal(after[b], before[b]);
      assert.deepEqual(mapper.owners(names(healthy)), before);
    }),
    { numRuns: 150 },
  );
});

test('the same hosts in any order give the identical mapping', () => {
  fc.assert(
    fc.property(universe.chain((hosts) => fc.tuple(fc.constant(hosts), fc.shuffledSubarray(hosts, { minLength: hosts.length }))), bucketCount, seed, ([hosts, shuffled], buckets, s) => {
      const all = names(hosts);
      assert.deepEqual(build(shuffled, buckets, s).owners(all), build(hosts, buckets, s).owners(all));
    }),
    { numRuns: 100 },
  );
});

test('all up and any one host down: every host within one bucket of its weighted share', () => {
  fc.assert(
    fc.property(universe, bucketCount, seed, (hosts, buckets, s) => {
      const mapper = build(hosts, buckets, s);
      assert.ok(balanceOf(mapper.owners(names(hosts)), hosts).maxDeviation < 1);
      if (hosts.length < 2) return;
      for (const down of hosts) {
        const rest = hosts.filter((h) => h !== down);
        const balance = balanceOf(mapper.owners(names(rest)), rest);
        assert.ok(balance.maxDeviation < 1, `${down.name} down: deviation ${balance.maxDeviation}`);
      }
    }),
    { numRuns: 100 },
  );
});

test('no healthy host leaves every bucket without an owner', () => {
  const mapper = build([{ name: 'lb1', weight: 1 }, { name: 'lb2', weight: 1 }], 16, 0);
  assert.deepEqual(mapper.owners(new Set()), new Array(16).fill(null));
});

test('every algorithm gives each bucket a healthy owner and is deterministic', () => {
  fc.assert(
    fc.property(universe, bucketCount, seed, fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }), (hosts, buckets, s, upFlags) => {
      const healthy = names(hosts.filter((_, i) => upFlags[i]));
      for (const algorithm of ALGORITHMS) {
        const owners = algorithm.build({ hosts, buckets, seed: s }).owners(healthy);
        assert.equal(owners.length, buckets);
        for (const owner of owners) assert.ok(healthy.size === 0 ? owner === null : owner !== null && healthy.has(owner), `${algorithm.name}: ${owner}`);
        assert.equal(movedBuckets(owners, algorithm.build({ hosts, buckets, seed: s }).owners(healthy)), 0);
      }
    }),
    { numRuns: 40 },
  );
});

test('wide universes (16 to 70 hosts): balance all up and one down, and a host down moves only its buckets', () => {
  const wide = fc.uniqueArray(fc.record({ name: hostName, weight: fc.integer({ min: 1, max: 4 }) }), { minLength: 16, maxLength: 70, selector: (h) => h.name });
  fc.assert(
    fc.property(wide, fc.constantFrom(256, 512, 1024), seed, fc.nat(), (hosts, buckets, s, pick) => {
      fc.pre(hosts.length <= buckets / 4);
      const mapper = build(hosts, buckets, s);
      const all = mapper.owners(names(hosts));
      assert.ok(balanceOf(all, hosts).maxDeviation < 1);
      const down = hosts[pick % hosts.length]!;
      const rest = hosts.filter((h) => h !== down);
      const after = mapper.owners(names(rest));
      assert.ok(balanceOf(after, rest).maxDeviation < 1, `${down.name} down`);
      assert.equal(collateralMoves(all, after, down.name), 0);
      assert.deepEqual(mapper.owners(names(hosts)), all);
    }),
    { numRuns: 40 },
  );
});
