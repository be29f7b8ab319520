import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Daemon, type DaemonParts } from '../../src/daemon/daemon.ts';
import { callControl } from '../../src/daemon/control-client.ts';
import { realParts } from '../../src/daemon/parts.ts';
import { MemoryDriver } from '../../src/drivers/memory.ts';
import { parseAddress } from '../../src/net/address.ts';
import { startBackends, type Backend } from '../support/net.ts';
import { until } from '../support/until.ts';

const INTERVAL = 100;
const TIMEOUT = 60;
const FALL = 2;
const logger = pino({ level: 'silent' });

let dir: string;
const backends: Backend[] = [];
const driver = new MemoryDriver();
const parts: DaemonParts = { createDriver: () => driver, createHealth: realParts.createHealth };

function config(extra = ''): string {
  const hosts = backends
    .map((b, i) => `  lb${i + 1}:\n    addresses: {std: 10.0.1.${11 + i}}\n    checks:\n      - {type: http, address: 127.0.0.1, port: ${b.port}, path: /haproxy_check}\n`)
    .join('');
  return `defaults: {interval: ${INTERVAL}ms, timeout: ${TIMEOUT}ms, rise: 2, fall: ${FALL}, jitter: 0ms}
buckets: {count: 64}
driver: memory
control: {socket: ${join(dir, 'control.sock')}, mode: "0600"}
daemon: {state_file: ${join(dir, 'state.json')}, drift_interval: 1s, coalesce: 5ms}
services:
  std: {interface: em0, external: [203.0.113.10], ports: [80, 443]}
hosts:
${hosts}${extra}`;
}

function owners(): Array<string | null> {
  return Array.from({ length: 64 }, (_, b) => driver.buckets.get(b)?.host ?? null);
}


before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pfsteer-daemon-'));
  backends.push(...(await startBackends(3)));
  await writeFile(join(dir, 'pfsteer.yaml'), config());
});

after(async () => {
  for (const b of backends) b.server.close();
  await rm(dir, { recursive: true, force: true });
});

const settle = FALL * INTERVAL + TIMEOUT + 1000;

test('the daemon steers, moves only a failed host\'s buckets, restores them, and restarts without loading anything', async () => {
  let daemon = await Daemon.start(join(dir, 'pfsteer.yaml'), parts, logger);
  try {
    assert.equal(driver.loads.length, 64);
    const initial = owners();
    for (const host of ['lb1', 'lb2', 'lb3']) assert.ok(Math.abs(initial.filter((o) => o === host).length - 64 / 3) < 1);

    backends[1]!.healthy = false;
    await until(() => !owners().includes('lb2'), settle, 'lb2 buckets moved');
    const down = owners();
    for (let b = 0; b < 64; b++) if (initial[b] !== 'lb2') assert.equal(down[b], initial[b], `bucket ${b} moved although its host is up`);

    backends[1]!.healthy = true;
    await until(() => owners().every((o, b) => o === initial[b]), 2 * INTERVAL * 2 + 1000, 'identical mapping back');

    await daemon.close();
    const loadsBefore = driver.loads.length;
    daemon = await Daemon.start(join(dir, 'pfsteer.yaml'), parts, logger);
    assert.equal(driver.loads.length, loadsBefore, 'a restart with nothing changed loads nothing');
  } finally {
    await daemon.close();
  }
});

test('drain over the control socket persists across restarts; undrain restores the mapping; states are counted', async () => {
  let daemon = await Daemon.start(join(dir, 'pfsteer.yaml'), parts, logger);
  const socket = join(dir, 'control.sock');
  try {
    const initial = owners();
    await callControl(socket, 'POST', '/drain/lb1');
    assert.ok(!owners().includes('lb1'));
    const saved = JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')) as { drained: string[]; since: Record<string, string> };
    assert.deepEqual(saved.drained, ['lb1']);
    assert.ok(Math.abs(Date.parse(saved.since.lb1!) - Date.now()) < 60_000, 'the drain\'s time is kept');

    driver.states.push({ address: parseAddress('10.0.1.11')!, count: 3 });
    assert.deepEqual(await callControl(socket, 'GET', '/states/lb1'), { host: 'lb1', states: 3 });
    driver.states[0]!.count = 0;
    assert.deepEqual(await callControl(socket, 'GET', '/states/lb1'), { host: 'lb1', states: 0 });

    await daemon.close();
    daemon = await Daemon.start(join(dir, 'pfsteer.yaml'), parts, logger);
    assert.ok(!owners().includes('lb1'), 'the drain survived the restart');
    const status = await callControl<{ hosts: Array<{ name: string; drained: boolean }> }>(socket, 'GET', '/status');
    assert.equal(status.hosts.find((h) => h.name === 'lb1')?.drained, true);

    await callControl(socket, 'POST', '/undrain/lb1');
    assert.deepEqual(owners(), initial);
    await assert.rejects(callControl(socket, 'POST', '/drain/nope'), (error: { code: string }) => error.code === 'unknown-host');
  } finally {
    await daemon.close();
  }
});

test('a broken config on reload keeps the old one; drift and failed loads are repaired', async () => {
  const daemon = await Daemon.start(join(dir, 'pfsteer.yaml'), parts, logger);
  try {
    const initial = owners();
    await writeFile(join(dir, 'pfsteer.yaml'), config('  lb9: {weight: 0}\n'));
    const result = (await daemon.reload()) as { ok: boolean; issues: Array<{ code: string }> };
    assert.equal(result.ok, false);
    assert.ok(result.issues.length > 0);
    assert.deepEqual(owners(), initial);
    await writeFile(join(dir, 'pfsteer.yaml'), config());

    driver.failing.add(5);
    driver.buckets.delete(5);
    driver.buckets.delete(6);
    await until(() => driver.buckets.has(6), 3000, 'a deleted bucket repaired within the drift interval');
    assert.ok(!driver.buckets.has(5), 'a failing bucket stays unloaded while pf refuses it');
    driver.failing.delete(5);
    await until(() => driver.buckets.get(5)?.host === initial[5], 5000, 'the failed bucket retried');
  } finally {
    await daemon.close();
  }
});
