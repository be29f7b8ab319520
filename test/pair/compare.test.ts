import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { DrainSource } from '../../src/daemon/drains.ts';
import { DEFAULT_ALGORITHM } from '../../src/mapping/algorithms.ts';
import { mappingDigest, type EffectiveMapping } from '../../src/mapping/digest.ts';
import type { HostSpec } from '../../src/mapping/types.ts';
import { compareSides, describeReason, type Reason } from '../../src/pair/compare.ts';
import { mappingStatus, PeerStatusError, readPairStatus, type PairSide } from '../../src/pair/status.ts';

interface HostView {
  state: 'up' | 'down' | 'unknown';
  drains: DrainSource[];
}

const hostName = fc.stringMatching(/^[a-z][a-z0-9-]{0,5}$/);
const universe = fc.uniqueArray(fc.record({ name: hostName, weight: fc.integer({ min: 1, max: 3 }) }), { minLength: 1, maxLength: 8, selector: (h) => h.name });
const hostView: fc.Arbitrary<HostView> = fc.record({
  state: fc.constantFrom('up', 'up', 'up', 'down', 'unknown'),
  drains: fc.constantFrom<DrainSource[]>([], [], [], ['config'], ['runtime'], ['config', 'runtime']),
});
/** A config universe and two firewalls' views of it. */
const pair = universe.chain((hosts) =>
  fc.record({
    hosts: fc.constant(hosts),
    buckets: fc.constantFrom(16, 64, 256),
    seed: fc.nat({ max: 0xffff_ffff }),
    here: fc.array(hostView, { minLength: hosts.length, maxLength: hosts.length }),
    peer: fc.array(hostView, { minLength: hosts.length, maxLength: hosts.length }),
  }),
);

const eligible = (v: HostView) => v.state !== 'down' && v.drains.length === 0;

/** A side as a daemon in line with its view reports it (policy fallthrough when no host is eligible). */
function side(hosts: readonly HostSpec[], buckets: number, seed: number, views: readonly HostView[]): PairSide {
  const up = new Set(hosts.filter((_, i) => eligible(views[i]!)).map((h) => h.name));
  const owners = up.size > 0 ? DEFAULT_ALGORITHM.build({ hosts, buckets, seed }).owners(up) : new Array<null>(buckets).fill(null);
  const mapping: EffectiveMapping = { buckets, seed, partition: { kind: 'prefix', inetPrefix: 16, inet6Prefix: 19 }, owners };
  return { digest: mappingDigest(mapping), mapping, hosts: hosts.map((h, i) => ({ name: h.name, weight: h.weight, state: views[i]!.state, drains: views[i]!.drains })) };
}

const hostsOf = (r: Reason) => (r.kind === 'health' || r.kind === 'drain' ? r.host : undefined);

test('with the same config: exactly the buckets whose owners differ are named, each with the host seen differently that decides it', () => {
  fc.assert(
    fc.property(pair, ({ hosts, buckets, seed, here, peer }) => {
      const a = side(hosts, buckets, seed, here);
      const b = side(hosts, buckets, seed, peer);
      const c = compareSides(a, b);
      const differing = Array.from({ length: buckets }, (_, i) => i).filter((i) => a.mapping.owners[i] !== b.mapping.owners[i]);
      assert.deepEqual(c.buckets.map((d) => d.bucket), differing);
      assert.equal(c.equal, differing.length === 0);
      assert.equal(c.equal, a.digest === b.digest);
      assert.deepEqual(c.config, []);
      for (const d of c.buckets) {
        assert.ok(d.reasons.length > 0);
        for (const r of d.reasons) {
          assert.ok(r.kind === 'health' || r.kind === 'drain', `bucket ${d.bucket}: ${describeReason(r)}`);
          const i = hosts.findIndex((h) => h.name === hostsOf(r));
          assert.notEqual(eligible(here[i]!), eligible(peer[i]!), `${hostsOf(r)} decides only if its eligibility differs`);
          if (d.here !== '' && d.peer !== '') assert.ok([d.here, d.peer].includes(hostsOf(r)!), 'the reason is one of the two owners');
        }
      }
      assert.deepEqual(compareSides(b, a).buckets.map((d) => d.bucket), differing, 'symmetric');
    }),
    { numRuns: 300 },
  );
});

test('a bucket that differs although both see the same is a filter not yet in line, and an unknown owner is named', () => {
  fc.assert(
    fc.property(pair, fc.nat(), ({ hosts, buckets, seed, here }, pick) => {
      const a = side(hosts, buckets, seed, here);
      const owners = [...a.mapping.owners];
      const bucket = pick % buckets;
      const other = hosts.find((h) => h.name !== owners[bucket])?.name;
      if (other === undefined) return;
      owners[bucket] = other;
      const drifted: PairSide = { ...a, mapping: { ...a.mapping, owners } };
      const c = compareSides(a, { ...drifted, digest: mappingDigest(drifted.mapping) });
      assert.deepEqual(c.buckets.map((d) => [d.bucket, d.reasons.map((r) => r.kind)]), [[bucket, ['pending']]]);
      owners[bucket] = undefined;
      const unknown = compareSides(a, { ...drifted, digest: mappingDigest(drifted.mapping) });
      assert.deepEqual(unknown.buckets.map((d) => [d.bucket, d.peer, d.reasons.map((r) => r.kind)]), [[bucket, null, ['unknown']]]);
    }),
    { numRuns: 200 },
  );
});

test('config differences are named: a weight, a host, B, the seed; B or seed make buckets incomparable', () => {
  const hosts = [{ name: 'lb1', weight: 1 }, { name: 'lb2', weight: 1 }, { name: 'lb3', weight: 1 }];
  const all: HostView[] = hosts.map(() => ({ state: 'up', drains: [] }));
  const a = side(hosts, 64, 7, all);
  const heavier = compareSides(a, side([...hosts.slice(0, 2), { name: 'lb3', weight: 2 }], 64, 7, all));
  assert.deepEqual(heavier.config, ['weight of lb3: 1 here, 2 on the peer']);
  assert.equal(heavier.equal, false);
  assert.ok(heavier.buckets.length > 0 && heavier.buckets.every((d) => d.reasons.some((r) => r.kind === 'config')));
  const extra = compareSides(a, side([...hosts, { name: 'lb4', weight: 1 }], 64, 7, [...all, { state: 'down', drains: [] }]));
  assert.deepEqual([extra.config, extra.equal], [['hosts only on the peer: lb4'], false]);
  assert.ok(extra.buckets.every((d) => d.reasons.some((r) => r.kind === 'config')), 'a host in the config shapes every list, even while down');
  for (const other of [side(hosts, 128, 7, all), side(hosts, 64, 8, all)]) {
    const c = compareSides(a, other);
    assert.deepEqual([c.comparable, c.equal, c.buckets.length, c.config.length], [false, false, 0, 1]);
  }
});

test('a status JSON reads back to the side it came from; anything else is refused with code peer-status', () => {
  const hosts = [{ name: 'lb1', weight: 1 }, { name: 'lb2', weight: 2 }];
  const s = side(hosts, 16, 3, [{ state: 'up', drains: ['config'] }, { state: 'down', drains: [] }]);
  const owners = [...s.mapping.owners];
  owners[3] = undefined;
  const mapping = { ...s.mapping, owners };
  const json = {
    mapping: mappingStatus(mapping, mappingDigest(mapping)),
    hosts: s.hosts.map((h) => ({ ...h, drains: h.drains.map((source) => ({ source, since: '2026-11-30T01:00:00.000Z' })), checks: [] })),
  };
  assert.deepEqual(readPairStatus(JSON.stringify(json), 'peer.json'), { ...s, digest: mappingDigest(mapping), mapping });
  const refused = (text: string) => assert.throws(() => readPairStatus(text, 'peer.json'), (e: unknown) => e instanceof PeerStatusError && e.code === 'peer-status');
  refused('not json');
  refused('[]');
  refused(JSON.stringify({ hosts: [] }));
  refused(JSON.stringify({ ...json, mapping: { ...json.mapping, owners: json.mapping.owners.slice(1) } }));
  refused(JSON.stringify({ ...json, mapping: { ...json.mapping, digest: 'x' } }));
  refused(JSON.stringify({ ...json, hosts: [{ name: 'lb1' }] }));
  assert.throws(() => readPairStatus('{"anchors": {}}', 'plan.json'), {
    message: 'plan.json is not a pfsteer status JSON (the output of `pfsteer status --json`): it has no `mapping` (a pfsteer without the mapping digest, or another file)',
  });
});
