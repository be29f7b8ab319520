/**
 * Packets follow the nft driver's map: the driver is steered directly here (the scenarios that
 * run the daemon use the same testbed), and every assertion is on what the client received.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Config } from '../../src/config/model.ts';
import type { BucketAssignment } from '../../src/drivers/driver.ts';
import { parseAddress } from '../../src/net/address.ts';
import { NftDriver } from '../../src/nft/driver.ts';
import { nftBucketOf } from '../../src/nft/jhash.ts';
import { preference } from '../../src/mapping/preference.ts';
import { Testbed, v4Clients, v6Clients, waitFor, web } from './harness.ts';

const B = 64;
let bed: Testbed;
let config: Config;
let driver: NftDriver;

before(async () => {
  bed = await Testbed.create('st');
  config = bed.config({ buckets: B });
  driver = new NftDriver(config);
  mapper = preference.build({ hosts: config.hosts.map((h) => ({ name: h.name, weight: h.weight })), buckets: B, seed: config.buckets.seed });
  base = tableWithout();
});

after(() => bed?.destroy());

type Table = string[];

function assignments(table: Table): BucketAssignment[] {
  return table.map((host, bucket) => {
    const h = config.hosts.find((x) => x.name === host)!;
    return { bucket, host, routes: Object.entries(h.targets).map(([service, t]) => ({ service, address: t.address, ...(t.port === undefined ? {} : { port: t.port }) })) };
  });
}

async function steer(table: Table): Promise<void> {
  const results = await driver.apply(assignments(table));
  assert.ok(results.every((r) => r.ok), String(results.find((r) => !r.ok)?.error));
}

function predicted(table: Table, src: string): string {
  return table[nftBucketOf(parseAddress(src)!, B, config.buckets.seed)]!;
}

const HOSTS = ['lb1', 'lb2', 'lb3'];
let mapper: ReturnType<typeof preference.build>;
/** The default mapping's table with these hosts out; every bucket has an owner while one is up. */
function tableWithout(...out: string[]): Table {
  return mapper.owners(new Set(HOSTS.filter((h) => !out.includes(h)))) as Table;
}
let base: Table;
const clients = [...v4Clients(400, 1), ...v6Clients(120)];

/** Host each client reached; throws listing failures. */
async function reach(list: string[]): Promise<Map<string, string>> {
  const results = await bed.requests(list.map((s) => web(s)));
  const failed = results.filter((r) => r.body === undefined);
  assert.deepEqual(failed, [], 'every request answered');
  return new Map(results.map((r) => [r.src, r.body!]));
}

function moved(before: Map<string, string>, after: Map<string, string>): string[] {
  return [...before].filter(([src, host]) => after.get(src) !== host).map(([src]) => src);
}

test('every IPv4 and IPv6 client reaches the host its jhash bucket maps to', async () => {
  await steer(base);
  const got = await reach(clients);
  const wrong = clients.filter((c) => got.get(c) !== predicted(base, c));
  assert.deepEqual(wrong, []);
  // All three hosts carry clients of both families.
  for (const h of ['lb1', 'lb2', 'lb3']) {
    assert.ok(clients.some((c) => c.includes(':') && got.get(c) === h));
    assert.ok(clients.some((c) => !c.includes(':') && got.get(c) === h));
  }
});

test("lb2 signals down: only lb2's clients move, an open request to lb2 completes, its state is counted", async () => {
  await steer(base);
  const before = await reach(clients);
  const lb2 = bed.backends[1]!;
  const longClient = clients.find((c) => !c.includes(':') && before.get(c) === 'lb2')!;
  const long = bed.startRequests([web(longClient, '/slow?ms=1500', 5000)]);
  await waitFor('the long request to reach lb2', 2000, async () => (await driver.countStates([parseAddress(lb2.v4)!])) > 0);
  assert.match(await bed.admin(lb2, 'disable server signal/switch'), /^\s*$/);
  assert.equal(await bed.monitor(lb2), 503);
  await steer(tableWithout('lb2'));
  const afterMove = await reach(clients);
  const movedClients = moved(before, afterMove);
  assert.ok(movedClients.length > 0);
  assert.deepEqual(movedClients.filter((c) => before.get(c) !== 'lb2'), [], 'no client of lb1 or lb3 moved');
  assert.ok([...afterMove.values()].every((h) => h !== 'lb2'));
  const [longResult] = await long;
  assert.equal(longResult!.body, 'lb2', `long request: ${JSON.stringify(longResult)}`);
  await bed.admin(lb2, 'enable server signal/switch');
  assert.equal(await bed.monitor(lb2), 200);
  await steer(base);
  assert.deepEqual([...(await reach(clients))], [...before], 'lb2 coming back restores every client');
});

test('drain lb1: new connections avoid it, the open one completes, the live state count reaches 0, undrain restores the map', async () => {
  await steer(base);
  const before = await reach(clients);
  const observedBefore = await driver.observe();
  const lb1 = parseAddress(bed.backends[0]!.v4)!;
  const longClient = clients.find((c) => !c.includes(':') && before.get(c) === 'lb1')!;
  const long = bed.startRequests([web(longClient, '/slow?ms=1500', 5000)]);
  await waitFor('the long request to reach lb1', 2000, async () => (await driver.countStates([lb1])) > 0);
  await steer(tableWithout('lb1'));
  const during = await reach(clients);
  assert.ok([...during.values()].every((h) => h !== 'lb1'));
  assert.equal((await long)[0]!.body, 'lb1');
  await waitFor('no live flow to lb1', 3000, async () => (await driver.countStates([lb1])) === 0);
  await steer(base);
  assert.deepEqual(await driver.observe(), observedBefore);
  assert.deepEqual([...(await reach(clients))], [...before]);
});

test('lb3 vanishes: after its buckets move and its states are killed, an established client flow is reset, not left hanging', async () => {
  await steer(base);
  const before = await reach(clients);
  const lb3 = bed.backends[2]!;
  const lb3addr = parseAddress(lb3.v4)!;
  const longClient = clients.find((c) => !c.includes(':') && before.get(c) === 'lb3')!;
  const long = bed.startRequests([{ ...web(longClient, '/slow?ms=20000', 15000), keepalive: true }]);
  await waitFor('the long request to reach lb3', 2000, async () => (await driver.countStates([lb3addr])) > 0);
  await bed.cut(lb3);
  await steer(tableWithout('lb3'));
  assert.ok((await driver.killStates(lb3addr)) >= 1);
  const [result] = await long;
  // The next keepalive probe meets the bucket's new host, which knows no such connection.
  assert.equal(result!.error, 'ECONNRESET', JSON.stringify(result));
  assert.ok(result!.ms < 6000, `reset after ${result!.ms} ms`);
  assert.equal(await driver.countStates([lb3addr]), 0);
  await bed.lab.exec(bed.router, ['ip', 'link', 'set', `r${lb3.index}`, 'up']);
});

test('re-applying the rules (what a daemon restart or reload does) under a steady stream of new connections fails none', async () => {
  await steer(base);
  const stream = bed.requests(Array.from({ length: 6 }, () => clients.slice(0, 150)).flat().map((s) => web(s)), 8);
  for (let i = 0; i < 10; i++) {
    // A fresh driver re-renders table, chain and rules in one batch, as on start and SIGHUP.
    const fresh = new NftDriver(bed.config({ buckets: B }));
    assert.ok((await fresh.apply(assignments(base))).every((r) => r.ok));
    await new Promise((r) => setTimeout(r, 50));
  }
  const results = await stream;
  assert.deepEqual(results.filter((r) => r.body === undefined), []);
  assert.ok(results.every((r) => r.body === predicted(base, r.src)));
});

test('two routers given the same config and assignments hold identical maps (a CARP pair)', async () => {
  const second = await bed.lab.netns('r2');
  const other = new NftDriver(bed.config({ buckets: B, router: second }));
  await steer(base);
  assert.ok((await other.apply(assignments(base))).every((r) => r.ok));
  const strip = (t: string) => JSON.stringify(JSON.parse(t), (k, v) => (k === 'handle' ? undefined : v));
  const list = (ns: string) => bed.lab.exec(ns, ['nft', '-j', 'list', 'table', 'inet', 'pfsteer']);
  assert.equal(strip(await list(second)), strip(await list(bed.router)));
});

test("lb3's haproxy killed: its clients are refused until its buckets move, then every client is answered by lb1 or lb2", async () => {
  await steer(base);
  const lb3 = bed.backends[2]!;
  await bed.killHaproxy(lb3);
  assert.equal(await bed.monitor(lb3), 0);
  const lb3Clients = clients.filter((c) => predicted(base, c) === 'lb3');
  const refused = await bed.requests(lb3Clients.slice(0, 40).map((s) => web(s)));
  assert.deepEqual([...new Set(refused.map((r) => r.error))], ['ECONNREFUSED']);
  await steer(tableWithout('lb3'));
  const got = await reach(clients);
  assert.deepEqual([...new Set(lb3Clients.map((c) => got.get(c)))].sort(), ['lb1', 'lb2']);
});
