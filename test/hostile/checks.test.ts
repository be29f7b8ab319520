/**
 * Hostile exec checks side by side with a plain one: a grandchild that escapes the group, endless
 * output, a program that shrugs off SIGINT, a grandchild holding the pipes, a program that does
 * not exist and one that is not executable. The plain check keeps its schedule, every hostile
 * one ends in a verdict with its own code each interval, and close() is bounded.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import type { ExecCheck } from '../../src/config/model.ts';
import { HealthMonitor } from '../../src/health/monitor.ts';
import { DRAIN_MS } from '../../src/health/run-command.ts';
import type { CheckResult } from '../../src/health/types.ts';

const BIN = fileURLToPath(new URL('../fixtures/bin/', import.meta.url));
const SLACK = 500;

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
    const lines = (await readFile(pidFile, 'utf8').catch(() => '')).split('\n');
    for (const line of lines.filter((l) => l.startsWith('escaped '))) {
      try {
        process.kill(Number(line.slice('escaped '.length)), 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    await rm(dir, { recursive: true, force: true });
  }
});
