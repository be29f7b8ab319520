import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { pino } from 'pino';
import { HealthMonitor } from '../../src/health/monitor.ts';
import { parseAddress } from '../../src/net/address.ts';

test('the started observer reports each run against its schedule: start to start, interval apart', async () => {
  const server = createServer((socket) => socket.destroy());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const timing = { interval: 100, timeout: 50, rise: 2, fall: 3, fastinter: 100, downinter: 100, jitter: 0 };
  const starts: Array<{ host: string; check: string; intended: number; actual: number }> = [];
  const monitor = new HealthMonitor(
    [{ name: 'lb1', weight: 1, targets: {}, checks: [{ ...timing, type: 'tcp', name: 'port', address: parseAddress('127.0.0.1')!, port }] }],
    pino({ level: 'silent' }),
    { started: (host, check, intended, actual) => starts.push({ host, check, intended, actual }) },
  );
  const before = performance.now();
  monitor.start();
  await new Promise((resolve) => setTimeout(resolve, 450));
  await monitor.close();
  server.close();
  assert.ok(starts.length >= 3, `${starts.length} runs in 450 ms at a 100 ms interval`);
  assert.ok(starts.every((s) => s.host === 'lb1' && s.check === 'port'));
  // The first run is spread over one interval so that many checks started together do not bunch.
  assert.ok(starts[0]!.intended >= before && starts[0]!.intended - before < 100);
  for (const [i, s] of starts.entries()) {
    // Node's timers may fire up to 1 ms early against performance.now().
    assert.ok(s.actual - s.intended > -2 && s.actual - s.intended < 100, `run ${i}: ${s.actual - s.intended} ms late`);
    if (i > 0) assert.ok(Math.abs(s.intended - starts[i - 1]!.actual - 100) < 1, `run ${i} intended ${s.intended - starts[i - 1]!.actual} ms after the previous start`);
  }
});
