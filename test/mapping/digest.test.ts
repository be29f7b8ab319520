import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DEFAULT_ALGORITHM } from '../../src/mapping/algorithms.ts';
import { mappingDigest, type EffectiveMapping, type PartitionSpec } from '../../src/mapping/digest.ts';

const hostName = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,7}$/);
const universe = fc.uniqueArray(fc.record({ name: hostName, weight: fc.integer({ min: 1, max: 4 }) }), { minLength: 1, maxLength: 10, selector: (h) => h.name });
const partition: fc.Arbitrary<PartitionSpec> = fc.oneof(
  fc.record({ kind: fc.constant('prefix' as const), inetPrefix: fc.integer({ min: 1, max: 24 }), inet6Prefix: fc.integer({ min: 3, max: 32 }) }),
  fc.constant({ kind: 'jhash' as const }),
);
/** Any effective mapping, unknown and empty buckets included. */
const mapping: fc.Arbitrary<EffectiveMapping> = fc
  .record({ exponent: fc.integer({ min: 4, max: 8 }), seed: fc.nat({ max: 0xffff_ffff }), partition, hosts: fc.uniqueArray(hostName, { minLength: 1, maxLength: 6 }) })
  .chain(({ exponent, seed, partition: p, hosts }) =>
    fc
      .array(fc.oneof(fc.constantFrom(...hosts), fc.constant(null), fc.constant(undefined)), { minLength: 2 ** exponent, maxLength: 2 ** exponent })
      .map((owners) => ({ buckets: 2 ** exponent, seed, partition: p, owners })),
  );

/** One change of any part that makes the mapping a different one. */
function mutate(m: EffectiveMapping, what: number, bucket: number, host: string): EffectiveMapping {
  const owners = [...m.owners];
  switch (what % 5) {
    case 0: {
      const b = bucket % m.buckets;
      const current = owners[b];
      owners[b] = current === host ? (current === null ? undefined : null) : host;
      return { ...m, owners };
    }
    case 1:
      return { ...m, seed: (m.seed + 1 + bucket) % 0x1_0000_0000 };
    case 2:
      return { ...m, buckets: m.buckets * 2, owners: [...owners, ...owners] };
    case 3:
      return { ...m, partition: m.partition.kind === 'jhash' ? { kind: 'prefix', inetPrefix: 16, inet6Prefix: 19 } : { kind: 'jhash' } };
    default:
      return m.partition.kind === 'prefix' ? { ...m, partition: { ...m.partition, inetPrefix: m.partition.inetPrefix === 24 ? 23 : m.partition.inetPrefix + 1 } } : { ...m, seed: m.seed ^ 1 };
  }
}

test('a digest is 16 hex digits and a pure function of the mapping', () => {
  fc.assert(
    fc.property(mapping, (m) => {
      const digest = mappingDigest(m);
      assert.match(digest, /^[0-9a-f]{16}$/);
      assert.equal(mappingDigest(structuredClone({ ...m, owners: [...m.owners] })), digest);
    }),
    { numRuns: 300 },
  );
});

test('different mappings give different digests: one owner, the seed, B or the partition changed', () => {
  fc.assert(
    fc.property(mapping, fc.nat(), fc.nat(), hostName, (m, what, bucket, host) => {
      assert.notEqual(mappingDigest(mutate(m, what, bucket, host)), mappingDigest(m));
    }),
    { numRuns: 3000 },
  );
});

test('an unknown bucket, an empty bucket and a host named like either are three different owners', () => {
  const base = { buckets: 16, seed: 0, partition: { kind: 'jhash' } as const };
  const digests = [undefined, null, 'null', '0', ''].map((owner) => mappingDigest({ ...base, owners: new Array(16).fill(owner) }));
  assert.equal(new Set(digests).size, digests.length);
});

test('over many random mappings, digests are equal exactly when the mappings are', () => {
  const seen = new Map<string, string>();
  fc.assert(
    fc.property(mapping, (m) => {
      const key = JSON.stringify([m.buckets, m.seed, m.partition, m.owners.map((o) => (o === undefined ? 0 : o))]);
      const digest = mappingDigest(m);
      const earlier = seen.get(digest);
      if (earlier !== undefined) assert.equal(earlier, key, `two mappings share the digest ${digest}`);
      seen.set(digest, key);
    }),
    { numRuns: 5000 },
  );
  assert.ok(seen.size > 1000);
});

test('the same hosts in any order, and any healthy subset, give the same mapping and so the same digest', () => {
  fc.assert(
    fc.property(
      universe.chain((hosts) => fc.tuple(fc.constant(hosts), fc.shuffledSubarray(hosts, { minLength: hosts.length }), fc.subarray(hosts))),
      fc.constantFrom(16, 64, 256),
      fc.nat({ max: 0xffff_ffff }),
      ([hosts, shuffled, healthy], buckets, seed) => {
        const up = new Set(healthy.map((h) => h.name));
        const digestOf = (list: typeof hosts) => mappingDigest({ buckets, seed, partition: { kind: 'prefix', inetPrefix: 16, inet6Prefix: 19 }, owners: DEFAULT_ALGORITHM.build({ hosts: list, buckets, seed }).owners(up) });
        assert.equal(digestOf(shuffled), digestOf(hosts));
      },
    ),
    { numRuns: 200 },
  );
});
