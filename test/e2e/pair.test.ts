/**
 * A CARP pair in namespaces: two real daemons (`pfsteer run`, driver nft) in two router
 * namespaces with the same config, each checking the haproxy hosts itself. They must report the
 * same digest, move the same buckets for a drain in the config, and `status --compare` must name
 * the buckets and the reason when one of them sees a host down.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { after, afterEach, before, test } from 'node:test';
import type { CheckTiming, Config } from '../../src/config/model.ts';
import { callControl } from '../../src/daemon/control-client.ts';
import { DaemonProcess, pfsteer } from './daemon-process.ts';
import { Testbed, v4Clients, waitFor } from './harness.ts';

const B = 64;
const TIMING: CheckTiming = { interval: 300, timeout: 200, rise: 2, fall: 2, fastinter: 300, downinter: 300, jitter: 0 };

let bed: Testbed;
let peer: string;
const files: Record<string, string> = {};
const daemons: DaemonProcess[] = [];

interface Status {
  digest: string;
  hosts: Array<{ name: string; state: string; drained: boolean; drains: Array<{ source: string }>; buckets: number }>;
  mapping: { digest: string; owners: Array<string | null> };
}

function config(name: string, drained: readonly string[] = []): Config {
  const c = bed.daemonConfig(name, TIMING, { buckets: B });
  return { ...c, hosts: c.hosts.map((h) => (drained.includes(h.name) ? { ...h, drain: true } : h)) };
}

before(async () => {
  bed = await Testbed.create('pr');
  peer = await bed.addRouter('p');
  files.r = await bed.writeConfig('r', config('r'));
  files.p = await bed.writeConfig('p', config('p'));
  daemons.push(await DaemonProcess.start(bed.lab, bed.router, files.r));
  daemons.push(await DaemonProcess.start(bed.lab, peer, files.p));
  for (const d of daemons) await waitForStatus(d, (s) => s.hosts.every((h) => h.state === 'up' && h.buckets > 0), `every host up at ${d.ns}`);
});

after(async () => {
  for (const d of daemons) await d.stop();
  await bed?.destroy();
});

afterEach((t) => {
  if ((t as { passed?: boolean }).passed === false) for (const d of daemons) t.diagnostic(`pfsteer run in ${d.ns}, last lines:\n${d.tail(20)}`);
});

async function status(d: DaemonProcess): Promise<Status> {
  const r = await pfsteer(d.ns, ['status', '-c', d.file, '--json']);
  assert.equal(r.exitCode, 0, `pfsteer status: ${r.stderr}`);
  return JSON.parse(r.stdout) as Status;
}

async function waitForStatus(d: DaemonProcess, holds: (s: Status) => boolean, what: string, ms = 8000): Promise<Status> {
  let last: Status | undefined;
  try {
    await waitFor(what, ms, async () => holds((last = await status(d))));
  } catch (error) {
    throw new Error(`${(error as Error).message}; last status: ${JSON.stringify(last?.hosts)}`, { cause: error });
  }
  return last!;
}

const socketOf = (name: string) => bed.daemonConfig(name, TIMING).control.socket;
const ownedBy = (s: Status, host: string) => s.mapping.owners.flatMap((o, b) => (o === host ? [b] : []));

test('the two daemons report the same digest in status, metrics and inspect, and hold the same owners', async () => {
  const [r, p] = await Promise.all(daemons.map(status));
  assert.equal(r!.digest, p!.digest);
  assert.deepEqual(r!.mapping.owners, p!.mapping.owners);
  for (const name of ['r', 'p']) {
    const metrics = await callControl<string>(socketOf(name), 'GET', '/metrics');
    assert.ok(metrics.includes(`pfsteer_mapping_info{digest="${r!.digest}"} 1`), `${name}: ${metrics.split('\n').filter((l) => l.includes('mapping_info')).join(' | ')}`);
  }
  const inspect = await pfsteer(bed.router, ['inspect', '-c', files.r!, '--json']);
  assert.equal(inspect.exitCode, 0, inspect.stderr);
  assert.equal((JSON.parse(inspect.stdout) as { digest: string }).digest, r!.digest, 'what the filter holds has the daemon\'s digest');
  const compare = await pfsteer(peer, ['status', '-c', files.p!, '--compare', await writeStatus('r', r!)]);
  assert.equal(compare.exitCode, 0, compare.stdout + compare.stderr);
});

async function writeStatus(name: string, s: Status): Promise<string> {
  const file = `${bed.dir}/${name}.status.json`;
  await writeFile(file, JSON.stringify(s));
  return file;
}

test('a drain in the config, reloaded on both, moves the same buckets on both: exactly lb1\'s', async () => {
  const before = await Promise.all(daemons.map(status));
  const lb1 = ownedBy(before[0]!, 'lb1');
  assert.ok(lb1.length > 0);
  files.r = await bed.writeConfig('r', config('r', ['lb1']));
  files.p = await bed.writeConfig('p', config('p', ['lb1']));
  try {
    await Promise.all(daemons.map((d) => d.reload()));
    const after = await Promise.all(daemons.map((d) => waitForStatus(d, (s) => s.hosts.find((h) => h.name === 'lb1')!.buckets === 0, `lb1 drained at ${d.ns}`)));
    for (const [i, s] of after.entries()) {
      const moved = s.mapping.owners.flatMap((o, b) => (o !== before[i]!.mapping.owners[b] ? [b] : []));
      assert.deepEqual(moved, lb1, `${daemons[i]!.ns}: only lb1's buckets moved`);
      assert.deepEqual(s.hosts.find((h) => h.name === 'lb1')!.drains.map((d) => d.source), ['config']);
    }
    assert.deepEqual(after[0]!.mapping.owners, after[1]!.mapping.owners, 'both moved them to the same hosts');
    assert.equal(after[0]!.digest, after[1]!.digest);
    assert.notEqual(after[0]!.digest, before[0]!.digest);
    const results = await bed.requests(v4Clients(60, 1).map((src) => ({ src, dst: '198.51.100.10', port: 80, path: '/', timeout: 5000 })));
    assert.deepEqual(results.filter((x) => x.body === undefined || x.body === 'lb1'), [], 'new connections avoid lb1 and all succeed');
  } finally {
    files.r = await bed.writeConfig('r', config('r'));
    files.p = await bed.writeConfig('p', config('p'));
    await Promise.all(daemons.map((d) => d.reload()));
  }
  const back = await Promise.all(daemons.map((d) => waitForStatus(d, (s) => s.hosts.every((h) => !h.drained), `undrained at ${d.ns}`)));
  assert.deepEqual(back.map((s) => s.mapping.owners), before.map((s) => s.mapping.owners), 'the identical mapping returns on both');
});

test('--compare names lb2\'s buckets and the reason when only the peer sees lb2 down', async () => {
  const lb2 = bed.backends[1]!;
  // The peer's checks reach lb2 through the router; refusing them in the peer alone leaves the
  // router's view up. A reset, not a silent drop: an http check whose SYN goes unanswered
  // reports its timeout only when undici's 10 s connect timeout ends, which this test need not wait for.
  const nft = (...args: string[]) => bed.lab.exec(peer, ['nft', ...args]);
  await nft('add', 'table', 'inet', 'pairtest');
  await nft('add', 'chain', 'inet', 'pairtest', 'out', '{ type filter hook output priority 0 ; }');
  await nft('add', 'rule', 'inet', 'pairtest', 'out', 'ip', 'daddr', lb2.v4, 'tcp', 'dport', '8081', 'reject', 'with', 'tcp', 'reset');
  try {
    const p = await waitForStatus(daemons[1]!, (s) => s.hosts.find((h) => h.name === 'lb2')!.state === 'down' && s.hosts.find((h) => h.name === 'lb2')!.buckets === 0, 'the peer to judge lb2 down');
    const r = await status(daemons[0]!);
    assert.equal(r.hosts.find((h) => h.name === 'lb2')!.state, 'up');
    assert.notEqual(r.digest, p.digest, 'the digests show the difference');
    const file = await writeStatus('p', p);

    const text = await pfsteer(bed.router, ['status', '-c', files.r!, '--compare', file]);
    assert.equal(text.exitCode, 1, text.stdout + text.stderr);
    assert.match(text.stdout, /lb2 is up here, down on the peer/);
    const json = await pfsteer(bed.router, ['status', '-c', files.r!, '--compare', file, '--json']);
    assert.equal(json.exitCode, 1);
    const comparison = JSON.parse(json.stdout) as { buckets: Array<{ bucket: number; here: string; reasons: Array<{ kind: string; host: string; here: string; peer: string }> }> };
    assert.deepEqual(comparison.buckets.map((d) => d.bucket), ownedBy(r, 'lb2'), 'exactly the buckets lb2 owns here');
    for (const d of comparison.buckets) assert.deepEqual(d.reasons, [{ kind: 'health', host: 'lb2', here: 'up', peer: 'down' }]);
  } finally {
    await nft('delete', 'table', 'inet', 'pairtest');
  }
  await waitForStatus(daemons[1]!, (s) => s.hosts.every((h) => h.state === 'up' && h.buckets > 0), 'lb2 back at the peer');
});
