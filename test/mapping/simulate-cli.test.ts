import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execa } from 'execa';

const cli = (args: string[]) => execa(process.execPath, ['src/cli/main.ts', 'simulate', ...args], { reject: false });

test('simulate --json gives one owner per bucket and the movement of a host going down', async () => {
  const result = await cli(['--buckets', '64', '--hosts', 'lb1,lb2,lb3:2', '--down', 'lb2', '--json']);
  assert.equal(result.exitCode, 0);
  const report = JSON.parse(result.stdout) as { algorithm: string; buckets: number; owners: string[]; ownersBefore: string[]; moved: number; minimum: number; movedOverMinimum: number };
  assert.equal(report.algorithm, 'preference');
  assert.equal(report.owners.length, 64);
  assert.ok(!report.owners.includes('lb2'));
  assert.equal(report.moved, report.ownersBefore.filter((o) => o === 'lb2').length);
  assert.equal(report.movedOverMinimum, 1);
});

test('simulate prints a balance table and moved/minimum for an added host', async () => {
  const result = await cli(['--buckets', '256', '--hosts', 'lb1,lb2,lb3', '--add', 'lb4', '--algorithm', 'maglev']);
  assert.equal(result.exitCode, 0);
  assert.match(result.stdout, /^lb4 +1 +\d+ +64\.00/m);
  assert.match(result.stdout, /moved \d+ buckets; minimum 64\.00; moved\/minimum \d\.\d{3}/);
});

test('simulate rejects bad arguments with exit code 2', async () => {
  for (const args of [['--hosts', 'lb1,lb1'], ['--hosts', 'lb"1'], ['--hosts', 'lb1', '--down', 'lb9'], ['--hosts', 'lb1', '--buckets', 'x'], ['--hosts', 'lb1', '--algorithm', 'nope'], ['--hosts', 'lb1:0']]) {
    const result = await cli(args);
    assert.equal(result.exitCode, 2, args.join(' '));
    assert.notEqual(result.stderr, '');
  }
});
