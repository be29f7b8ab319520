/**
 * The emulator's grammar against real pfctl's (`pfctl -n [-a A] -f FILE`): same verdict, same
 * stderr. Two ways, so that a machine without pfparse still checks something real:
 * - recorded: every case of the corpus against pfparse's answers recorded in
 *   fixtures/pfparse-corpus.json (re-record with `node test/pf/pfparse-corpus.ts`);
 * - live, where pfparse exists ($PFSTEER_PFPARSE or ../shared/pfreal/pfparse next to the
 *   repository): the recorded answers are still pfparse's, and fresh random layouts of this run's
 *   seed get the same answers from both. Without pfparse this part is skipped and says where it
 *   looked; the recorded part still runs.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { ParseCase, RecordedCase } from './pfparse-corpus.ts';
import { askEmulator, askPfparse, corpusCases, FIXTURE, findPfparse, layoutCases } from './pfparse-corpus.ts';

const recorded = JSON.parse(readFileSync(FIXTURE, 'utf8')) as RecordedCase[];
const pfparse = findPfparse();

function describe(c: ParseCase): string {
  return `${c.name}: pfctl -n${c.anchor === undefined ? '' : ` -a ${c.anchor}`} -f FILE with FILE =\n${c.text}`;
}

test('the recorded corpus is the one the code generates (re-record after changing the cases)', () => {
  const strip = (c: ParseCase): ParseCase => ({ name: c.name, os: c.os, text: c.text, ...(c.anchor === undefined ? {} : { anchor: c.anchor }) });
  assert.deepEqual(recorded.map(strip), corpusCases().map(strip));
  assert.ok(recorded.some((c) => c.exit === 0) && recorded.some((c) => c.exit === 1), 'the corpus holds accepted and rejected inputs');
});

test('recorded: the emulator accepts and rejects every corpus input as real pfctl did, with its stderr', () => {
  for (const c of recorded) assert.deepEqual(askEmulator(c), { exit: c.exit, stderr: c.stderr }, describe(c));
});

test('live: pfparse still answers as recorded, and the emulator answers fresh random layouts as pfparse does', { skip: pfparse.path ? false : `pfparse not found (looked at ${pfparse.looked.join(', ')}); set PFSTEER_PFPARSE to run it` }, () => {
  const path = pfparse.path!;
  for (const c of recorded) assert.deepEqual(askPfparse(path, c), { exit: c.exit, stderr: c.stderr }, `pfparse no longer answers as recorded: ${describe(c)}`);
  const seed = Date.now() % 2 ** 31;
  for (const c of layoutCases(150, seed)) assert.deepEqual(askEmulator(c), askPfparse(path, c), `seed ${seed}: ${describe(c)}`);
});
