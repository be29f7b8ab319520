import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { pino } from 'pino';
import type { ExecCheck } from '../../src/config/model.ts';
import { runExecCheck } from '../../src/health/exec-check.ts';
import { HealthMonitor } from '../../src/health/monitor.ts';
import { DRAIN_MS } from '../../src/health/run-command.ts';
import type { CheckResult } from '../../src/health/types.ts';

const BIN = fileURLToPath(new URL('../fixtures/bin/', import.meta.url));
// Timers, process start-up and a loaded CI machine; an upper bound, not a speed target.
const SLACK = 500;

function execCheck(command: string[], overrides: Partial<ExecCheck> = {}): ExecCheck {
  return {
    type: 'exec',
    name: 'script',
    command,
    env: {},
    killAfter: 300,
    maxOutput: 4096,
    interval: 2000,
    timeout: 500,
    rise: 2,
    fall: 3,
    fastinter: 2000,
    downinter: 2000,
    jitter: 0,
    ...overrides,
  };
}

interface Outcome {
  result: CheckResult;
  /** Monotonic ms from the start of the run to the verdict. */
  verdictAfter: number;
  /** Every pid the fixture and its descendants wrote down, but those that left the group. */
  pids: number[];
  /** Pids that left the process group (`escaped PID` lines): the checker cannot kill them. */
  escaped: number[];
}

/** Escaped grandchildren of every test, killed by pid when the file's tests are over. */
const escapees = new Set<number>();
after(() => {
  for (const pid of escapees) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
});

/** The pid file's lines: `PID` for members of the check's group, `escaped PID` for the others. */
async function readPidFile(file: string): Promise<{ pids: number[]; escaped: number[] }> {
  const lines = (await readFile(file, 'utf8').catch(() => '')).split('\n').filter(Boolean);
  const escaped = lines.filter((line) => line.startsWith('escaped ')).map((line) => Number(line.slice('escaped '.length)));
  for (const pid of escaped) escapees.add(pid);
  return { pids: lines.filter((line) => !line.startsWith('escaped ')).map(Number), escaped };
}

/**
 * Runs one check with a pid file in its environment, waits until nothing of the run is left,
 * and reads back the pids the fixture recorded.
 */
async function runFixture(name: string, args: string[], overrides: Partial<ExecCheck> = {}, during?: (pids: () => Promise<number[]>) => Promise<void>): Promise<Outcome> {
  const dir = await mkdtemp(join(tmpdir(), 'pfsteer-exec-'));
  const pidFile = join(dir, 'pids');
  const readPids = async () => (await readPidFile(pidFile)).pids;
  try {
    const check = execCheck([join(BIN, name), ...args], { ...overrides, env: { PFSTEER_PIDS: pidFile, ...overrides.env } });
    const started = performance.now();
    const run = runExecCheck(check, new AbortController().signal);
    const duringDone = during?.(readPids);
    const result = await run.result;
    const verdictAfter = performance.now() - started;
    await duringDone;
    await run.gone;
    return { result, verdictAfter, ...(await readPidFile(pidFile)) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** running, zombie (dead, not yet reaped by its parent) or gone (ESRCH), from kill(pid, 0) and /proc. */
async function processState(pid: number): Promise<'running' | 'zombie' | 'gone'> {
  try {
    process.kill(pid, 0);
  } catch (error) {
    assert.equal((error as NodeJS.ErrnoException).code, 'ESRCH');
    return 'gone';
  }
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z') ? 'zombie' : 'running';
}

/** Pids of processes in any of the given process groups, from /proc. */
async function groupMembers(groups: readonly number[]): Promise<number[]> {
  const members: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => undefined);
    if (stat === undefined) continue;
    // Fields after the parenthesised command: state ppid pgrp ...
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (groups.includes(Number(fields[2]))) members.push(Number(entry));
  }
  return members;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Every recorded pid is dead when the run is gone, and then reaped (ESRCH). An orphaned
 * grandchild is reaped by init, which some sandboxes do lazily, so ESRCH may take a while;
 * a zombie already holds no resources but its pid.
 */
async function assertNoneSurvive(pids: readonly number[], expected: number): Promise<void> {
  assert.equal(pids.length, expected, `the fixture should have recorded ${expected} pid(s), got ${pids.join(', ')}`);
  // SIGKILL is delivered asynchronously; a killed process needs to be scheduled once to die.
  await sleep(50);
  for (const pid of pids) assert.notEqual(await processState(pid), 'running', `pid ${pid} is still running after the run was gone`);
  const until = performance.now() + 10_000;
  while ((await groupMembers(pids)).length > 0 && performance.now() < until) await sleep(50);
  for (const pid of pids) assert.equal(await processState(pid), 'gone', `pid ${pid} was never reaped`);
  assert.deepEqual(await groupMembers(pids), [], "a process of the check's group survived");
}

test('hang: the verdict is timeout at the deadline, and the process is gone', async () => {
  const { result, verdictAfter, pids } = await runFixture('hang', [], { timeout: 400 });
  assert.equal(result.ok, false);
  assert.equal(result.code, 'timeout');
  assert.ok(verdictAfter >= 400 - 5, `verdict after ${verdictAfter} ms, before the 400 ms deadline`);
  assert.ok(verdictAfter <= 400 + SLACK, `verdict after ${verdictAfter} ms, expected by ${400 + SLACK}`);
  await assertNoneSurvive(pids, 1);
});

test('ignore-sigint: the verdict still comes at the deadline; SIGKILL after kill_after ends it', async () => {
  const started = performance.now();
  const { result, verdictAfter, pids } = await runFixture('ignore-sigint', [], { timeout: 400, killAfter: 600 });
  const goneAfter = performance.now() - started;
  assert.equal(result.code, 'timeout');
  assert.ok(verdictAfter <= 400 + SLACK, `verdict after ${verdictAfter} ms, expected by ${400 + SLACK}`);
  // SIGINT alone did not end it: it lived on until the SIGKILL.
  assert.ok(goneAfter >= 400 + 600 - 5, `gone after ${goneAfter} ms, before the SIGKILL was due`);
  assert.ok(goneAfter <= 400 + 600 + SLACK, `gone after ${goneAfter} ms`);
  await assertNoneSurvive(pids, 1);
});

test('fork-holder: a grandchild holding stdout open dies with the run', async () => {
  const { result, verdictAfter, pids } = await runFixture('fork-holder', [], { timeout: 400 });
  assert.equal(result.code, 'timeout');
  assert.ok(verdictAfter <= 400 + SLACK, `verdict after ${verdictAfter} ms`);
  await assertNoneSurvive(pids, 2);
});

test('fork-holder exit: a check that exits 0 at once is ok at once, and its grandchild is killed', async () => {
  const { result, verdictAfter, pids } = await runFixture('fork-holder', ['exit'], { timeout: 2000 });
  assert.equal(result.code, 'ok', result.detail);
  assert.equal(result.ok, true);
  assert.ok(verdictAfter < 2000, `verdict after ${verdictAfter} ms: it waited for the deadline, not the exit`);
  await assertNoneSurvive(pids, 2);
});

test('exit1: exit-code with the reason the script printed', async () => {
  const { result, pids } = await runFixture('exit1', []);
  assert.equal(result.ok, false);
  assert.equal(result.code, 'exit-code');
  assert.match(result.detail, /^exit 1: backend pool empty: 0 of 2 servers up$/);
  await assertNoneSurvive(pids, 1);
});

test('a process killed by someone else is `killed`, with the signal named', async () => {
  const { result, pids } = await runFixture('hang', [], { timeout: 5000 }, async (readPids) => {
    let pids: number[] = [];
    while (pids.length === 0) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      pids = await readPids();
    }
    process.kill(pids[0]!, 'SIGTERM');
  });
  assert.equal(result.code, 'killed');
  assert.match(result.detail, /SIGTERM/);
  await assertNoneSurvive(pids, 1);
});

test('flood: megabytes of output then exit 0 is ok, not an output limit', async () => {
  const { result, pids } = await runFixture('flood', [], { timeout: 10_000, maxOutput: 1024, env: { MB: '4' } });
  assert.equal(result.code, 'ok', result.detail);
  await assertNoneSurvive(pids, 1);
});

test('flood then exit 3: the detail keeps only the last max_output bytes of the output', async () => {
  const { result, pids } = await runFixture('flood', [], { timeout: 10_000, maxOutput: 1024, env: { MB: '4', STATUS: '3' } });
  assert.equal(result.code, 'exit-code');
  assert.match(result.detail, /^exit 3: [x\n]+flood done$/);
  assert.ok(result.detail.length <= 'exit 3: '.length + 1024, `detail of ${result.detail.length} characters`);
  await assertNoneSurvive(pids, 1);
});

test('flood forever: endless output ends at the deadline, output bounded, nothing left', async () => {
  const { result, verdictAfter, pids } = await runFixture('flood', ['forever'], { timeout: 1000, maxOutput: 1024 });
  assert.equal(result.code, 'timeout');
  assert.ok(verdictAfter <= 1000 + SLACK, `verdict after ${verdictAfter} ms`);
  assert.ok(result.detail.length <= 1024 + 100, `detail of ${result.detail.length} characters`);
  await assertNoneSurvive(pids, 1);
});

test('setsid-exit: a grandchild that left the group does not hold the verdict: exit 0 is ok (code escaped) at once', async () => {
  const started = performance.now();
  const { result, verdictAfter, pids, escaped } = await runFixture('setsid-exit', [], { timeout: 3000 });
  const goneAfter = performance.now() - started;
  assert.equal(result.ok, true, result.detail);
  assert.equal(result.code, 'escaped');
  assert.match(result.detail, /^exit 0; .*left its process group/);
  // The exit, then at most the bounded drain: not the 3 s deadline, not the grandchild's 301 s.
  assert.ok(verdictAfter <= DRAIN_MS + SLACK, `verdict after ${verdictAfter} ms`);
  assert.ok(goneAfter <= DRAIN_MS + SLACK, `gone after ${goneAfter} ms`);
  assert.equal(escaped.length, 1);
  // Outside the group the checker cannot reach it: it is reported, not killed (after() kills it).
  assert.equal(await processState(escaped[0]!), 'running');
  await assertNoneSurvive(pids, 1);
});

test('setsid-exit with exit 2: exit-code, its output and the escape in the detail', async () => {
  const { result, verdictAfter, escaped } = await runFixture('setsid-exit', [], { timeout: 3000, env: { STATUS: '2' } });
  assert.equal(result.ok, false);
  assert.equal(result.code, 'exit-code');
  assert.match(result.detail, /^exit 2: started a daemon; .*left its process group/);
  assert.ok(verdictAfter <= DRAIN_MS + SLACK, `verdict after ${verdictAfter} ms`);
  assert.equal(escaped.length, 1);
});

test('an escaping check keeps its schedule beside its neighbour, and close() is bounded', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pfsteer-exec-'));
  const pidFile = join(dir, 'pids');
  const timing = { interval: 500, timeout: 400, rise: 1, fall: 1, fastinter: 500, downinter: 500, jitter: 0 };
  const exec = (name: string, fixture: string): ExecCheck => ({ ...timing, type: 'exec', name, command: [join(BIN, fixture)], env: { PFSTEER_PIDS: pidFile }, killAfter: 300, maxOutput: 4096 });
  const runs = new Map<string, CheckResult[]>();
  const monitor = new HealthMonitor(
    [
      { name: 'lb1', weight: 1, targets: {}, checks: [exec('escapes', 'setsid-exit')] },
      { name: 'lb2', weight: 1, targets: {}, checks: [exec('plain', 'exit1')] },
    ],
    pino({ level: 'silent' }),
    { result: (host, _check, result) => runs.set(host, [...(runs.get(host) ?? []), result]) },
  );
  try {
    monitor.start();
    await sleep(2600);
    const closing = performance.now();
    await monitor.close();
    const closeMs = performance.now() - closing;
    const escaping = runs.get('lb1') ?? [];
    const plain = runs.get('lb2') ?? [];
    assert.ok(plain.length >= 4, `the neighbour ran ${plain.length} times`);
    // Each escaping run lasts its drain (250 ms) beyond the exit, inside its 500 ms interval when
    // the machine is idle; a loaded one stretches process start-up. Before the fix it ran once.
    assert.ok(escaping.length >= 3 && escaping.length * 2 >= plain.length, `the escaping check ran ${escaping.length} times, its neighbour ${plain.length}`);
    assert.ok(escaping.every((r) => r.ok && r.code === 'escaped'), escaping.map((r) => r.code).join(', '));
    assert.ok(closeMs <= 300 + DRAIN_MS + SLACK, `close() took ${closeMs} ms`);
  } finally {
    await readPidFile(pidFile);
    await rm(dir, { recursive: true, force: true });
  }
});

test('close() during a run that ignores SIGINT ends by kill_after plus the drain', async () => {
  const timing = { interval: 5000, timeout: 4000, rise: 1, fall: 1, fastinter: 5000, downinter: 5000, jitter: 0 };
  let began!: () => void;
  const running = new Promise<void>((resolve) => (began = resolve));
  const monitor = new HealthMonitor(
    [{ name: 'lb1', weight: 1, targets: {}, checks: [{ ...timing, type: 'exec', name: 'stubborn', command: [join(BIN, 'ignore-sigint')], env: {}, killAfter: 300, maxOutput: 4096 }] }],
    pino({ level: 'silent' }),
    { started: () => began() },
  );
  monitor.start();
  await running;
  await sleep(100);
  const closing = performance.now();
  await monitor.close();
  const closeMs = performance.now() - closing;
  assert.ok(closeMs >= 300 - 5, `close() took ${closeMs} ms: before the SIGKILL was due`);
  assert.ok(closeMs <= 300 + DRAIN_MS + SLACK, `close() took ${closeMs} ms`);
});

test('spawn failures are failed checks with their own code: not found, not executable', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pfsteer-exec-'));
  try {
    const script = join(dir, 'not-executable');
    await writeFile(script, '#!/bin/sh\nexit 0\n');
    await chmod(script, 0o644);
    for (const [command, reason] of [
      [join(dir, 'missing'), /not found/],
      [script, /permission denied/],
      [dir, /permission denied/],
    ] as const) {
      const run = runExecCheck(execCheck([command]), new AbortController().signal);
      const result = await run.result;
      await run.gone;
      assert.equal(result.ok, false);
      assert.equal(result.code, 'spawn-failed', result.detail);
      assert.match(result.detail, reason);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('out of file descriptors (EMFILE): spawn-failed, never a throw or an unhandled error', async () => {
  const child = fileURLToPath(new URL('./fd-limit-child.ts', import.meta.url));
  // 64 descriptors: enough for node to start, then the child uses up all but k of them.
  const { stdout } = await promisify(execFile)('sh', ['-c', `ulimit -n 64 && exec "${process.execPath}" "${child}"`], { timeout: 30_000 });
  const results = stdout.trim().split('\n').map((line) => JSON.parse(line) as { free: number; code: string; detail: string });
  assert.deepEqual(results.map((r) => r.free), [0, 1, 2, 3, 4, 5, 6, 7, 8]);
  for (const r of results) assert.ok(r.code === 'ok' || r.code === 'spawn-failed', `${r.free} free: ${r.code} ${r.detail}`);
  assert.equal(results[0]!.code, 'spawn-failed');
  assert.match(results[0]!.detail, /EMFILE/);
  assert.equal(results.at(-1)!.code, 'ok', 'with 8 descriptors free the check runs');
});
