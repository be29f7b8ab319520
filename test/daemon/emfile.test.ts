/**
 * Out of file descriptors: pfctl runs and control connections fail, the daemon does not. (Each
 * test file runs in its own process, so exhausting this one's descriptors harms nothing else.)
 */
import assert from 'node:assert/strict';
import { closeSync, openSync } from 'node:fs';
import { connect } from 'node:net';
import { test } from 'node:test';
import { callControl } from '../../src/daemon/control-client.ts';
import { runProgram } from '../../src/drivers/run-program.ts';
import { pfctlRunner } from '../../src/pf/pfctl.ts';
import { parseConfig } from '../../src/config/load.ts';
import { Fixture } from './fixture.ts';
import { until } from '../support/until.ts';

/** Opens descriptors until the process has none left; returns them to close. */
function exhaust(): number[] {
  const fds: number[] = [];
  try {
    for (;;) fds.push(openSync('/dev/null', 'r'));
  } catch (error) {
    assert.equal((error as NodeJS.ErrnoException).code, 'EMFILE');
  }
  return fds;
}

test('with no descriptor left, a pfctl run is a PfctlError and a control connection is refused; both work again after', async () => {
  const fx = await Fixture.create();
  const pf = parseConfig('services: {web: {interface: em0, external: [192.0.2.1], ports: [80]}}\nhosts: {lb1: {addresses: {web: 10.0.0.1}}}\n', 'x.yaml').pf;
  const pfctl = pfctlRunner({ ...pf, pfctl: '/bin/echo', timeout: 2_000 });
  let fds: number[] = [];
  try {
    await fx.start();
    const initial = fx.owners();
    fds = exhaust();
    await assert.rejects(pfctl(['-s', 'info']), (error: { code: string }) => error.code === 'pfctl');
    assert.ok((await runProgram(['/bin/echo'], { timeoutMs: 1_000 })).error);
    // One descriptor for a client: the daemon's accept then finds none.
    closeSync(fds.pop()!);
    const client = connect(fx.socket);
    client.on('error', () => undefined);
    await new Promise((resolve) => setTimeout(resolve, 300));
    client.destroy();
    // The process is still here to free them, and everything works again.
    for (const fd of fds.splice(0)) closeSync(fd);
    assert.equal((await pfctl(['ok'])).stdout, 'ok');
    assert.equal((await callControl<{ ready: boolean }>(fx.socket, 'GET', '/status')).ready, true);
    // Checks failed while descriptors were out; once they pass again, steering goes on.
    await until(() => fx.owners().every((o, b) => o === initial[b]), 5_000, 'every host back');
    await fx.failover(0);
  } finally {
    for (const fd of fds) closeSync(fd);
    await fx.close();
  }
});
