/**
 * The default state-killing policy through the pf driver (pfctl into the pf emulator, both
 * dialects: FreeBSD kills with `-k nat`, OpenBSD by state id), with real http checks of
 * loopback backends: a host that answers 503 keeps its states, a host whose port refuses
 * connections loses them.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import { Daemon } from '../../src/daemon/daemon.ts';
import { realParts } from '../../src/daemon/parts.ts';
import { parseAddress } from '../../src/net/address.ts';
import { PfEmulator } from '../pf-emulator/emulator.ts';
import { startBackends, type Backend } from '../support/net.ts';
import { until } from '../support/until.ts';

let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pfsteer-kill-pf-'));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function config(emulator: PfEmulator, backends: Backend[], dialect: string): string {
  const hosts = backends
    .map((b, i) => `  lb${i + 1}:\n    addresses: {std: 10.0.1.${11 + i}}\n    checks:\n      - {type: http, address: 127.0.0.1, port: ${b.port}, path: /haproxy_check}\n`)
    .join('');
  return `defaults: {interval: 1500ms, timeout: 1s, rise: 1, fall: 1, jitter: 0ms}
buckets: {count: 16, inet_prefix: 8}
driver: pf
pf: {pfctl: ${emulator.pfctl}, dialect: ${dialect}, timeout: 8s}
control: {socket: ${join(dir, `${dialect}.sock`)}, mode: "0600"}
daemon: {state_file: ${join(dir, `${dialect}.json`)}, coalesce: 5ms}
services:
  std: {interface: em0, external: <ext>, ports: [443]}
hosts:
${hosts}`;
}

for (const dialect of ['freebsd', 'openbsd'] as const) {
  test(`${dialect}: a host answering 503 keeps its pf states, a host refusing connections has them killed`, async () => {
    const emulator = new PfEmulator(dialect);
    emulator.loadMain(`table <ext> { 192.0.2.10 }\n${dialect === 'freebsd' ? 'rdr-anchor' : 'anchor'} "pfsteer"\n`);
    process.env.PFSTEER_PF_EMULATOR = emulator.dir;
    const backends = await startBackends(3);
    const file = join(dir, `${dialect}.yaml`);
    await writeFile(file, config(emulator, backends, dialect));
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
    const daemon = await Daemon.start(file, realParts, logger);
    const [lb2, lb3] = [parseAddress('10.0.1.12')!, parseAddress('10.0.1.13')!];
    const decided = (host: string) => lines.find((l) => l.host === host && /states of a down host/.test(String(l.msg)));
    try {
      await until(() => (daemon.status() as { ready: boolean }).ready, 5000, 'ready');
      for (let a = 1; a < 120; a++) emulator.route({ source: parseAddress(`${a}.1.2.3`)!, destination: parseAddress('192.0.2.10')!, port: 443 }, { establish: true });
      const before = { lb2: emulator.statesTo(lb2), lb3: emulator.statesTo(lb3) };
      assert.ok(before.lb2 > 0 && before.lb3 > 0, JSON.stringify(before));

      backends[1]!.healthy = false;
      await until(() => decided('lb2') !== undefined, 30_000, 'lb2 down and decided');
      assert.deepEqual([decided('lb2')!.msg, decided('lb2')!.reason], ['states of a down host kept', 'http-status']);
      assert.equal(emulator.statesTo(lb2), before.lb2);

      backends[2]!.server.close();
      backends[2]!.server.closeAllConnections();
      await until(() => decided('lb3') !== undefined, 30_000, 'lb3 down and its states decided');
      assert.deepEqual([decided('lb3')!.msg, decided('lb3')!.reason, decided('lb3')!.killed], ['killed states of a down host', 'refused', before.lb3]);
      assert.equal(emulator.statesTo(lb3), 0);
      assert.equal(emulator.statesTo(lb2), before.lb2, "lb2's states still there");
    } finally {
      await daemon.close();
      for (const b of backends) b.server.close();
      emulator.cleanup();
    }
  });
}
