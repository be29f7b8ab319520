/**
 * The daemon with the real pf driver, loading its anchor and moving table entries through pfctl
 * into the pf emulator, with real HTTP checks against loopback backends.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { execa } from 'execa';
import { pino } from 'pino';
import { callControl } from '../../src/daemon/control-client.ts';
import { Daemon } from '../../src/daemon/daemon.ts';
import { realParts } from '../../src/daemon/parts.ts';
import { bucketTables, buildPartition } from '../../src/buckets/partition.ts';
import { parseAddress } from '../../src/net/address.ts';
import { PfEmulator } from '../pf-emulator/emulator.ts';
import { startBackends, type Backend } from '../support/net.ts';
import { until } from '../support/until.ts';

const B = 16;
const INTERVAL = 500;
const TIMEOUT = 400;
const FALL = 2;
const settle = FALL * INTERVAL + TIMEOUT + 1000;
const logger = pino({ level: 'silent' });
const ADDRESSES: Record<string, string> = { '10.0.1.11': 'lb1', '10.0.1.21': 'lb1', '10.0.1.12': 'lb2', '10.0.1.13': 'lb3' };

let dir: string;
let emulator: PfEmulator;
const backends: Backend[] = [];

function config(): string {
  const hosts = backends
    .map((b, i) => `  lb${i + 1}:\n    addresses: {std: 10.0.1.${11 + i}}\n    checks:\n      - {type: http, address: 127.0.0.1, port: ${b.port}, path: /haproxy_check}\n`)
    .join('');
  return `defaults: {interval: ${INTERVAL}ms, timeout: ${TIMEOUT}ms, rise: 2, fall: ${FALL}, jitter: 0ms}
buckets: {count: ${B}, inet_prefix: 8}
driver: pf
pf: {pfctl: ${emulator.pfctl}, timeout: 8s, concurrency: 4}
control: {socket: ${join(dir, 'control.sock')}, mode: "0600"}
daemon: {state_file: ${join(dir, 'state.json')}, drift_interval: 1s, coalesce: 5ms}
services:
  std: {interface: em0, external: <ext>, ports: [80, 443]}
hosts:
${hosts}`;
}

/** Each bucket's /8 prefixes (inet_prefix 8), as one client address in each. */
const clients = bucketTables(buildPartition({ count: B, seed: 0, inetPrefix: 8, inet6Prefix: 19 })).map((t) => t.inet.map((c) => ({ ...c.address, bytes: Uint8Array.of(c.address.bytes[0]!, 1, 2, 3) })));

/**
 * Owner of every bucket as the emulated pf routes its clients (undefined: not steered); throws
 * if a bucket is split, which no instant of a move may show.
 */
function owners(): Array<string | undefined> {
  const packets = clients.flatMap((list) => list.map((source) => ({ source, destination: parseAddress('192.0.2.10')!, port: 443, interface: 'em0' })));
  const answers = emulator.routeMany(packets);
  let at = 0;
  return clients.map((list, b) => {
    const hosts = new Set(list.map(() => answers[at++]!).map((a) => (a.anchor === null ? undefined : ADDRESSES[a.address])));
    assert.equal(hosts.size, 1, `bucket ${b} routed to one host, got ${[...hosts].join(', ')}`);
    return [...hosts][0];
  });
}

/** Calls that changed the filter: whole-anchor loads and table commands. */
function writes(): string[] {
  return emulator.calls().filter((c) => c.argv.includes('-f') || c.argv.includes('flush')).map((c) => c.argv.join(' '));
}


const file = (): string => join(dir, 'pfsteer.yaml');

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pfsteer-pfd-'));
  emulator = new PfEmulator('freebsd');
  emulator.loadMain('table <ext> { 192.0.2.10 }\nrdr-anchor "pfsteer"\n');
  process.env.PFSTEER_PF_EMULATOR = emulator.dir;
  backends.push(...(await startBackends(3)));
  await writeFile(file(), config());
});

after(async () => {
  for (const b of backends) b.server.close();
  emulator.cleanup();
  await rm(dir, { recursive: true, force: true });
});

test("a stopped backend's buckets, and no others, move by table commands; they come back identical; a restart loads nothing", async () => {
  let daemon = await Daemon.start(file(), realParts, logger);
  try {
    await until(() => owners().every((o) => o !== undefined), 10_000, 'every bucket loaded');
    assert.deepEqual(writes(), ['-o none -a pfsteer -f -'], 'one whole-anchor load at start');
    assert.equal((daemon.status() as { hook: { ok: boolean } }).hook.ok, true);
    await until(() => (daemon.status() as { filter: { state: string } }).filter.state === 'in-sync', 5000, 'in sync');
    const initial = owners();
    backends[1]!.healthy = false;
    const took = await until(() => !owners().includes('lb2'), settle + 15_000, 'lb2 buckets moved');
    const moved = owners();
    initial.forEach((o, b) => {
      if (o !== 'lb2') assert.equal(moved[b], o, `bucket ${b} kept its host`);
    });
    // Every change after the start is a table command (a slow machine may add a flap's own moves);
    // lb2's prefixes left its table by a flush, after the adds that took them over.
    const after = writes().slice(1);
    assert.ok(after.every((w) => / -T (add|delete|flush)/.test(w)), after.join('\n'));
    const flush = after.lastIndexOf('-a pfsteer -t lb2-v4 -T flush');
    assert.ok(flush > 0 && after.slice(0, flush).some((w) => /-T add/.test(w)), after.join('\n'));
    assert.ok(took < settle + 15_000);
    backends[1]!.healthy = true;
    await until(() => owners().every((o, b) => o === initial[b]), settle + 15_000, 'identical mapping back');
    await until(() => (daemon.status() as { filter: { state: string } }).filter.state === 'in-sync', 3000, 'in sync');
    await daemon.close();
    const count = writes().length;
    daemon = await Daemon.start(file(), realParts, logger);
    await until(() => (daemon.status() as { ready: boolean }).ready, 5000, 'ready after restart');
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(writes().length, count, 'a restart with nothing changed loads nothing');
  } finally {
    await daemon.close();
  }
});

test('an anchor or a table emptied behind the daemon is restored within the drift interval', async () => {
  const daemon = await Daemon.start(file(), realParts, logger);
  try {
    await until(() => (daemon.status() as { ready: boolean }).ready && owners().every((o) => o !== undefined), 10_000, 'ready');
    const initial = owners();
    emulator.removeAnchor('pfsteer');
    await until(() => owners().every((o, b) => o === initial[b]), 1000 + 20_000, 'anchor repaired');
    const repairs = (daemon.status() as { driftRepairs: number }).driftRepairs;
    assert.ok(repairs >= 1);
    // The table of a host that owns buckets now (a slow machine may have judged another down).
    await execa(emulator.pfctl, ['-a', 'pfsteer', '-t', `${initial[0]}-v4`, '-T', 'flush'], { env: emulator.env() });
    assert.equal(owners()[0], undefined, 'bucket 0 unsteered until the repair');
    await until(() => owners().every((o, b) => o === initial[b]), 1000 + 20_000, 'table repaired');
    await until(() => (daemon.status() as { driftRepairs: number }).driftRepairs > repairs, 15_000, "counted as a drift repair");
  } finally {
    await daemon.close();
  }
});

test('pfctl failing and hanging: every bucket still ends correct, and no bucket is ever split', async () => {
  const daemon = await Daemon.start(file(), realParts, logger);
  try {
    await until(() => (daemon.status() as { ready: boolean }).ready, 5000, 'ready');
    const initial = owners();
    emulator.faults({ fail: 3, hang: 1, match: ' -f -' });
    backends[2]!.healthy = false;
    // owners() asserts each bucket routes to one host every time it looks.
    await until(() => !owners().includes('lb3'), 30_000, 'lb3 buckets moved despite failures');
    await until(() => (daemon.status() as { filter: { state: string } }).filter.state === 'in-sync', 30_000, 'in sync after retries');
    const outcomes = emulator.calls().filter((c) => c.argv.includes('-f')).map((c) => c.outcome);
    assert.ok(outcomes.filter((o) => o === 'fail').length === 3 && outcomes.includes('hang'), outcomes.join(','));
    const status = daemon.status() as { lastError: { message: string } | null };
    assert.match(status.lastError?.message ?? '', /Device busy|did not finish/);
    backends[2]!.healthy = true;
    await until(() => owners().every((o, b) => o === initial[b]), 30_000, 'identical mapping back');
  } finally {
    await daemon.close();
  }
});

test('a drain persists across a restart; drain --wait returns once pf holds no state to the host', async () => {
  let daemon = await Daemon.start(file(), realParts, logger);
  const socket = join(dir, 'control.sock');
  try {
    await until(() => (daemon.status() as { ready: boolean }).ready, 5000, 'ready');
    const initial = owners();
    const lb1 = initial.findIndex((o) => o === 'lb1');
    emulator.route({ source: clients[lb1]![0]!, destination: parseAddress('192.0.2.10')!, port: 443, interface: 'em0' }, { establish: true });
    assert.equal(emulator.statesTo(parseAddress('10.0.1.11')!), 1);

    const drain = execa('node', ['src/cli/main.ts', 'drain', 'lb1', '--wait', '--timeout', '20s', '--socket', socket], { reject: false, env: emulator.env() });
    let finished = false;
    void drain.finally(() => (finished = true));
    await until(() => !owners().includes('lb1'), 15_000, "lb1 drained");
    await new Promise((resolve) => setTimeout(resolve, 800));
    assert.equal(finished, false, 'drain --wait still waiting while a state to lb1 remains');
    emulator.closeStates(parseAddress('10.0.1.11')!);
    const done = await drain;
    assert.equal(done.exitCode, 0, done.stderr);

    await daemon.close();
    daemon = await Daemon.start(file(), realParts, logger);
    await until(() => (daemon.status() as { ready: boolean }).ready, 5000, 'ready after restart');
    assert.ok(!owners().includes('lb1'), 'still drained after the restart');
    await callControl(socket, 'POST', '/undrain/lb1');
    await until(() => owners().every((o, b) => o === initial[b]), 5000, 'undrain restores the mapping');
  } finally {
    await daemon.close();
  }
});

test('a reload that changes rules is one whole-anchor load; a removed host\'s tables are killed', async () => {
  const daemon = await Daemon.start(file(), realParts, logger);
  try {
    await until(() => (daemon.status() as { filter: { state: string } }).filter.state === 'in-sync' && owners().every((o) => o !== undefined), 15_000, 'in sync');
    const initial = owners();
    // lb1 re-addressed: its rules change, its buckets stay (hashing uses names).
    await writeFile(file(), config().replace('{std: 10.0.1.11}', '{std: 10.0.1.21}'));
    const count = writes().length;
    assert.deepEqual(await daemon.reload(), { ok: true });
    await until(() => owners().every((o, b) => o === initial[b]), 15_000, 'lb1 reached at its new address');
    assert.deepEqual(writes().slice(count), ['-o none -a pfsteer -f -']);
    // lb3 removed from the config: one load without its rules, then its table goes.
    const text = config().replace('{std: 10.0.1.11}', '{std: 10.0.1.21}');
    await writeFile(file(), text.slice(0, text.indexOf('  lb3:')));
    const before = emulator.calls().length;
    assert.deepEqual(await daemon.reload(), { ok: true });
    await until(() => !owners().includes('lb3'), 15_000, 'lb3 gone');
    const calls = emulator.calls().slice(before).map((c) => c.argv.join(' '));
    assert.ok(calls.includes('-o none -a pfsteer -f -'), calls.join('\n'));
    await until(() => emulator.calls().some((c) => c.argv.join(' ') === '-a pfsteer -t lb3-v4 -T kill'), 5000, 'lb3-v4 killed');
  } finally {
    await daemon.close();
    await writeFile(file(), config());
  }
});
