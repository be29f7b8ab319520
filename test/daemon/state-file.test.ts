/** The state file under concurrent drains, a full disk and corruption. */
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { execa } from 'execa';
import { callControl } from '../../src/daemon/control-client.ts';
import { readState, writeState } from '../../src/daemon/state-file.ts';
import { Fixture } from './fixture.ts';

interface Status {
  hosts: Array<{ name: string; drained: boolean }>;
  stateFile: { path: string; problem: { code: string; copy: string | null } | null };
}

const drainedIn = (status: Status): string[] => status.hosts.filter((h) => h.drained).map((h) => h.name);

test('writes running at once all succeed, leave a valid file and no temporary files', async () => {
  const fx = await Fixture.create();
  try {
    await Promise.all(Array.from({ length: 40 }, (_, i) => writeState(fx.stateFile, { drained: [`lb${i % 5}`] })));
    assert.equal((await readState(fx.stateFile)).drained.length, 1);
    assert.deepEqual((await readdir(fx.dir)).filter((f) => f.endsWith('.tmp')), []);
  } finally {
    await fx.close();
  }
});

test('parallel drains and undrains: every answer 200, the file equals what the daemon holds, a restart reads it', async () => {
  const fx = await Fixture.create();
  try {
    await fx.start();
    for (let round = 0; round < 15; round++) {
      const calls = ['lb1', 'lb2', 'lb3'].flatMap((h) => [callControl(fx.socket, 'POST', `/drain/${h}`), callControl(fx.socket, 'POST', `/undrain/${h}`)]);
      await Promise.all(calls);
      const status = await callControl<Status>(fx.socket, 'GET', '/status');
      assert.deepEqual((await readState(fx.stateFile)).drained, drainedIn(status), `round ${round}`);
    }
    const before = drainedIn(await callControl<Status>(fx.socket, 'GET', '/status'));
    await fx.daemon!.close();
    await fx.start();
    assert.deepEqual(drainedIn(await callControl<Status>(fx.socket, 'GET', '/status')), before);
  } finally {
    await fx.close();
  }
});

test('an unreadable state file: the daemon starts without drains, keeps a copy, says so in status and metrics', async () => {
  const fx = await Fixture.create();
  try {
    const garbage = '{"drained":[]}\n3"]}\n';
    await writeFile(fx.stateFile, garbage);
    await fx.start();
    const status = await callControl<Status>(fx.socket, 'GET', '/status');
    assert.equal(status.stateFile.problem?.code, 'state-parse');
    assert.equal(await readFile(status.stateFile.problem!.copy!, 'utf8'), garbage);
    assert.match(await callControl<string>(fx.socket, 'GET', '/metrics'), /^pfsteer_state_file_valid 0$/m);
    await fx.failover(1);
    // The next drain writes a valid file and clears the alarm.
    await callControl(fx.socket, 'POST', '/drain/lb1');
    assert.deepEqual((await readState(fx.stateFile)).drained, ['lb1']);
    assert.equal((await callControl<Status>(fx.socket, 'GET', '/status')).stateFile.problem, null);
  } finally {
    await fx.close();
  }
});

/** A directory where writing fails for lack of space: a 16 KB tmpfs filled up (as root), else a read-only directory. */
async function fullDirectory(fx: Fixture): Promise<{ dir: string; release: () => Promise<void> }> {
  const dir = join(fx.dir, 'full');
  await mkdir(dir);
  if (process.getuid?.() === 0) {
    await execa('mount', ['-t', 'tmpfs', '-o', 'size=16k', 'tmpfs', dir]);
    await execa('dd', ['if=/dev/zero', `of=${join(dir, 'filler')}`, 'bs=4k', 'count=64'], { reject: false });
    return { dir, release: async () => void (await execa('umount', [dir])) };
  }
  await execa('chmod', ['0500', dir]);
  return { dir, release: async () => void (await execa('chmod', ['0700', dir])) };
}

test('a drain the state file cannot hold (full disk) fails, leaves the host and the filter as they were, and no temporary file', async () => {
  const base = await Fixture.create();
  const full = await fullDirectory(base);
  const fx = await Fixture.create({ stateFile: join(full.dir, 'state.json') });
  try {
    await fx.start();
    await assert.rejects(callControl(fx.socket, 'POST', '/drain/lb1'), (error: { code: string }) => error.code === 'state-write');
    const status = await callControl<Status>(fx.socket, 'GET', '/status');
    assert.deepEqual(drainedIn(status), []);
    // The filter holds the mapping with lb1 in it (of the hosts up now: a loaded machine may flap one).
    assert.deepEqual(await fx.steersAsStatusSays(), []);
    assert.deepEqual((await readdir(full.dir)).filter((f) => f.endsWith('.tmp')), []);
    assert.match(await callControl<string>(fx.socket, 'GET', '/metrics'), /^pfsteer_state_write_failures_total 1$/m);
    // The next event must not move lb1's buckets either.
    await fx.failover(2);
    assert.ok(fx.owners().includes('lb1'));
  } finally {
    await fx.close();
    await full.release();
    await base.close();
  }
});
