/**
 * The daemon with the real pf driver, loading anchors through pfctl into the pf emulator, with
 * real HTTP checks against loopback backends.
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
import { parseAddress } from '../../src/net/address.ts';
import { parseRuleset } from '../../src/pf/rules.ts';
import { PfEmulator } from '../pf-emulator/emulator.ts';
import { startBackends, type Backend } from '../support/net.ts';
import { until } from '../support/until.ts';

const B = 16;
const INTERVAL = 500;
const TIMEOUT = 400;
const FALL = 2;
const settle = FALL * INTERVAL + TIMEOUT + 1000;
const logger = pino({ level: 'silent' });
const ADDRESSES: Record<string, string> = { '10.0.1.11': 'lb1', '10.0.1.12': 'lb2', '10.0.1.13': 'lb3' };

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

/** Owner of every bucket as the emulated pf holds it; throws if an anchor is not whole. */
function owners(): Array<string | undefined> {
  const anchors = emulator.memory().anchors;
  return Array.from({ length: B }, (_, b) => {
    const source = anchors[`pfsteer/b${String(b).padStart(4, '0')}`]?.source;
    if (source === undefined) return undefined;
    const { rules, tables } = parseRuleset(source, `bucket ${b}`);
    assert.equal(tables.length, 1, `bucket ${b} holds its table`);
    const targets = new Set(rules.map((r) => ADDRESSES[r.target.bytes.join('.')]));
    assert.equal(targets.size, 1, `bucket ${b}: one target`);
    return [...targets][0];
  });
}


const file = (): string => join(dir, 'pfsteer.yaml');

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pfsteer-pfd-'));
  emulator = new PfEmulator('freebsd');
  emulator.loadMain('table <ext> { 192.0.2.10 }\nrdr-anchor "pfsteer/*"\n');
  process.env.PFSTEER_PF_EMULATOR = emulator.dir;
  backends.push(...(await startBackends(3)));
  await writeFile(file(), config());
});

after(async () => {
  for (const b of backends) b.server.close();
  emulator.cleanup();
  await rm(dir, { recursive: true, force: true });
});

test("a stopped backend's buckets, and no others, move through pfctl; they come back identical; a restart loads nothing", async () => {
  let daemon = await Daemon.start(file(), realParts, logger);
  try {
    await until(() => owners().every((o) => o !== undefined), 10_000, 'every bucket loaded');
    assert.equal(emulator.loads().length, B);
    const initial = owners();
    backends[1]!.healthy = false;
    const took = await until(() => !owners().includes('lb2'), settle + 3000, 'lb2 buckets moved');
    const moved = owners();
    initial.forEach((o, b) => {
      if (o !== 'lb2') assert.equal(moved[b], o, `bucket ${b} kept its host`);
    });
    assert.equal(emulator.loads().length, B + initial.filter((o) => o === 'lb2').length, 'one load per moved bucket');
    assert.ok(took < settle + 3000);
    backends[1]!.healthy = true;
    await until(() => owners().every((o, b) => o === initial[b]), settle + 3000, 'identical mapping back');
    await daemon.close();
    const loads = emulator.loads().length;
    daemon = await Daemon.start(file(), realParts, logger);
    await until(() => (daemon.status() as { ready: boolean }).ready, 5000, 'ready after restart');
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(emulator.loads().length, loads, 'a restart with nothing changed loads nothing');
  } finally {
    await daemon.close();
  }
});

test('an anchor deleted behind the daemon is restored within the drift interval', async () => {
  const daemon = await Daemon.start(file(), realParts, logger);
  try {
    await until(() => (daemon.status() as { ready: boolean }).ready && owners().every((o) => o !== undefined), 10_000, 'ready');
    const initial = owners();
    emulator.removeAnchor('pfsteer/b0005');
    await until(() => owners()[5] === initial[5], 1000 + 20_000, 'bucket 5 repaired');
    assert.ok((daemon.status() as { driftRepairs: number }).driftRepairs >= 1);
  } finally {
    await daemon.close();
  }
});

test('pfctl failing and hanging: every bucket still ends correct, and no anchor is ever half-written', async () => {
  const daemon = await Daemon.start(file(), realParts, logger);
  try {
    await until(() => (daemon.status() as { ready: boolean }).ready, 5000, 'ready');
    const initial = owners();
    emulator.faults({ fail: 3, hang: 1, match: ' -f -' });
    backends[2]!.healthy = false;
    // owners() asserts each anchor is whole every time it looks.
    await until(() => !owners().includes('lb3'), 30_000, 'lb3 buckets moved despite failures');
    const outcomes = emulator.loads().map((c) => c.outcome);
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
    const clientOf = (bucket: number): string => {
      for (let a = 1; a < 255; a++) {
        const answer = emulator.route({ source: parseAddress(`${a}.1.2.3`)!, destination: parseAddress('192.0.2.10')!, port: 443 });
        if (answer.anchor === `pfsteer/b${String(bucket).padStart(4, '0')}`) return `${a}.1.2.3`;
      }
      throw new Error(`no client in bucket ${bucket}`);
    };
    emulator.route({ source: parseAddress(clientOf(lb1))!, destination: parseAddress('192.0.2.10')!, port: 443 }, { establish: true });
    assert.equal(emulator.statesTo(parseAddress('10.0.1.11')!), 1);

    const drain = execa('node', ['src/cli/main.ts', 'drain', 'lb1', '--wait', '--timeout', '20s', '--socket', socket], { reject: false, env: emulator.env() });
    let finished = false;
    void drain.finally(() => (finished = true));
    await until(() => !owners().includes('lb1'), 5000, 'lb1 drained');
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
