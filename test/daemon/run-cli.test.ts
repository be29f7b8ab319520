import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { until } from '../support/until.ts';

const cli = ['src/cli/main.ts'];

test('pfsteer run answers status, reloads on SIGHUP, keeps running on a broken config, and exits 0 on SIGTERM', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pfsteer-run-'));
  const file = join(dir, 'pfsteer.yaml');
  const socket = join(dir, 'control.sock');
  const good = `driver: memory
buckets: {count: 16}
control: {socket: ${socket}, mode: "0600"}
daemon: {state_file: ${join(dir, 'state.json')}}
services:
  std: {interface: em0, external: [203.0.113.10], ports: [443]}
hosts:
  lb1: {addresses: {std: 10.0.1.11}}
  lb2: {addresses: {std: 10.0.1.12}}
`;
  await writeFile(file, good);
  const daemon = execa(process.execPath, [...cli, 'run', '-c', file, '--log-level', 'info'], { reject: false });
  try {
    let status: { exitCode?: number; stdout: string } = { stdout: '' };
    for (let i = 0; i < 100; i++) {
      status = await execa(process.execPath, [...cli, 'status', '--socket', socket, '--json'], { reject: false });
      if (status.exitCode === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(status.exitCode, 0);
    const parsed = JSON.parse(status.stdout) as { hosts: Array<{ name: string; buckets: number }> };
    assert.deepEqual(parsed.hosts.map((h) => h.buckets), [8, 8]);

    await writeFile(file, `${good}  lb3: {addresses: {std: not-an-address}}\n`);
    daemon.kill('SIGHUP');
    await new Promise((resolve) => setTimeout(resolve, 500));
    const still = await execa(process.execPath, [...cli, 'status', '--socket', socket], { reject: false });
    assert.equal(still.exitCode, 0);
    assert.match(still.stdout, /^lb1 +up/m);

    const drained = await execa(process.execPath, [...cli, 'drain', 'lb1', '--socket', socket, '--wait', '--timeout', '5s'], { reject: false });
    assert.equal(drained.exitCode, 0, drained.stderr);
    assert.match(drained.stdout, /lb1 drained \(0 buckets left\)/);
  } finally {
    daemon.kill('SIGTERM');
    const result = await daemon;
    await rm(dir, { recursive: true, force: true });
    assert.equal(result.exitCode, 0, result.stderr);
    assert.match(result.stdout, /reload rejected/);
    assert.match(result.stdout, /stopped; the filter keeps the last mapping/);
  }
});

test('pfsteer run exits 2 with located errors for an invalid config', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pfsteer-run-'));
  const file = join(dir, 'bad.yaml');
  await writeFile(file, 'buckets: {count: 100}\n');
  const result = await execa(process.execPath, [...cli, 'run', '-c', file], { reject: false });
  await rm(dir, { recursive: true, force: true });
  assert.equal(result.exitCode, 2);
  assert.match(result.stderr, /bad\.yaml:1:18: not-power-of-two/);
});

test('signals during start-up: SIGHUP is kept as a reload for when the start is done; SIGTERM stops it cleanly at once', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pfsteer-run-'));
  const file = join(dir, 'pfsteer.yaml');
  const hang = join(process.cwd(), 'test/fixtures/bin/hang');
  // The check never answers before its timeout, so the start waits the whole startup_grace.
  const config = (grace: string): string => `driver: memory
buckets: {count: 16}
control: {socket: ${join(dir, 'control.sock')}, mode: "0600"}
daemon: {state_file: ${join(dir, 'state.json')}, startup_grace: ${grace}}
services:
  std: {interface: em0, external: [203.0.113.10], ports: [443]}
hosts:
  lb1:
    addresses: {std: 10.0.1.11}
    checks: [{type: exec, command: [${hang}], interval: 20s, timeout: 15s}]
`;
  const inStartup = async (grace: string) => {
    await writeFile(file, config(grace));
    const child = execa(process.execPath, [...cli, 'run', '-c', file], { reject: false });
    let text = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        text += chunk.toString();
        if (text.includes('read what the filter holds')) resolve();
      });
      void child.then(() => reject(new Error('the daemon ended before its start-up window')));
    });
    // Wrapped: a subprocess is a promise, and an async function would wait for it.
    return { child, text: () => text };
  };
  try {
    const reloading = await inStartup('2s');
    reloading.child.kill('SIGHUP');
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(reloading.child.exitCode, null, 'still running after SIGHUP');
    await until(() => reloading.text().includes('"msg":"reloaded"'), 10_000, 'reload after the start', 100);
    reloading.child.kill('SIGTERM');
    const reloaded = await reloading.child;
    assert.equal(reloaded.exitCode, 0, reloaded.stderr);
    const lines = reloaded.stdout.split('\n');
    const steering = lines.findIndex((l) => l.includes('"msg":"steering"'));
    const done = lines.findIndex((l) => l.includes('"msg":"reloaded"'));
    assert.ok(steering >= 0 && done > steering, 'the reload ran once the start was done');

    const stopping = await inStartup('60s');
    const asked = performance.now();
    stopping.child.kill('SIGTERM');
    const stopped = await stopping.child;
    assert.equal(stopped.exitCode, 0, stopped.stderr);
    assert.ok(performance.now() - asked < 10_000, 'stopped without waiting out startup_grace');
    assert.match(stopped.stdout, /stopped; the filter keeps the last mapping/);
    assert.doesNotMatch(stopped.stdout, /"msg":"steering"/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
