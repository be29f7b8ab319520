/**
 * `policy.kill_states_on_down: unreachable` (the default) on real kernels and haproxy: the real
 * daemon in the router namespace, an http check of each haproxy's monitor-uri plus a tcp check
 * of its web port. A host that fails its monitor on purpose (a planned drain) keeps its open
 * connections; a host that goes silent has its states killed, so its clients' retransmitted
 * SYNs reach the host their bucket moved to instead of the dead one.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, test } from 'node:test';
import type { CheckTiming, Config } from '../../src/config/model.ts';
import { parseAddress } from '../../src/net/address.ts';
import { NftDriver } from '../../src/nft/driver.ts';
import { DaemonProcess } from './daemon-process.ts';
import { Testbed, v4Clients, waitFor, web, type Backend } from './harness.ts';
import { silence, unsilence } from './silence.ts';

const B = 64;
const TIMING: CheckTiming = { interval: 300, timeout: 200, rise: 2, fall: 2, fastinter: 300, downinter: 300, jitter: 0 };
/** Detection, fall x interval + timeout, and one SYN retransmit after the move (Linux: 1 s, then 2 s later). */
const DETECT = TIMING.fall * TIMING.interval + TIMING.timeout;

let bed: Testbed;
let daemon: DaemonProcess | undefined;
let observer: NftDriver;
let base: Map<string, string>;
const clients = v4Clients(240, 1);

/** The harness's daemon config with a tcp check of the web port beside the monitor check. */
function withTcpChecks(config: Config): Config {
  return {
    ...config,
    hosts: config.hosts.map((h) => {
      const b = bed.backends.find((x) => x.name === h.name)!;
      return { ...h, checks: [...h.checks, { ...TIMING, type: 'tcp', name: 'web', address: parseAddress(b.v4)!, port: 8080 }] };
    }),
  };
}

before(async () => {
  bed = await Testbed.create('kp');
  const file = await bed.writeConfig('r', withTcpChecks(bed.daemonConfig('r', TIMING, { buckets: B, killStates: 'unreachable' })));
  observer = new NftDriver(bed.config({ buckets: B }));
  daemon = await DaemonProcess.start(bed.lab, bed.router, file);
  base = await reach(clients);
});

after(async () => {
  await daemon?.stop();
  await bed?.destroy();
});

afterEach((t) => {
  if ((t as { passed?: boolean }).passed === false && daemon) t.diagnostic(`pfsteer run, last lines:\n${daemon.tail(20)}`);
});

async function reach(list: string[], timeout = 5000): Promise<Map<string, string>> {
  const results = await bed.requests(list.map((s) => web(s, '/', timeout)), 64);
  assert.deepEqual(results.filter((r) => r.body === undefined), [], 'every request answered');
  return new Map(results.map((r) => [r.src, r.body!]));
}

const clientsOf = (host: string) => clients.filter((c) => base.get(c) === host);
const statesTo = (b: Backend) => observer.countStates([parseAddress(b.v4)!]);

test('a planned drain (haproxy `monitor fail`, 503) keeps a long request to the host alive; the daemon logs why', async () => {
  const lb2 = bed.backends[1]!;
  const long = bed.startRequests([web(clientsOf('lb2')[0]!, '/slow?ms=4000', 9000)]);
  await waitFor('the long request to reach lb2', 2000, async () => (await statesTo(lb2)) > 0);
  const from = daemon!.lines.length;
  await bed.admin(lb2, 'disable server signal/switch');
  try {
    const kept = await daemon!.waitForLog('lb2 states decided', DETECT + 3000, (l) => l.host === 'lb2' && /states of a down host/.test(String(l.msg)), from);
    assert.deepEqual([kept.msg, kept.reason], ['states of a down host kept', 'http-status']);
    const [result] = await long;
    assert.equal(result!.body, 'lb2', `the long request: ${JSON.stringify(result)}`);
    assert.deepEqual([...(await reach(clientsOf('lb2'))).values()].filter((h) => h === 'lb2'), [], 'new connections avoid lb2');
  } finally {
    await bed.admin(lb2, 'enable server signal/switch');
  }
  await waitFor('lb2 to win its buckets back', 5000, async () => [...(await reach(clientsOf('lb2'))).values()].every((h) => h === 'lb2'));
});

test("a silent host: its states are killed, and clients that dialled it as it went silent reach another host within detection + 6 s", async (t) => {
  const lb3 = bed.backends[2]!;
  const from = daemon!.lines.length;
  // Sent 100 ms after lb3 goes silent, long before the daemon can know.
  const at = Date.now() + 2000;
  const dialled = bed.requests(clientsOf('lb3').map((s) => ({ ...web(s, '/', 20_000), at })), 256);
  await new Promise((r) => setTimeout(r, at - 100 - Date.now()));
  await silence(bed.lab, lb3.ns);
  try {
    const started = performance.now();
    // Dialled now, before the daemon knows: their SYNs go to lb3 and go unanswered.
    const results = await dialled;
    const killed = await daemon!.waitForLog('lb3 states killed', 1000, (l) => l.host === 'lb3' && /states of a down host/.test(String(l.msg)), from);
    assert.deepEqual([killed.msg, killed.reason], ['killed states of a down host', 'connect-timeout']);
    assert.deepEqual(results.filter((r) => r.body === undefined || r.body === 'lb3'), [], 'every client of lb3 answered by another host');
    const slowest = Math.max(...results.map((r) => r.ms));
    t.diagnostic(`${results.length} clients of lb3: slowest answered after ${slowest} ms (${Math.round(performance.now() - started)} ms in all); detection ${DETECT} ms`);
    assert.ok(slowest <= DETECT + 6000, `slowest ${slowest} ms`);
  } finally {
    await unsilence(bed.lab, lb3.ns);
  }
  await waitFor('lb3 to win its buckets back', 8000, async () => [...(await reach(clientsOf('lb3'))).values()].every((h) => h === 'lb3'));
});
