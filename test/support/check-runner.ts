/**
 * Runs checks once each, concurrently, in this process (started inside a namespace by
 * `runChecksIn`); reads `{ checks }` as JSON on stdin, writes one `RunnerResult` per check.
 * Addresses travel as text.
 */
import { execa } from 'execa';
import { fileURLToPath } from 'node:url';
import type { Check } from '../../src/config/model.ts';
import { checkSession } from '../../src/health/run-check.ts';
import type { CheckResult } from '../../src/health/types.ts';
import { parseAddress } from '../../src/net/address.ts';
import { Lab } from '../e2e/netns.ts';

type Networked = Exclude<Check, { type: 'exec' }>;
export type CheckSpec = Omit<Networked, 'address'> & { address: string };

export interface RunnerResult extends CheckResult {
  name: string;
  /** From the run's start to its verdict, on this process's monotonic clock. */
  elapsed: number;
}

async function runOnce(spec: CheckSpec): Promise<RunnerResult> {
  const check = { ...spec, address: parseAddress(spec.address)! } as Check;
  const session = checkSession(check);
  const start = performance.now();
  try {
    const result = await session.run(new AbortController().signal).result;
    return { name: check.name, ...result, elapsed: performance.now() - start };
  } finally {
    await session.close();
  }
}

/** Runs `checks` once each inside namespace `ns`. */
export async function runChecksIn(lab: Lab, ns: string, checks: CheckSpec[]): Promise<RunnerResult[]> {
  const child = execa('ip', ['netns', 'exec', ns, process.execPath, fileURLToPath(import.meta.url)], { input: JSON.stringify({ checks }), reject: false, timeout: 60_000 });
  lab.track(child.pid);
  const r = await child;
  lab.untrack(child.pid);
  if (r.exitCode !== 0) throw new Error(`check runner exited ${r.exitCode}: ${r.stderr}`);
  return JSON.parse(r.stdout) as RunnerResult[];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  let input = '';
  for await (const chunk of process.stdin) input += chunk;
  const { checks } = JSON.parse(input) as { checks: CheckSpec[] };
  process.stdout.write(JSON.stringify(await Promise.all(checks.map(runOnce))));
}
