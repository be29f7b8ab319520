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
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { runOrUsage } from '../pf-emulator/cli.ts';
import { Store } from '../pf-emulator/store.ts';
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

function emulatorStore(): Record<'freebsd' | 'openbsd', Store> {
  const make = (os: string): Store => {
    const dir = mkdtempSync(join(tmpdir(), 'pfsteer-table-diff-'));
    writeFileSync(join(dir, 'os'), os);
    return new Store(dir);
  };
  return { freebsd: make('freebsd'), openbsd: make('openbsd') };
}

/** `pfctl -n -t T -T cmd`: pfctl reads and checks the addresses, then skips every ioctl. */
const TABLE_CALLS: Array<{ os: 'freebsd' | 'openbsd'; args: string[]; input?: string }> = [
  ...(['freebsd', 'openbsd'] as const).flatMap((os) => [
    { os, args: ['delete', '10.0.0.0/8', '!10.1.0.0/16', '2001:db8::/32', '10.1.2.3/16'] },
    { os, args: ['delete', '10.1.0.0/33'] },
    { os, args: ['delete', '2001:db8::/129'] },
    { os, args: ['delete', 'nosuchhost.invalid'] },
    { os, args: ['delete', '10.0.0.0/8junk'] },
    { os, args: ['delete', '-f', '-'], input: '10.2.0.0/16 # moved\n10.3.0.0/16\n' },
    { os, args: ['delete', '-f', '-'], input: '10.2.0.0/16\n10.3.0.0/33\n' },
    { os, args: ['flush'] },
    { os, args: ['show', '10.0.0.0/8'] },
  ]),
  { os: 'freebsd', args: ['add', '10.0.0.0/8', '10.1.0.0/16'] },
  { os: 'freebsd', args: ['replace', '-f', '-'], input: '10.0.0.0/8\n' },
  { os: 'freebsd', args: ['add', '-f', '-'], input: 'bogus\n' },
];

test('live: -n table commands read and refuse addresses as real pfctl does', { skip: pfparse.path ? false : `pfparse not found (looked at ${pfparse.looked.join(', ')})` }, () => {
  const store = emulatorStore();
  for (const c of TABLE_CALLS) {
    const argv = ['-n', '-a', 'pfsteer', '-t', 't', '-T', ...c.args];
    const real = spawnSync(join(dirname(pfparse.path!), c.os === 'freebsd' ? 'pfctl-freebsd12' : 'pfctl-openbsd'), argv, { encoding: 'utf8', input: c.input ?? '' });
    const emulated = runOrUsage(argv, () => c.input ?? '', store[c.os]);
    // The builds run as pfctl-<os> on Linux, where strerror(0) is "Success".
    const normal = (s: string) => s.replace(/^(usage: )?pfctl-(?:freebsd12|openbsd)\b/gm, '$1pfctl').replaceAll('Success', 'Undefined error: 0');
    assert.deepEqual([emulated.code, emulated.stderr], [real.status === 255 ? 255 : real.status, normal(real.stderr)], `${c.os}: pfctl ${argv.join(' ')}`);
  }
});
