/**
 * bench:failover's clients, run inside the client namespace. Every source address is one client
 * that keeps connecting to the service over TLS 1.3, one connection at a time with a pause
 * between, offering the latest session it received (as a browser keeps its ticket), and asks
 * which host answered. `holders` instead keep one slow request open after another: the live
 * connections an event may cut. One NDJSON record per connection on stdout; on SIGTERM its event-loop delay, then it exits.
 *
 * Input on stdin: {"vip", "port", "sources": [...], "holders": [...], "pause", "timeout", "hold"}
 */
import net from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import tls from 'node:tls';
import { text } from 'node:stream/consumers';

interface Input {
  vip: string;
  port: number;
  sources: string[];
  holders: string[];
  /** Mean pause between a client's connections, ms (spread +-20%). */
  pause: number;
  /** A connection that has not answered after this long is given up, ms. */
  timeout: number;
  /** How long a holder's request stays open, ms. */
  hold: number;
}

export interface ConnectionRecord {
  src: string;
  kind: 'short' | 'hold' | 'lag';
  /** Wall clock (epoch ms) at the start and end of the connection. */
  t0: number;
  t1: number;
  /** TCP connect time, ms: 1 s or more is a retransmitted SYN. */
  connectMs?: number;
  host?: string;
  resumed?: boolean;
  /** The host whose session the client offered, if any. */
  offered?: string;
  error?: string;
  /** kind `lag`, written last: this process's event-loop delay p99 and max, ms (how late it saw what happened). */
  lagP99?: number;
  lagMax?: number;
}

const input = JSON.parse(await text(process.stdin)) as Input;
const lag = monitorEventLoopDelay({ resolution: 10 });
/** Start of each holder's request in flight. */
const holding = new Map<string, number>();
lag.enable();
// Connections still open at the end belong to no event; stdout to a pipe is written synchronously on Linux.
process.once('SIGTERM', () => {
  // A live request long past its due time is as cut as one that failed, though its timeout has not struck yet.
  const now = Date.now();
  for (const [src, t0] of holding) if (now - t0 > input.hold + 1000) write({ src, kind: 'hold', t0, t1: now, error: 'overdue-at-end' });
  write({ src: '', kind: 'lag', t0: 0, t1: 0, lagP99: lag.percentile(99) / 1e6, lagMax: lag.max / 1e6 });
  process.exit(0);
});

function exchange(src: string, path: string, session: Buffer | undefined, timeout: number): Promise<{ host?: string; resumed?: boolean; connectMs?: number; session?: Buffer; error?: string }> {
  return new Promise((resolve) => {
    const started = Date.now();
    let connectMs: number | undefined;
    let latest: Buffer | undefined;
    let resumed: boolean | undefined;
    let body = '';
    const raw = net.connect({ host: input.vip, port: input.port, localAddress: src });
    const socket = tls.connect({ socket: raw, servername: 'bench', rejectUnauthorized: false, minVersion: 'TLSv1.3', ...(session ? { session } : {}) });
    const timer = setTimeout(() => finish({ error: 'timeout' }), timeout);
    const finish = (r: { host?: string; error?: string }) => {
      clearTimeout(timer);
      socket.destroy();
      raw.destroy();
      resolve({ ...r, ...(resumed === undefined ? {} : { resumed }), ...(connectMs === undefined ? {} : { connectMs }), ...(latest ? { session: latest } : {}) });
    };
    raw.once('connect', () => (connectMs = Date.now() - started));
    raw.once('error', (e: NodeJS.ErrnoException) => finish({ error: e.code ?? e.message }));
    socket.on('session', (s: Buffer) => (latest = s));
    socket.once('secureConnect', () => {
      resumed = socket.isSessionReused();
      socket.write(`GET ${path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n`);
    });
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (body += chunk));
    socket.once('end', () => {
      const status = /^HTTP\/1\.[01] (\d+)/.exec(body)?.[1];
      const host = body.split('\r\n\r\n')[1]?.trim();
      finish(status === '200' && host ? { host } : { error: `status-${status ?? 'none'}` });
    });
    socket.once('error', (e: NodeJS.ErrnoException) => finish({ error: e.code ?? e.message }));
  });
}

const write = (r: ConnectionRecord) => process.stdout.write(`${JSON.stringify(r)}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function client(src: string): Promise<void> {
  let session: Buffer | undefined;
  let sessionHost: string | undefined;
  // Spread the first connections over one pause.
  await sleep(Math.random() * input.pause);
  for (;;) {
    const t0 = Date.now();
    const r = await exchange(src, '/', session, input.timeout);
    write({ src, kind: 'short', t0, t1: Date.now(), ...(r.connectMs === undefined ? {} : { connectMs: r.connectMs }), ...(r.host ? { host: r.host } : {}), ...(r.resumed === undefined ? {} : { resumed: r.resumed }), ...(sessionHost ? { offered: sessionHost } : {}), ...(r.error ? { error: r.error } : {}) });
    if (r.host && r.session) {
      session = r.session;
      sessionHost = r.host;
    }
    // A failed connection is retried soon, as an application or a user would.
    await sleep(r.error ? 200 : input.pause * (0.8 + 0.4 * Math.random()));
  }
}

async function holder(src: string): Promise<void> {
  await sleep(Math.random() * input.hold);
  for (;;) {
    const t0 = Date.now();
    holding.set(src, t0);
    const r = await exchange(src, `/slow?ms=${input.hold}`, undefined, input.hold + input.timeout);
    holding.delete(src);
    write({ src, kind: 'hold', t0, t1: Date.now(), ...(r.host ? { host: r.host } : {}), ...(r.error ? { error: r.error } : {}) });
    if (r.error) await sleep(200);
  }
}

await Promise.all([...input.sources.map(client), ...input.holders.map(holder)]);
