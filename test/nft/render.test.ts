import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { BucketAssignment } from '../../src/drivers/driver.ts';
import { decodeBuckets } from '../../src/nft/decode.ts';
import { nftIdentifier, nftLayoutOf } from '../../src/nft/layout.ts';
import { emptyListing, parseListing, type NftListing } from '../../src/nft/parse.ts';
import { renderAssignments, renderSetup, targetOf } from '../../src/nft/render.ts';
import { nftTestConfig } from './config.ts';

const config = nftTestConfig({ table: 'pfsteer', prefix: [] });
const layout = nftLayoutOf(config);

function assignmentOf(bucket: number, host: string | null): BucketAssignment {
  if (host === null) return { bucket, host: null, routes: [] };
  const h = config.hosts.find((x) => x.name === host)!;
  return {
    bucket,
    host,
    routes: Object.entries(h.targets).map(([service, t]) => ({ service, address: t.address, ...(t.port === undefined ? {} : { port: t.port }) })),
  };
}

/** What the kernel would hold after applying `assignments` to an empty table. */
function listingOf(assignments: readonly BucketAssignment[]): NftListing {
  const listing = emptyListing();
  listing.tableFound = true;
  listing.chainFound = true;
  for (const s of layout.services) {
    const elements = new Map();
    for (const a of assignments) {
      const t = a.host === null ? undefined : targetOf(s, a);
      if (t) elements.set(a.bucket, t);
    }
    listing.maps.set(s.map, { name: s.map, type: s.family === 4 ? 'mark : ipv4_addr . inet_service' : 'mark : ipv6_addr', elements });
    listing.rules.push({ map: s.map, family: s.family, mod: layout.buckets, seed: layout.seed });
  }
  return listing;
}

test('setup batch: golden', () => {
  assert.equal(
    renderSetup(layout),
    `add table inet pfsteer
add chain inet pfsteer steer { type nat hook prerouting priority dstnat; policy accept; }
flush chain inet pfsteer steer
add map inet pfsteer svc_web { type mark : ipv4_addr . inet_service; }
add map inet pfsteer svc_web6 { type mark : ipv6_addr; }
add rule inet pfsteer steer iifname "r0" ip daddr 198.51.100.10 tcp dport 80 ct mark set jhash ip saddr mod 16 seed 0x00001234 dnat ip to ct mark map @svc_web
add rule inet pfsteer steer iifname "r0" ip6 daddr 2001:db8:ff::10 tcp dport { 80, 443 } ct mark set jhash ip6 saddr mod 16 seed 0x00001234 dnat ip6 to ct mark map @svc_web6
`,
  );
});

test('element batch: golden, replacing a held element deletes it first', () => {
  const current = listingOf([assignmentOf(3, 'lb1')]);
  assert.equal(
    renderAssignments(layout, [assignmentOf(3, 'lb2'), assignmentOf(4, 'lb3')], current),
    `delete element inet pfsteer svc_web { 3 }
add element inet pfsteer svc_web { 3 : 10.0.2.2 . 8080 }
add element inet pfsteer svc_web { 4 : 10.0.3.2 . 8080 }
delete element inet pfsteer svc_web6 { 3 }
add element inet pfsteer svc_web6 { 3 : 2001:db8:2::2 }
add element inet pfsteer svc_web6 { 4 : 2001:db8:3::2 }
`,
  );
});

test('identifiers escape - and _ so distinct names never collide', () => {
  fc.assert(
    fc.property(fc.stringMatching(/^[a-z0-9][a-z0-9_.-]{0,8}$/), fc.stringMatching(/^[a-z0-9][a-z0-9_.-]{0,8}$/), (a, b) => {
      const ia = nftIdentifier('svc', a);
      assert.match(ia, /^[A-Za-z_][A-Za-z0-9_.]*$/);
      assert.equal(ia === nftIdentifier('svc', b), a === b);
    }),
  );
});

const hostOrNull = fc.constantFrom('lb1', 'lb2', 'lb3', null);
const table = fc.array(hostOrNull, { minLength: 16, maxLength: 16 });

test('decode(what render leaves) gives back the assignments; re-rendering the same is empty', () => {
  fc.assert(
    fc.property(table, (hosts) => {
      const assignments = hosts.map((h, b) => assignmentOf(b, h));
      const listing = listingOf(assignments);
      const observed = decodeBuckets(layout, listing, config.hosts);
      assert.deepEqual(observed.map((o) => o.problems), hosts.map(() => []));
      assert.deepEqual(observed.map((o) => o.assignment?.host), hosts);
      assert.equal(renderAssignments(layout, assignments, listing), '');
    }),
  );
});

test('from any held table, the batch touches exactly the buckets that differ', () => {
  fc.assert(
    fc.property(table, table, (before, after) => {
      const text = renderAssignments(layout, after.map((h, b) => assignmentOf(b, h)), listingOf(before.map((h, b) => assignmentOf(b, h))));
      const touched = new Set([...text.matchAll(/\{ (\d+)/g)].map((m) => Number(m[1])));
      const differ = new Set(after.flatMap((h, b) => (h === before[b] ? [] : [b])));
      assert.deepEqual([...touched].sort((x, y) => x - y), [...differ].sort((x, y) => x - y));
    }),
  );
});

test('decode names every problem: missing target, foreign address, split hosts, wrong seed', () => {
  const listing = listingOf([assignmentOf(0, 'lb1'), assignmentOf(1, 'lb1'), assignmentOf(2, 'lb1')]);
  const web = listing.maps.get('svc_web')!;
  const web6 = listing.maps.get('svc_web6')!;
  web6.elements.delete(0);
  web.elements.set(1, { address: { family: 4, bytes: new Uint8Array([10, 9, 9, 9]) }, port: 8080 });
  web.elements.set(2, { address: config.hosts[1]!.targets.web!.address, port: 8080 });
  const observed = decodeBuckets(layout, listing, config.hosts);
  assert.match(observed[0]!.problems.join(';'), /service web6: no target/);
  assert.match(observed[1]!.problems.join(';'), /target 10\.9\.9\.9 port 8080 is no configured host's/);
  assert.match(observed[2]!.problems.join(';'), /services point at different hosts: lb1, lb2/);
  assert.equal(observed[2]!.assignment, undefined);
  listing.rules[0]!.seed = 1;
  assert.match(decodeBuckets(layout, listing, config.hosts)[5]!.problems.join(';'), /seed 1, expected 4660/);
});

test('parse reads nft 1.0.6 JSON (captured) and rejects what is not nft JSON', () => {
  const json = JSON.stringify({
    nftables: [
      { metainfo: { version: '1.0.6', json_schema_version: 1 } },
      { table: { family: 'inet', name: 'pfsteer', handle: 2 } },
      { map: { family: 'inet', name: 'svc_web', table: 'pfsteer', type: 'mark', handle: 1, map: 'ipv4_addr . inet_service', elem: [[3, { concat: ['10.0.1.2', 8080] }]] } },
      { map: { family: 'inet', name: 'svc_web6', table: 'pfsteer', type: 'mark', handle: 2, map: 'ipv6_addr', elem: [[3, '2001:db8:1::2']] } },
      { chain: { family: 'inet', table: 'pfsteer', name: 'steer', handle: 4, type: 'nat', hook: 'prerouting', prio: -100, policy: 'accept' } },
      {
        rule: {
          family: 'inet', table: 'pfsteer', chain: 'steer', handle: 6,
          expr: [
            { mangle: { key: { ct: { key: 'mark' } }, value: { jhash: { mod: 16, seed: 4660, expr: { payload: { protocol: 'ip', field: 'saddr' } } } } } },
            { dnat: { family: 'ip', addr: { map: { key: { ct: { key: 'mark' } }, data: '@svc_web' } } } },
          ],
        },
      },
    ],
  });
  const listing = parseListing(json, 'pfsteer', 'steer');
  assert.deepEqual(listing.rules, [{ mod: 16, seed: 4660, family: 4, map: 'svc_web' }]);
  assert.equal(listing.maps.get('svc_web')!.type, 'mark : ipv4_addr . inet_service');
  assert.equal(listing.maps.get('svc_web')!.elements.get(3)!.port, 8080);
  const observed = decodeBuckets(layout, listing, config.hosts);
  assert.equal(observed[3]!.assignment?.host, 'lb1');
  assert.match(observed[3]!.problems.join(';'), /rule for service web6 missing/);
  assert.throws(() => parseListing('table inet x {', 'pfsteer', 'steer'), { code: 'nft-parse' });
  assert.throws(() => parseListing('{"nftables":[{"map":{"family":"inet","table":"pfsteer","name":"m","elem":[["x","10.0.0.1"]]}}]}', 'pfsteer', 'steer'), { code: 'nft-parse' });
});

test('layout refuses a multi-port service where some hosts give a port and some do not', () => {
  const mixed = {
    ...config,
    services: config.services.map((s) => (s.name === 'web' ? { ...s, ports: [80, 443] } : s)),
    hosts: config.hosts.map((h) => (h.name === 'lb2' ? { ...h, targets: { ...h.targets, web: { address: h.targets.web!.address } } } : h)),
  };
  assert.throws(() => nftLayoutOf(mixed), { code: 'nft-mixed-ports' });
});
