/** The nft driver against real nft in a throwaway network namespace. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import type { Config } from '../../src/config/model.ts';
import type { BucketAssignment } from '../../src/drivers/driver.ts';
import { NftDriver } from '../../src/nft/driver.ts';
import { Lab, requireNetns } from '../e2e/netns.ts';
import { nftTestConfig } from './config.ts';

const lab = new Lab('dr');
let ns = '';
let config: Config;

before(async () => {
  await requireNetns();
  ns = await lab.netns('n');
  config = nftTestConfig({ table: 'pfsteer', prefix: ['ip', 'netns', 'exec', ns] });
});

after(() => lab.destroy());

function assignmentOf(bucket: number, host: string | null): BucketAssignment {
  if (host === null) return { bucket, host: null, routes: [] };
  const h = config.hosts.find((x) => x.name === host)!;
  return {
    bucket,
    host,
    routes: Object.entries(h.targets).map(([service, t]) => ({ service, address: t.address, ...(t.port === undefined ? {} : { port: t.port }) })),
  };
}

const all = (hosts: (string | null)[]) => hosts.map((h, b) => assignmentOf(b, h));

test('apply then observe gives back every bucket, across any sequence of tables', async () => {
  const driver = new NftDriver(config);
  await fc.assert(
    fc.asyncProperty(fc.array(fc.constantFrom('lb1', 'lb2', 'lb3', null), { minLength: 16, maxLength: 16 }), async (hosts) => {
      const results = await driver.apply(all(hosts));
      assert.ok(results.every((r) => r.ok), String(results.find((r) => !r.ok)?.error));
      const observed = await driver.observe();
      assert.deepEqual(observed.map((o) => o.problems), hosts.map(() => []));
      assert.deepEqual(observed.map((o) => o.assignment?.host), hosts);
    }),
    { numRuns: 12 },
  );
});

test('a restarted driver keeps every element; a new seed rewrites the rules but moves no element', async () => {
  const hosts = ['lb1', 'lb2', 'lb3', 'lb1', 'lb2', 'lb3', 'lb1', 'lb2', 'lb3', 'lb1', 'lb2', 'lb3', 'lb1', 'lb2', 'lb3', 'lb1'];
  await new NftDriver(config).apply(all(hosts));
  const again = new NftDriver(config);
  assert.ok((await again.apply([assignmentOf(0, 'lb1')])).every((r) => r.ok));
  assert.deepEqual((await again.observe()).map((o) => o.assignment?.host), hosts);
  const reseeded = nftTestConfig({ table: 'pfsteer', prefix: ['ip', 'netns', 'exec', ns], seed: 99 });
  const before = (await new NftDriver(reseeded).observe())[0]!.problems;
  assert.ok(before.some((p) => /seed 4660, expected 99/.test(p)), before.join(';'));
  const d = new NftDriver(reseeded);
  assert.ok((await d.apply([assignmentOf(0, 'lb1')])).every((r) => r.ok));
  const observed = await d.observe();
  assert.deepEqual(observed.map((o) => o.problems), hosts.map(() => []));
  assert.deepEqual(observed.map((o) => o.assignment?.host), hosts);
  const rules = await lab.exec(ns, ['nft', 'list', 'chain', 'inet', 'pfsteer', 'steer']);
  assert.equal((rules.match(/seed 0x0*63 /g) ?? []).length, 2);
});

test('a failed batch leaves the old map whole', async () => {
  const driver = new NftDriver(config);
  await driver.apply(all(Array(16).fill('lb1')));
  // A valid change followed by a conflicting add: the kernel must reject the lot.
  const r = await lab.exec(ns, ['sh', '-c', `printf '%s\\n' 'delete element inet pfsteer svc_web { 1 }' 'add element inet pfsteer svc_web { 1 : 10.0.2.2 . 8080 }' 'add element inet pfsteer svc_web { 2 : 10.0.3.2 . 8080 }' | nft -f - 2>&1; echo rc=$?`]);
  assert.match(r, /File exists/);
  assert.match(r, /rc=1/);
  assert.deepEqual((await driver.observe()).map((o) => o.assignment?.host), Array(16).fill('lb1'));
});

test('a driver that cannot run nft reports every bucket failed with the command error', async () => {
  const broken = { ...config, nft: { ...config.nft, nft: '/nonexistent/nft' } };
  const results = await new NftDriver(broken).apply([assignmentOf(0, 'lb2'), assignmentOf(1, 'lb2')]);
  assert.deepEqual(results.map((r) => r.ok), [false, false]);
  assert.equal((results[0]!.error as { code?: string }).code, 'nft-list');
});

test('a bucket count change recreates the maps with the new type and refills what is applied', async () => {
  const bigger = nftTestConfig({ table: 'pfsteer', prefix: ['ip', 'netns', 'exec', ns], buckets: 32 });
  const d = new NftDriver(bigger);
  const hosts = Array.from({ length: 32 }, (_, b) => ['lb1', 'lb2', 'lb3'][b % 3]!);
  config = bigger;
  assert.ok((await d.apply(all(hosts))).every((r) => r.ok));
  const observed = await d.observe();
  assert.deepEqual(observed.map((o) => o.problems), hosts.map(() => []));
  assert.deepEqual(observed.map((o) => o.assignment?.host), hosts);
});

test('concurrent applies are serialised; a flushed ruleset is reported on every bucket and repaired by the next apply', async () => {
  const driver = new NftDriver(config);
  const n = config.buckets.count;
  const tables = [Array(n).fill('lb1'), Array(n).fill('lb2'), Array(n).fill('lb3')];
  const results = await Promise.all(tables.map((t) => driver.apply(all(t))));
  assert.ok(results.flat().every((r) => r.ok));
  assert.deepEqual((await driver.observe()).map((o) => o.assignment?.host), tables[2]);
  await lab.exec(ns, ['nft', 'flush', 'ruleset']);
  const drifted = await driver.observe();
  assert.ok(drifted.every((o) => o.problems.includes('table inet pfsteer missing')));
  assert.ok((await driver.apply(all(tables[0]!))).every((r) => r.ok));
  const repaired = await driver.observe();
  assert.deepEqual(repaired.map((o) => o.problems), tables[0]!.map(() => []));
  assert.deepEqual(repaired.map((o) => o.assignment?.host), tables[0]);
});

test('killStates and countStates on a host with no flows report 0', async () => {
  const driver = new NftDriver(config);
  const addr = config.hosts[0]!.targets.web!.address;
  assert.equal(await driver.killStates(addr), 0);
  assert.equal(await driver.countStates([addr, config.hosts[0]!.targets.web6!.address]), 0);
});

test('a service on a pf-style table matches a set in pfsteer\'s table that the operator fills and pfsteer keeps', async () => {
  const named = nftTestConfig({ table: 'pfsteer_set', prefix: ['ip', 'netns', 'exec', ns], webExternal: '<haproxy-ext>' });
  const driver = new NftDriver(named);
  assert.ok((await driver.apply([assignmentOf(0, 'lb1')])).every((r) => r.ok));
  await lab.exec(ns, ['nft', 'add', 'element', 'inet', 'pfsteer_set', 'ext_haproxy_hext', '{ 198.51.100.0/28 }']);
  assert.ok((await new NftDriver(named).apply([assignmentOf(1, 'lb2')])).every((r) => r.ok));
  const listed = await lab.exec(ns, ['nft', 'list', 'table', 'inet', 'pfsteer_set']);
  assert.match(listed, /ip daddr @ext_haproxy_hext tcp dport 80 ct mark set jhash/);
  assert.match(listed, /198\.51\.100\.0\/28/);
});
