/**
 * Hostile exec checks side by side with a plain one: a grandchild that escapes the group, endless
 * output, a program that shrugs off SIGINT, a grandchild holding the pipes, a program that does
 * not exist and one that is not executable. The plain check keeps its schedule, every hostile
 * one ends in a verdict with its own code each interval, and close() is bounded.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { pino } from 'pino';
import type { ExecCheck } from '../../src/config/model.ts';
import { callControl } from '../../src/daemon/control-client.ts';
import { HealthMonitor } from '../../src/health/monitor.ts';
import { DRAIN_MS } from '../../src/health/run-command.ts';
import type { CheckResult } from '../../src/health/types.ts';

const BIN = fileURLToPath(new URL('../fixtures/bin/', import.meta.url));
const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const SLACK = 500;

/** Kills, by pid, the grandchildren that escaped their group (`escaped PID` lines of the pid file). */
async function killEscaped(pidFile: string): Promise<number> {
  const lines = (await readFile(pidFile, 'utf8').catch(() => '')).split('\n').filter((l) => l.startsWith('escaped '));
  for (const line of lines) {
    try {
      process.kill(Number(line.slice('escaped '.length)), 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  return lines.length;
}

test('hostile exec checks beside a plain one: verdicts on schedule, each with its code, close() bounded', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pfsteer-hostile-'));
  const pidFile = join(dir, 'pids');
  const timing = { interval: 600, timeout: 400, rise: 1, fall: 1, fastinter: 600, downinter: 600, jitter: 0 };
  const exec = (name: string, command: string[], env: Record<string, string> = {}): ExecCheck => ({ ...timing, type: 'exec', name, command, env: { PFSTEER_PIDS: pidFile, ...env }, killAfter: 200, maxOutput: 1024 });
  const checks: Array<[ExecCheck, readonly string[]]> = [
    [exec('plain', [join(BIN, 'exit1')]), ['exit-code']],
    [exec('escapes', [join(BIN, 'setsid-exit')]), ['escaped']],
    [exec('floods', [join(BIN, 'flood'), 'forever']), ['timeout']],
    [exec('stubborn', [join(BIN, 'ignore-sigint')]), ['timeout']],
    [exec('holder', [join(BIN, 'fork-holder')]), ['timeout']],
    [exec('missing', [join(dir, 'no-such-program')]), ['spawn-failed']],
    [exec('not-executable', [join(BIN, '..', 'config', 'valid', 'minimal.yaml')]), ['spawn-failed']],
  ];
  const results = new Map<string, CheckResult[]>();
  const monitor = new HealthMonitor(
    checks.map(([check]) => ({ name: `h-${check.name}`, weight: 1, targets: {}, checks: [check] })),
    pino({ level: 'silent' }),
    { result: (_host, check, result) => results.set(check, [...(results.get(check) ?? []), result]) },
  );
  try {
    monitor.start();
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const closing = performance.now();
    await monitor.close();
    const closeMs = performance.now() - closing;
    const plain = results.get('plain')?.length ?? 0;
    assert.ok(plain >= 4, `the plain check ran ${plain} times in 3 s at a 600 ms interval`);
    for (const [check, codes] of checks) {
      const runs = results.get(check.name) ?? [];
      // A run lasts at most timeout + kill_after + the drain, under the 600 ms interval plus that.
      assert.ok(runs.length >= 3, `${check.name} ran ${runs.length} times`);
      for (const run of runs) assert.ok(codes.includes(run.code), `${check.name}: ${run.code} ${run.detail}`);
    }
    assert.ok(closeMs <= 200 + DRAIN_MS + SLACK, `close() took ${closeMs} ms`);
  } finally {
    // The escaped grandchildren are outside every group the checker kills: end them by pid.
    await killEscaped(pidFile);
    await rm(dir, { recursive: true, force: true });
  }
});

test('pfsteer run with a check whose grandchild escapes: the host is up and SIGTERM ends the daemon at once', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pfsteer-hostile-'));
  const file = join(dir, 'pfsteer.yaml');
  const socket = join(dir, 'control.sock');
  const pidFile = join(dir, 'pids');
  await writeFile(
    file,
    `driver: memory
buckets: {count: 16}
control: {socket: ${socket}, mode: "0600"}
daemon: {state_file: ${join(dir, 'state.json')}}
defaults: {interval: 1s, timeout: 800ms, rise: 1, fall: 1}
services:
  std: {interface: em0, external: [203.0.113.10], ports: [443]}
hosts:
  lb1:
    addresses: {std: 10.0.1.11}
    checks: [{type: exec, command: [${join(BIN, 'setsid-exit')}], env: {PFSTEER_PIDS: ${pidFile}}}]
  lb2: {addresses: {std: 10.0.1.12}}
`,
  );
  const daemon = execa(process.execPath, [MAIN, 'run', '-c', file], { reject: false });
  try {
    let up = false;
    for (let i = 0; i < 100 && !up; i++) {
      const status = await callControl<{ hosts: Array<{ name: string; state: string }> }>(socket, 'GET', '/status', 1000).catch(() => undefined);
      up = status?.hosts.some((h) => h.name === 'lb1' && h.state === 'up') ?? false;
      if (!up) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.ok(up, 'lb1 never came up: its check exits 0');
  } finally {
    const stopping = performance.now();
    daemon.kill('SIGTERM');
    const result = await daemon;
    const stopMs = performance.now() - stopping;
    const escaped = await killEscaped(pidFile);
    await rm(dir, { recursive: true, force: true });
    assert.equal(result.exitCode, 0, result.stderr);
    assert.ok(escaped >= 1, 'the check never ran');
    // The daemon waits for a run in flight: at most its timeout, kill_after and the drain.
    assert.ok(stopMs <= 800 + 2000 + DRAIN_MS + 2 * SLACK, `SIGTERM took ${stopMs} ms`);
  }
});
