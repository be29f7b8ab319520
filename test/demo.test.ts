import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { execa } from 'execa';

test('npm run demo --quick: every event moves exactly the minimum, and everything is cleaned up', { timeout: 120_000 }, async () => {
  const r = await execa(process.execPath, ['examples/demo/demo.ts', '--quick'], { reject: false, timeout: 110_000 });
  assert.equal(r.exitCode, 0, `${r.stdout}\n${r.stderr}`);
  const rows = [...r.stdout.matchAll(/^ {2}event: (.+?): moved (\d+), minimum (\d+), between other hosts (\d+),/gm)].map((m) => ({
    event: m[1],
    moved: Number(m[2]),
    minimum: Number(m[3]),
    collateral: Number(m[4]),
  }));
  assert.deepEqual(rows.map((x) => x.event), ['lb2 backend stopped', 'drain lb1', 'lb2 backend back', 'undrain lb1']);
  for (const row of rows) {
    assert.ok(row.minimum > 0, `${row.event} moved nothing`);
    assert.equal(row.moved, row.minimum, row.event);
    assert.equal(row.collateral, 0, row.event);
  }
  // B = 64 over three equal hosts: the leaving host's share, then half of what is left.
  assert.ok(rows[0]!.moved >= 21 && rows[0]!.moved <= 22);
  assert.equal(rows[1]!.moved, 32);
  assert.match(r.stdout, /driver pf, the real pf driver against the pf emulator/);
  assert.match(r.stdout, /^No real pf is touched/m);
  assert.match(r.stdout, /^No real pf was touched/m);
  const dir = /(\/\S+pfsteer-demo-\w+) removed/.exec(r.stdout)?.[1];
  assert.ok(dir && !existsSync(dir), 'the temporary folder is gone');
  assert.match(r.stdout, /stopped with SIGTERM \(exit 0\)/);
});
