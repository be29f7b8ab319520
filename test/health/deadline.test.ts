/** The run's deadline: from the run's start, and fair to answers that came in time while the event loop was held up. */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { test } from 'node:test';
import { deadline } from '../../src/health/deadline.ts';
import { checkSession } from '../../src/health/run-check.ts';
import { parseAddress } from '../../src/net/address.ts';

function block(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

test('the deadline aborts at its time, and its parent aborting aborts it at once', async () => {
  const start = performance.now();
  const own = deadline(new AbortController().signal, 50);
  await once(own.signal, 'abort');
  assert.ok(performance.now() - start >= 49);
  assert.equal((own.signal.reason as DOMException).name, 'TimeoutError');
  own.dispose();

  const parent = new AbortController();
  const child = deadline(parent.signal, 10_000);
  parent.abort(new Error('closing'));
  assert.ok(child.signal.aborted);
  child.dispose();
});

test('a connection made in time counts even when the event loop was held up past the deadline', async () => {
  const server = createServer((socket) => socket.resume());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const timing = { interval: 1000, timeout: 100, rise: 1, fall: 1, fastinter: 1000, downinter: 1000, jitter: 0 };
  const session = checkSession({ ...timing, name: 'tcp', type: 'tcp', address: parseAddress('127.0.0.1')!, port: (server.address() as AddressInfo).port });
  try {
    // Started from the loop's check phase, the next turn runs due timers before it polls for I/O.
    const run = await new Promise<ReturnType<typeof session.run>>((resolve) =>
      setImmediate(() => {
        const started = session.run(new AbortController().signal);
        // The kernel completes the handshake meanwhile; the process sees it only after its timer is due.
        block(250);
        resolve(started);
      }),
    );
    const result = await run.result;
    assert.equal(result.code, 'ok', result.detail);
  } finally {
    await session.close();
    server.close();
  }
});
