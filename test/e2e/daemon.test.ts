/**
 * The real daemon (`pfsteer run`, driver nft, http checks of each haproxy's monitor-uri) inside
 * the router namespace; every assertion is on what clients received, the control CLI's answers
 * or what conntrack and nft hold.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, test } from 'node:test';
import { execa } from 'execa';
import type { CheckTiming } from '../../src/config/model.ts';
import { parseAddress } from '../../src/net/address.ts';
import { NftDriver } from '../../src/nft/driver.ts';
import { DaemonProcess, pfsteer } from './daemon-process.ts';
import type { ClientRequest } from './client.ts';
import { Testbed, v4Clients, v6Clients, waitFor, web, type Backend } from './harness.ts';

const B = 64;
const TIMING: CheckTiming = { interval: 300, timeout: 200, rise: 2, fall: 2, fastinter: 300, downinter: 300, jitter: 0 };
/** How long a host may take to be judged down and its buckets moved (fall x interval + timeout + 1 s). */
const MOVE_BOUND = TIMING.fall * TIMING.interval + TIMING.timeout + 1000;

let bed: Testbed;
let file: string;
let daemon: DaemonProcess | undefined;
const others: DaemonProcess[] = [];
/** Reads conntrack and the map in the router namespace; it never applies. */
let observer: NftDriver;
let base: Map<string, string>;
const clients = [...v4Clients(300, 1), ...v6Clients(90)];

before(async () => {
  bed = await Testbed.create('dm');
  file = await bed.writeConfig('r', bed.daemonConfig('r', TIMING, { buckets: B }));
  observer = new NftDriver(bed.config({ buckets: B }));
  daemon = await DaemonProcess.start(bed.lab, bed.router, file);
  await waitForStatus(daemon, (s) => s.hosts.every((h) => h.state === 'up'), 'every host up');
  base = await reach(clients);
});

after(async () => {
  // By PID, whatever failed: the daemons first, then the namespaces they live in.
  for (const d of [daemon, ...others]) await d?.stop();
  await bed?.destroy();
});

afterEach((t) => {
  // A failure says more beside what the daemons logged last. (`passed` is Node's, not yet in @types/node.)
  if ((t as { passed?: boolean }).passed === false) for (const d of [daemon, ...others]) if (d) t.diagnostic(`pfsteer run in ${d.ns}, last lines:\n${d.tail(20)}`);
});

interface Status {
  ready: boolean;
  hosts: { name: string; state: string; drained: boolean; buckets: number }[];
}

async function status(d: DaemonProcess): Promise<Status> {
  const r = await pfsteer(d.ns, ['status', '-c', d.file, '--json']);
  assert.equal(r.exitCode, 0, `pfsteer status: ${r.stderr}`);
  return JSON.parse(r.stdout) as Status;
}

async function waitForStatus(d: DaemonProcess, holds: (s: Status) => boolean, what: string, ms = 5000): Promise<void> {
  await waitFor(what, ms, async () => holds(await status(d)));
}

/** Host each client reached; throws listing failures. */
async function reach(list: string[]): Promise<Map<string, string>> {
  const results = await bed.requests(list.map((s) => web(s)));
  assert.deepEqual(results.filter((r) => r.body === undefined), [], 'every request answered');
  return new Map(results.map((r) => [r.src, r.body!]));
}

function clientsOf(map: Map<string, string>, host: string): string[] {
  return [...map].filter(([, h]) => h === host).map(([c]) => c);
}

function longRequest(map: Map<string, string>, host: string, ms: number, extra: Partial<ClientRequest> = {}) {
  const client = clientsOf(map, host).find((c) => !c.includes(':'))!;
  return bed.startRequests([{ ...web(client, `/slow?ms=${ms}`, ms + 5000), ...extra }]);
}

function statesTo(b: Backend): Promise<number> {
  return observer.countStates([parseAddress(b.v4)!]);
}

test('the daemon steers every IPv4 and IPv6 client, and all three hosts carry clients of both families', () => {
  for (const h of ['lb1', 'lb2', 'lb3']) {
    assert.ok(clientsOf(base, h).some((c) => c.includes(':')), `${h} has IPv6 clients`);
    assert.ok(clientsOf(base, h).some((c) => !c.includes(':')), `${h} has IPv4 clients`);
  }
});

test('every client reaches the host `pfsteer inspect --client` names, and inspect finds nothing inconsistent', async () => {
  const full = await pfsteer(bed.router, ['inspect', '-c', file, '--json']);
  assert.equal(full.exitCode, 0, `pfsteer inspect: ${full.stderr}`);
  const report = JSON.parse(full.stdout) as { partition: string; health: string; inconsistencies: string[] };
  assert.deepEqual([report.partition, report.health, report.inconsistencies], ['jhash', 'daemon', []]);
  // One inspect process per client: a sample of each family keeps this within seconds.
  const sample = [...clients.filter((c) => !c.includes(':')).slice(0, 15), ...clients.filter((c) => c.includes(':')).slice(0, 15)];
  for (let i = 0; i < sample.length; i += 6) {
    await Promise.all(
      sample.slice(i, i + 6).map(async (client) => {
        const r = await pfsteer(bed.router, ['inspect', '-c', file, '--client', client, '--json']);
        assert.equal(r.exitCode, 0, `inspect --client ${client}: ${r.stderr}`);
        const { client: answer } = JSON.parse(r.stdout) as { client: { services: Array<{ host: string }> } };
        assert.ok(answer.services.length > 0, `${client}: a service of its family`);
        for (const s of answer.services) assert.equal(s.host, base.get(client), `${client} reached ${base.get(client)}, inspect says ${s.host}`);
      }),
    );
  }
});

test("`disable server` on lb2's haproxy: its buckets move within fall x interval + timeout + 1 s, no other client moves, an open request to lb2 completes", async (t) => {
  const lb2 = bed.backends[1]!;
  const lb2Clients = clientsOf(base, 'lb2');
  const long = longRequest(base, 'lb2', 2500);
  await waitFor('the long request to reach lb2', 2000, async () => (await statesTo(lb2)) > 0);

  const start = performance.now();
  assert.match(await bed.admin(lb2, 'disable server signal/switch'), /^\s*$/);
  try {
    // Clients of lb2 keep being answered by lb2 (its web frontend is fine) until the move.
    await waitFor("lb2's clients to move", MOVE_BOUND + 2000, async () => {
      const got = await reach(lb2Clients);
      return [...got.values()].every((h) => h !== 'lb2');
    });
    const moveMs = performance.now() - start;
    assert.ok(moveMs <= MOVE_BOUND, `lb2's buckets moved after ${Math.round(moveMs)} ms, bound ${MOVE_BOUND} ms`);
    t.diagnostic(`lb2's clients moved ${Math.round(moveMs)} ms after the disable (bound ${MOVE_BOUND} ms)`);

    const got = await reach(clients);
    const stayed = clients.filter((c) => base.get(c) !== 'lb2' && got.get(c) === base.get(c));
    const movedOthers = clients.filter((c) => base.get(c) !== 'lb2' && got.get(c) !== base.get(c));
    assert.deepEqual(movedOthers, [], 'no client of lb1 or lb3 moved');
    assert.equal(stayed.length, clients.length - lb2Clients.length);
    t.diagnostic(`${lb2Clients.length} clients of lb2 moved, ${stayed.length} clients of lb1 and lb3 kept their host`);
    assert.deepEqual(clientsOf(got, 'lb2'), []);
    const [longResult] = await long;
    assert.equal(longResult!.body, 'lb2', `long request: ${JSON.stringify(longResult)}`);
  } finally {
    await bed.admin(lb2, 'enable server signal/switch');
  }
  await waitFor('lb2 to win its buckets back', 5000, async () => [...(await reach(lb2Clients)).values()].every((h) => h === 'lb2'));
  assert.deepEqual(await reach(clients), base, 'lb2 coming back restores every client');
});

test('`pfsteer drain lb1 --wait`: new connections avoid lb1, the open one completes, the command returns once no flow to lb1 is left; undrain restores the same map', async (t) => {
  const lb1 = bed.backends[0]!;
  const mapBefore = await observer.observe();
  const long = longRequest(base, 'lb1', 2000);
  await waitFor('the long request to reach lb1', 2000, async () => (await statesTo(lb1)) > 0);

  // A flow of the router's own, not steered (as the daemon's checks are): drain must not wait for it.
  const own = execa('ip', ['netns', 'exec', bed.router, 'curl', '-s', '--max-time', '10', `http://${lb1.v4}:8080/slow?ms=9000`], { reject: false });
  const drain = pfsteer(bed.router, ['drain', 'lb1', '-c', file, '--wait', '--timeout', '30s']);
  let undrain;
  try {
    const drained = new Promise<void>((resolve) => drain.stdout!.on('data', (d: Buffer) => d.toString().includes('lb1 drained') && resolve()));
    const early = await Promise.race([drained.then(() => undefined), drain]);
    assert.equal(early, undefined, `drain exited before saying lb1 drained: ${early?.exitCode} ${early?.stderr}`);

    const during = await reach(clients);
    assert.deepEqual(clientsOf(during, 'lb1'), [], 'no new connection reaches lb1');
    assert.ok((await status(daemon!)).hosts.find((h) => h.name === 'lb1')!.drained);

    const [longResult] = await long;
    const longDone = performance.now();
    assert.equal(longResult!.body, 'lb1', `long request: ${JSON.stringify(longResult)}`);
    const r = await drain;
    const drainDone = performance.now();
    assert.equal(r.exitCode, 0, r.stderr);
    assert.ok(drainDone >= longDone, 'drain --wait returned only after the open request ended');
    t.diagnostic(`drain --wait returned ${Math.round(drainDone - longDone)} ms after the open request ended`);
    assert.match(r.stderr, /lb1: [1-9]\d* state\(s\) left/, 'it saw the open flow');
    assert.match(r.stderr, /lb1: 0 state\(s\) left$/);
    assert.equal(await statesTo(lb1), 0);
    assert.equal(own.exitCode, null, 'the unsteered flow was still open');
  } finally {
    own.kill();
    await Promise.all([drain, own]);
    undrain = await pfsteer(bed.router, ['undrain', 'lb1', '-c', file]);
  }
  assert.equal(undrain.exitCode, 0, undrain.stderr);
  assert.deepEqual(await observer.observe(), mapBefore, 'the same nft map');
  assert.deepEqual(await reach(clients), base, 'every client back on its host');
});

test("kill_states_on_down: always through SIGHUP, then lb3's haproxy killed: lb3 goes down, its clients move, an established flow is reset, not left hanging, and no state to lb3 is left", async () => {
  // Only now: with it on, the open request of the lb2 test would have lost its state.
  await bed.writeConfig('r', bed.daemonConfig('r', TIMING, { buckets: B, killStates: 'always' }));
  await daemon!.reload();
  const lb3 = bed.backends[2]!;
  const lb3Clients = clientsOf(base, 'lb3');
  const long = longRequest(base, 'lb3', 20_000, { keepalive: true, timeout: 15_000 });
  await waitFor('the long request to reach lb3', 2000, async () => (await statesTo(lb3)) > 0);
  const from = daemon!.lines.length;

  const start = performance.now();
  await bed.killHaproxy(lb3);
  try {
    const [result] = await long;
    assert.equal(result!.error, 'ECONNRESET', JSON.stringify(result));
    assert.ok(performance.now() - start < 6000, `reset after ${Math.round(performance.now() - start)} ms`);

    await daemon!.waitForLog('lb3 going down', MOVE_BOUND + 2000, (l) => l.msg === 'lb3 up -> down', from);
    const killed = await daemon!.waitForLog('states of lb3 killed', 2000, (l) => l.msg === 'killed states of a down host' && l.host === 'lb3', from);
    assert.ok(Number(killed.killed) >= 1, JSON.stringify(killed));
    assert.equal(await statesTo(lb3), 0);
    const got = await reach(clients);
    assert.deepEqual([...new Set(lb3Clients.map((c) => got.get(c)))].sort(), ['lb1', 'lb2']);
    assert.deepEqual(clients.filter((c) => base.get(c) !== 'lb3' && got.get(c) !== base.get(c)), [], 'no client of lb1 or lb2 moved');
  } finally {
    await bed.startHaproxy(lb3);
  }
  await waitFor('lb3 to win its buckets back', 5000, async () => [...(await reach(lb3Clients)).values()].every((h) => h === 'lb3'));
});

test('restarting the daemon (SIGTERM, start) and SIGHUP under a steady stream of new connections fail none of them', async (t) => {
  const stream = clients.slice(0, 100).map((s) => web(s));
  let done = false;
  const events = (async () => {
    try {
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(await daemon!.stop(), 0, 'SIGTERM exits 0');
      daemon = await DaemonProcess.start(bed.lab, bed.router, file);
      await new Promise((r) => setTimeout(r, 300));
      await daemon.reload();
      await new Promise((r) => setTimeout(r, 300));
      await daemon.reload();
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      done = true;
    }
  })();
  // Three staggered loops, so one client process starting never leaves a gap in the stream;
  // bounded: the events take a few seconds, each round well under one.
  const loop = async (delay: number) => {
    await new Promise((r) => setTimeout(r, delay));
    const out = [];
    for (let round = 0; round < 40 && !done; round++) out.push(...(await bed.requests(stream, 4)));
    return out;
  };
  const started = performance.now();
  const results = (await Promise.all([0, 70, 140].map(loop))).flat();
  await events;
  t.diagnostic(`${results.length} requests in ${Math.round(performance.now() - started)} ms across the restart and two reloads`);
  assert.ok(done, 'the events finished within the stream');
  assert.ok(results.length >= 4 * stream.length, `${results.length} requests`);
  assert.deepEqual(results.filter((r) => r.body === undefined), [], 'no failed connection');
  assert.deepEqual(results.filter((r) => r.body !== base.get(r.src)), [], 'no client moved');
  await waitForStatus(daemon!, (s) => s.ready && s.hosts.every((h) => h.state === 'up'), 'every host up after the restart');
});

test('two daemons in two router namespaces with the same config and health hold identical nft maps', async () => {
  const peer = await bed.addRouter('p');
  const peerFile = await bed.writeConfig('p', bed.daemonConfig('p', TIMING, { buckets: B, killStates: 'always' }));
  const second = await DaemonProcess.start(bed.lab, peer, peerFile);
  others.push(second);
  await waitForStatus(second, (s) => s.hosts.every((h) => h.state === 'up'), 'every host up at the peer');
  const maps = ['svc_web', 'svc_web6'];
  const elements = async (ns: string) => {
    const out: Record<string, unknown> = {};
    for (const m of maps) {
      const json = JSON.parse(await bed.lab.exec(ns, ['nft', '-j', 'list', 'map', 'inet', 'pfsteer', m])) as { nftables: { map?: { elem?: unknown[] } }[] };
      const elem = json.nftables.find((x) => x.map)?.map?.elem ?? [];
      out[m] = elem.map((e) => JSON.stringify(e)).sort();
    }
    return out;
  };
  const first = await elements(bed.router);
  assert.equal((first.svc_web as string[]).length, B);
  assert.deepEqual(await elements(peer), first);

  // The same again after a health change both see.
  const lb2 = bed.backends[1]!;
  await bed.admin(lb2, 'disable server signal/switch');
  try {
      for (const d of [daemon!, second]) await waitForStatus(d, (s) => s.hosts.find((h) => h.name === 'lb2')!.buckets === 0, `lb2 empty at ${d.ns}`);
      const without = await elements(bed.router);
      assert.notDeepEqual(without, first);
      assert.deepEqual(await elements(peer), without);
  } finally {
    await bed.admin(lb2, 'enable server signal/switch');
  }
  assert.equal(await second.stop(), 0);
});
