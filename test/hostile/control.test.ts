/**
 * Hostile clients of the control socket: random and malformed requests, oversized, partial,
 * slow, idle, concurrent and pipelined ones. After each, the daemon must answer, hold exactly
 * the drains its state file holds, and still steer (a failed host's buckets move and return).
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, test, type TestContext } from 'node:test';
import fc from 'fast-check';
import { callControl } from '../../src/daemon/control-client.ts';
import { readState } from '../../src/daemon/state-file.ts';
import { Fixture, sendRaw, statuses } from '../daemon/fixture.ts';
import { until } from '../support/until.ts';

const LIMITS = { maxConnections: 16, headersTimeoutMs: 400, requestTimeoutMs: 800, keepAliveTimeoutMs: 200 };
const HOSTS = ['lb1', 'lb2', 'lb3'];
let fx: Fixture;

before(async () => {
  fx = await Fixture.create({ controlLimits: LIMITS });
  await fx.start();
});

after(() => fx.close());

/** Answers; memory and state file agree on the drains; the filter holds the mapping of the up, undrained hosts. */
async function holds(): Promise<void> {
  const drained = await fx.steersAsStatusSays();
  assert.deepEqual((await readState(fx.stateFile).catch(() => ({ drained: [] as string[] }))).drained, drained);
}

function report(t: TestContext, tried: number, held: number): void {
  t.diagnostic(`cases tried ${tried}, held ${held}`);
}

const pathPart = fc.oneof(
  fc.constantFrom('status', 'drain', 'undrain', 'states', 'reload', 'metrics', '', '..', '%', '%E0%A4%A', '[', '//[', '%2F', '?x=1', '#'),
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 8 }),
);
const hostPart = fc.oneof(fc.constantFrom(...HOSTS, 'nope', '%6Cb1', 'lb1%00', 'lb1/..', '[::1]', '%'), fc.string({ maxLength: 10 }));
const request = fc.record({
  method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'BREW', 'G ET', ''),
  target: fc.oneof(fc.tuple(pathPart, hostPart).map(([v, h]) => `/${v}/${h}`), pathPart.map((p) => `/${p}`), fc.string({ maxLength: 20 }), fc.constantFrom('//[', '*', 'http://x/status', '/status?%%')),
  version: fc.constantFrom('HTTP/1.1', 'HTTP/1.0', 'HTTP/9.9', 'HTTP/1.1 junk', ''),
  headers: fc.array(fc.tuple(fc.string({ maxLength: 12 }), fc.string({ maxLength: 20 })), { maxLength: 3 }),
  body: fc.oneof(fc.constant(''), fc.string({ maxLength: 40 })),
  tail: fc.constantFrom('\r\n\r\n', '\n\n', '\r\n', ''),
});

test('random requests: every one answered with a status or closed; the daemon holds after each', async (t) => {
  let tried = 0;
  let held = 0;
  await fc.assert(
    fc.asyncProperty(request, async (r) => {
      tried++;
      const head = [`${r.method} ${r.target} ${r.version}`, 'host: pfsteer', 'connection: close', ...r.headers.map(([k, v]) => `${k}: ${v}`)].join('\r\n');
      const answer = await sendRaw(fx.socket, `${head}${r.tail}${r.body}`, 100);
      for (const code of statuses(answer)) assert.ok([200, 400, 404, 405, 408, 413, 414, 431, 505].includes(code), `status ${code} for ${JSON.stringify(r)}`);
      await holds();
      held++;
    }),
    { numRuns: 120 },
  );
  for (const host of HOSTS) await callControl(fx.socket, 'POST', `/undrain/${host}`);
  await fx.failover(1);
  report(t, tried, held);
});

test('random bytes on the socket: never an answer other than 400-class, never an end of the daemon', async (t) => {
  let tried = 0;
  let held = 0;
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 600 }), async (bytes) => {
      tried++;
      const answer = await sendRaw(fx.socket, Buffer.from(bytes), 100);
      for (const code of statuses(answer)) assert.ok(code >= 400 && code < 500 || code === 505, `status ${code}`);
      held++;
    }),
    { numRuns: 120 },
  );
  await holds();
  await fx.failover(2);
  report(t, tried, held);
});

test('oversized, partial, slow, idle, concurrent and pipelined requests', async (t) => {
  let tried = 0;
  let held = 0;
  const scripted = async (what: string, run: () => Promise<void>): Promise<void> => {
    tried++;
    await t.test(what, run);
    await holds();
    held++;
  };
  await scripted('a 100 KB header is refused (431) or the connection closed', async () => {
    const answer = await sendRaw(fx.socket, `GET /status HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(100_000)}\r\n\r\n`, 300);
    assert.ok(statuses(answer).every((s) => s === 431 || s === 400));
  });
  await scripted('a 4 MB body to a POST is not read into memory and the answer comes', async () => {
    const answer = await sendRaw(fx.socket, `POST /reload HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-length: 4194304\r\n\r\n${'x'.repeat(4_194_304)}`, 500);
    assert.ok(statuses(answer).length <= 1);
  });
  await scripted('a request cut in the middle is closed within the header deadline', async () => {
    const started = performance.now();
    await sendRaw(fx.socket, 'GET /sta', 5_000);
    assert.ok(performance.now() - started < 3_000);
  });
  await scripted('a slow client (one byte every 50 ms) is cut off by the request deadline', async () => {
    const started = performance.now();
    const closed = await new Promise<number>((resolve) => {
      const s = connect(fx.socket);
      const text = 'GET /status HTTP/1.1\r\nhost: x\r\nx-slow: ' + 'y'.repeat(200) + '\r\n\r\n';
      let i = 0;
      const timer = setInterval(() => {
        if (i < text.length && s.writable) s.write(text[i++]!);
      }, 50);
      s.on('error', () => undefined);
      s.resume();
      s.on('close', () => {
        clearInterval(timer);
        resolve(performance.now() - started);
      });
    });
    assert.ok(closed < 4_000, `closed after ${Math.round(closed)} ms`);
  });
  await scripted('300 idle connections: capped, closed, and status answers right after', async () => {
    let closed = 0;
    for (let i = 0; i < 300; i++) {
      const s = connect(fx.socket);
      s.on('error', () => undefined);
      s.on('close', () => closed++);
      s.resume();
    }
    await until(() => closed === 300, 5_000, 'every idle connection closed');
  });
  await scripted('200 concurrent status requests over 10 at a time all answer 200', async () => {
    const answers: number[] = [];
    for (let round = 0; round < 20; round++) {
      answers.push(...(await Promise.all(Array.from({ length: 10 }, () => sendRaw(fx.socket, 'GET /status HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n', 2_000)))).flatMap(statuses));
    }
    assert.equal(answers.filter((s) => s === 200).length, 200);
  });
  await scripted('50 pipelined requests in one write, one malformed in the middle: answers in order up to it, then 400', async () => {
    const good = 'GET /status HTTP/1.1\r\nhost: x\r\n\r\n';
    const answer = await sendRaw(fx.socket, `${good.repeat(25)}GET //[ HTTP/1.1\r\nhost: x\r\n\r\n${good.repeat(24)}`, 500);
    const codes = statuses(answer);
    assert.deepEqual(codes.slice(0, 26), [...new Array<number>(25).fill(200), 400]);
  });
  await scripted('pipelined drains and undrains of every host, 20 rounds: the last word wins, in the file too', async () => {
    const ops = Array.from({ length: 20 }, (_, i) => HOSTS.map((h) => `POST /${i % 2 === 0 ? 'drain' : 'undrain'}/${h} HTTP/1.1\r\nhost: x\r\n\r\n`).join('')).join('');
    const codes = statuses(await sendRaw(fx.socket, ops, 1_000));
    assert.deepEqual(codes, new Array<number>(60).fill(200));
  });
  await fx.failover(0);
  report(t, tried, held);
});
