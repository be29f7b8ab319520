/**
 * `policy.kill_states_on_down` in the running daemon (in process, memory driver): which downs
 * kill a host's states and which keep them, the reason logged and counted. Each host's exec
 * check exits with the status written in its file, so a test says what the check answers.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import type { KillStatesPolicy } from '../../src/config/model.ts';
import { Daemon, type DaemonParts } from '../../src/daemon/daemon.ts';
import { realParts } from '../../src/daemon/parts.ts';
import { MemoryDriver } from '../../src/drivers/memory.ts';
import { parseAddress } from '../../src/net/address.ts';
import { until } from '../support/until.ts';

const INTERVAL = 1000;
const HOSTS = ['lb1', 'lb2', 'lb3'];
const address = (i: number) => `10.0.1.${11 + i}`;
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pfsteer-kill-'));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const exitFile = (host: string) => join(dir, `${host}.exit`);

async function answer(host: string, status: number): Promise<void> {
  await writeFile(exitFile(host), `${status}\n`);
}

async function writeConfig(policy?: KillStatesPolicy): Promise<string> {
  const hosts = HOSTS.map(
    (h, i) => `  ${h}:\n    addresses: {std: ${address(i)}}\n    checks:\n      - {type: exec, command: [/bin/sh, -c, 'exit $(cat ${exitFile(h)})']}\n`,
  ).join('');
  const file = join(dir, 'pfsteer.yaml');
  await writeFile(
    file,
    `defaults: {interval: ${INTERVAL}ms, timeout: 800ms, rise: 1, fall: 1, jitter: 0ms}
buckets: {count: 16}
driver: memory
${policy ? `policy: {kill_states_on_down: ${policy}}\n` : ''}control: {socket: ${join(dir, 'control.sock')}, mode: "0600"}
daemon: {state_file: ${join(dir, 'state.json')}, coalesce: 5ms}
services:
  std: {interface: em0, external: [203.0.113.10], ports: [443]}
hosts:
${hosts}`,
  );
  return file;
}

interface Run {
  daemon: Daemon;
  driver: MemoryDriver;
  lines: Array<Record<string, unknown>>;
}

/** A daemon with every host up and 5 states to each; `body` acts, then the daemon closes. */
async function withDaemon(policy: KillStatesPolicy | undefined, body: (run: Run) => Promise<void>): Promise<void> {
  for (const h of HOSTS) await answer(h, 0);
  const file = await writeConfig(policy);
  const driver = new MemoryDriver();
  for (let i = 0; i < HOSTS.length; i++) driver.states.push({ address: parseAddress(address(i))!, count: 5 });
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
  const parts: DaemonParts = { createDriver: () => driver, createHealth: realParts.createHealth };
  const daemon = await Daemon.start(file, parts, logger);
  try {
    await body({ daemon, driver, lines });
  } finally {
    await daemon.close();
  }
}

const statesOf = (driver: MemoryDriver, host: string) => driver.states[HOSTS.indexOf(host)]!.count;
const owns = (driver: MemoryDriver, host: string) => [...driver.buckets.values()].some((a) => a.host === host);

/** Waits until `host` lost its buckets and the daemon logged what it did with its states. */
async function downAndDecided(run: Run, host: string): Promise<Record<string, unknown>> {
  await until(() => !owns(run.driver, host), 10_000, `${host}'s buckets moved`);
  let line: Record<string, unknown> | undefined;
  await until(() => (line = run.lines.find((l) => l.host === host && /states of a down host/.test(String(l.msg)))) !== undefined, 5000, `${host}'s states decided`);
  return line!;
}

async function killedMetric(daemon: Daemon): Promise<string[]> {
  const text = await daemon.metrics.registry.metrics();
  return text.split('\n').filter((l) => l.startsWith('pfsteer_states_killed_total{'));
}

test('default (unreachable): a check that answers "not ready" keeps the states; exit 69 (cannot reach) kills them, with its reason logged and counted', async () => {
  await withDaemon(undefined, async (run) => {
    await answer('lb2', 1);
    const kept = await downAndDecided(run, 'lb2');
    assert.equal(kept.msg, 'states of a down host kept');
    assert.equal(kept.reason, 'exit-code');
    assert.equal(statesOf(run.driver, 'lb2'), 5);

    await answer('lb3', 69);
    const killed = await downAndDecided(run, 'lb3');
    assert.equal(killed.msg, 'killed states of a down host');
    assert.equal(killed.reason, 'exit-unreachable');
    assert.equal(killed.killed, 5);
    assert.equal(statesOf(run.driver, 'lb3'), 0);
    assert.deepEqual(await killedMetric(run.daemon), ['pfsteer_states_killed_total{host="lb3",reason="exit-unreachable"} 5']);
  });
});

test('a drained host that then fails as unreachable keeps its states', async () => {
  await withDaemon(undefined, async (run) => {
    await run.daemon.drain('lb1');
    await answer('lb1', 69);
    await until(() => run.lines.some((l) => l.host === 'lb1' && l.msg === 'lb1 up -> down'), 10_000, 'lb1 down');
    await new Promise((r) => setTimeout(r, 3 * INTERVAL));
    assert.equal(statesOf(run.driver, 'lb1'), 5);
    assert.ok(!run.lines.some((l) => /states of a down host/.test(String(l.msg))), 'no decision is even logged for a drained host');
  });
});

test('always kills on a "not ready" answer; never keeps on an unreachable one', async () => {
  await withDaemon('always', async (run) => {
    await answer('lb2', 1);
    assert.equal((await downAndDecided(run, 'lb2')).reason, 'always');
    assert.equal(statesOf(run.driver, 'lb2'), 0);
  });
  await withDaemon('never', async (run) => {
    await answer('lb2', 69);
    const line = await downAndDecided(run, 'lb2');
    assert.deepEqual([line.msg, line.reason], ['states of a down host kept', 'never']);
    assert.equal(statesOf(run.driver, 'lb2'), 5);
    assert.deepEqual(await killedMetric(run.daemon), []);
  });
});
