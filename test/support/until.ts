import assert from 'node:assert/strict';

/** Polls `condition` until it holds; fails the test naming `what` after `withinMs`. Returns the wait. */
export async function until(condition: () => boolean, withinMs: number, what: string, everyMs = 10): Promise<number> {
  const start = performance.now();
  while (!condition()) {
    if (performance.now() - start > withinMs) assert.fail(`${what}: not within ${withinMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  return performance.now() - start;
}
