/**
 * `npm run bench:exec-output`: the daemon-side CPU of one exec check that prints 100 MB
 * (`head -c 100M /dev/zero`) with `max_output: 1 MB`, against the same run with `max_output: 0`
 * (only reading the pipe), side by side, 5 rounds each, medians. process.cpuUsage() counts this
 * process only: the writer is a child. Writes bench/results/exec-output.md.
 */
import { writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { runCommand } from '../src/health/run-command.ts';

const BYTES = 100 * 1024 * 1024;
const ROUNDS = 5;
const LIMITS = [1024 * 1024, 0];

async function measure(maxOutput: number): Promise<{ cpuMs: number; wallMs: number; code: string }> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const run = runCommand({ argv: ['head', '-c', String(BYTES), '/dev/zero'], timeout: 60_000, killAfter: 1000, maxOutput });
  const result = await run.result;
  await run.gone;
  const used = process.cpuUsage(cpu);
  return { cpuMs: (used.user + used.system) / 1000, wallMs: performance.now() - started, code: result.code };
}

const median = (values: number[]) => values.toSorted((a, b) => a - b)[Math.floor(values.length / 2)]!;

const samples = new Map<number, { cpuMs: number; wallMs: number; code: string }[]>(LIMITS.map((limit) => [limit, []]));
for (let round = 0; round < ROUNDS; round++) for (const limit of LIMITS) samples.get(limit)!.push(await measure(limit));

const rows = LIMITS.map((limit) => {
  const runs = samples.get(limit)!;
  return { limit, cpuMs: median(runs.map((r) => r.cpuMs)), wallMs: median(runs.map((r) => r.wallMs)), codes: [...new Set(runs.map((r) => r.code))].join(',') };
});
const [ring, bare] = rows as [(typeof rows)[0], (typeof rows)[0]];
const report = [
  '# exec check output: 100 MB printed, max_output 1 MB',
  '',
  `${cpus()[0]?.model ?? 'unknown CPU'}, node ${process.version}; medians of ${ROUNDS} rounds, interleaved.`,
  '',
  '| max_output | CPU (ms, this process) | wall (ms) | result |',
  '|---:|---:|---:|---|',
  ...rows.map((r) => `| ${r.limit} | ${r.cpuMs.toFixed(0)} | ${r.wallMs.toFixed(0)} | ${r.codes} |`),
  '',
  `Keeping the last 1 MB costs ${(ring.cpuMs / bare.cpuMs).toFixed(2)}x the CPU of only reading the pipe.`,
  '',
].join('\n');
process.stdout.write(report);
if (!process.argv.includes('--no-write')) await writeFile(new URL('./results/exec-output.md', import.meta.url), report);
