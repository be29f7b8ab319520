/**
 * The state file under hostile conditions: random storms of concurrent drains and undrains, a
 * disk that fills and empties between them, and random corruption before a start. After each,
 * the daemon must steer, and memory, state file and filter must agree: nothing lost, nothing
 * half-applied.
 */
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { execa } from 'execa';
import fc from 'fast-check';
import { callControl } from '../../src/daemon/control-client.ts';
import { readState } from '../../src/daemon/state-file.ts';
import { Fixture } from '../daemon/fixture.ts';

const HOSTS = ['lb1', 'lb2', 'lb3'];

interface Status {
  ready: boolean;
  hosts: Array<{ name: string; drained: boolean; state: string }>;
  stateFile: { problem: { code: string; copy: string | null } | null };
}

async function drainedNow(fx: Fixture): Promise<string[]> {
  return (await callControl<Status>(fx.socket, 'GET', '/status')).hosts.filter((h) => h.drained).map((h) => h.name);
}

/** The filter holds the mapping of the up, undrained hosts, and those drains are `drained`. */
async function filterAgrees(fx: Fixture, drained: string[]): Promise<void> {
  assert.deepEqual(await fx.steersAsStatusSays(), drained);
}

function report(t: TestContext, tried: number, held: number): void {
  t.diagnostic(`cases tried ${tried}, held ${held}`);
}

const op = fc.record({ drain: fc.boolean(), host: fc.constantFrom(...HOSTS) });
/** Rounds of operations; the operations of one round run at once. */
const storm = fc.array(fc.array(op, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 4 });

test('storms of concurrent drains and undrains: every answer 200, memory, file and filter agree', async (t) => {
  const fx = await Fixture.create();
  let tried = 0;
  let held = 0;
  try {
    await fx.start();
    await fc.assert(
      fc.asyncProperty(storm, async (rounds) => {
        tried++;
        for (const round of rounds) {
          await Promise.all(round.map((o) => callControl(fx.socket, 'POST', `/${o.drain ? 'drain' : 'undrain'}/${o.host}`)));
          const drained = await drainedNow(fx);
          assert.deepEqual((await readState(fx.stateFile)).drained, drained);
          await filterAgrees(fx, drained);
        }
        assert.deepEqual((await readdir(fx.dir)).filter((f) => f.endsWith('.tmp')), []);
        held++;
      }),
      { numRuns: 40 },
    );
    for (const host of HOSTS) await callControl(fx.socket, 'POST', `/undrain/${host}`);
    await fx.failover(0);
  } finally {
    await fx.close();
  }
  report(t, tried, held);
});

/** A directory on a 32 KB tmpfs (as root; otherwise one whose permissions are toggled) that can be filled and emptied. */
async function smallDisk(dir: string): Promise<{ fill: () => Promise<void>; empty: () => Promise<void>; release: () => Promise<void> }> {
  await mkdir(dir);
  const filler = join(dir, 'filler');
  if (process.getuid?.() === 0) {
    await execa('mount', ['-t', 'tmpfs', '-o', 'size=32k', 'tmpfs', dir]);
    return {
      fill: async () => void (await execa('dd', ['if=/dev/zero', `of=${filler}`, 'bs=4k', 'count=64'], { reject: false })),
      empty: () => rm(filler, { force: true }),
      release: async () => void (await execa('umount', [dir])),
    };
  }
  return {
    fill: async () => void (await execa('chmod', ['0500', dir])),
    empty: async () => void (await execa('chmod', ['0700', dir])),
    release: async () => void (await execa('chmod', ['0700', dir])),
  };
}

test('a disk that fills and empties between operations: an operation on a full disk fails and changes nothing', async (t) => {
  const base = await Fixture.create();
  const disk = await smallDisk(join(base.dir, 'disk'));
  const fx = await Fixture.create({ stateFile: join(base.dir, 'disk', 'state.json') });
  let tried = 0;
  let held = 0;
  try {
    await fx.start();
    await fc.assert(
      fc.asyncProperty(fc.array(fc.record({ full: fc.boolean(), drain: fc.boolean(), host: fc.constantFrom(...HOSTS) }), { minLength: 1, maxLength: 6 }), async (steps) => {
        tried++;
        for (const step of steps) {
          const before = await drainedNow(fx);
          if (step.full) await disk.fill();
          const call = callControl(fx.socket, 'POST', `/${step.drain ? 'drain' : 'undrain'}/${step.host}`);
          const noChange = before.includes(step.host) === step.drain;
          if (step.full && !noChange) {
            await assert.rejects(call, (error: { code: string }) => error.code === 'state-write');
            assert.deepEqual(await fx.steersAsStatusSays(), before);
          } else {
            await call;
          }
          await disk.empty();
          const drained = await drainedNow(fx);
          assert.deepEqual((await readState(fx.stateFile)).drained, drained);
          await filterAgrees(fx, drained);
          assert.deepEqual((await readdir(join(base.dir, 'disk'))).filter((f) => f.endsWith('.tmp')), []);
        }
        held++;
      }),
      { numRuns: 25 },
    );
    // With every other host drained, a failed host keeps its buckets (all_down: keep).
    for (const host of HOSTS) await callControl(fx.socket, 'POST', `/undrain/${host}`);
    await fx.failover(1);
  } finally {
    await fx.close();
    await disk.release();
    await base.close();
  }
  report(t, tried, held);
});

const corruption = fc.oneof(
  fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
  fc.json().map((j) => Buffer.from(j)),
  fc.subarray(HOSTS).map((d) => Buffer.from(`${JSON.stringify({ drained: d })}\n`)),
  fc.tuple(fc.subarray(HOSTS), fc.nat(30)).map(([d, cut]) => Buffer.from(`${JSON.stringify({ drained: d })}\n`).subarray(0, cut)),
  fc.subarray(HOSTS).map((d) => Buffer.from(`${JSON.stringify({ drained: d })}\n3"]}\n`)),
);

test('a corrupt state file before a start: the daemon starts and steers, keeps a copy, and a valid file is honoured', async (t) => {
  const fx = await Fixture.create();
  let tried = 0;
  let held = 0;
  try {
    await fc.assert(
      fc.asyncProperty(corruption, async (bytes) => {
        tried++;
        await writeFile(fx.stateFile, bytes);
        let valid: string[] | undefined;
        try {
          valid = (await readState(fx.stateFile)).drained;
        } catch {
          valid = undefined;
        }
        await fx.start();
        try {
          const status = await callControl<Status>(fx.socket, 'GET', '/status');
          assert.equal(status.ready, true);
          if (valid === undefined) {
            assert.notEqual(status.stateFile.problem, null);
            assert.deepEqual(await readFile(status.stateFile.problem!.copy!), bytes);
            await rm(status.stateFile.problem!.copy!);
          } else {
            assert.equal(status.stateFile.problem, null);
          }
          const drained = await drainedNow(fx);
          assert.deepEqual(drained, (valid ?? []).filter((h) => HOSTS.includes(h)));
          await filterAgrees(fx, drained);
        } finally {
          await fx.daemon!.close();
        }
        held++;
      }),
      { numRuns: 30 },
    );
  } finally {
    await fx.close();
  }
  report(t, tried, held);
});
