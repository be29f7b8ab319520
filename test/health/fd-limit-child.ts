/**
 * Run by exec-check.test.ts under a low file-descriptor limit: uses up every descriptor but k,
 * for k from 0 to 8, runs an exec check each time and prints one JSON line per result. Any
 * throw or unhandled error ends it with a non-zero status.
 */
import { closeSync, openSync } from 'node:fs';
import { runExecCheck } from '../../src/health/exec-check.ts';

const held: number[] = [];
/** Opens /dev/null until no descriptor is left: node itself may have taken some meanwhile. */
function fill(): void {
  for (;;) {
    try {
      held.push(openSync('/dev/null', 'r'));
    } catch {
      return;
    }
  }
}
fill();
const check = { type: 'exec', name: 'true', command: ['true'], env: {}, killAfter: 300, maxOutput: 4096, interval: 2000, timeout: 1000, rise: 1, fall: 1, fastinter: 2000, downinter: 2000, jitter: 0 } as const;
for (let free = 0; free <= 8; free++) {
  const freed = held.splice(0, free);
  for (const fd of freed) closeSync(fd);
  const run = runExecCheck({ ...check, command: [...check.command], env: {} }, new AbortController().signal);
  const result = await run.result;
  await run.gone;
  process.stdout.write(`${JSON.stringify({ free, code: result.code, detail: result.detail })}\n`);
  fill();
}
