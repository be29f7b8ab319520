/**
 * Runs inside the client namespace: reads a JSON list of requests on stdin, sends each from its
 * own source address (bounded concurrency, each with a deadline) and prints one JSON result per
 * request: the body the host answered with, or why it failed.
 */
import http from 'node:http';
import { text } from 'node:stream/consumers';

export interface ClientRequest {
  src: string;
  dst: string;
  port: number;
  path: string;
  timeout: number;
  /** TCP keepalive after 1 s idle, as long-lived real clients have: lets a killed state surface as a reset. */
  keepalive?: boolean;
  /** Wall-clock time (epoch ms) before which the request is not sent, to place it beside an event. */
  at?: number;
}

export interface ClientResult {
  src: string;
  body?: string;
  /** Error code (ECONNRESET, ECONNREFUSED, ETIMEDOUT, ...) or `status-NNN`. */
  error?: string;
  ms: number;
}

async function one(r: ClientRequest): Promise<ClientResult> {
  if (r.at !== undefined) await new Promise((resolve) => setTimeout(resolve, r.at! - Date.now()));
  const start = performance.now();
  return new Promise((resolve) => {
    const done = (x: { body?: string; error?: string }) => resolve({ src: r.src, ...x, ms: Math.round(performance.now() - start) });
    const req = http.get({ host: r.dst, port: r.port, path: r.path, localAddress: r.src, agent: false, timeout: r.timeout }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => done(res.statusCode === 200 ? { body: body.trim() } : { error: `status-${res.statusCode}` }));
      res.on('error', (e: NodeJS.ErrnoException) => done({ error: e.code ?? e.message }));
    });
    if (r.keepalive) req.on('socket', (s) => s.setKeepAlive(true, 1000));
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', (e: NodeJS.ErrnoException) => done({ error: e.code ?? e.message }));
  });
}

const requests = JSON.parse(await text(process.stdin)) as { concurrency: number; list: ClientRequest[] };
const results: ClientResult[] = new Array(requests.list.length);
let next = 0;
async function worker(): Promise<void> {
  while (next < requests.list.length) {
    const i = next++;
    results[i] = await one(requests.list[i]!);
  }
}
await Promise.all(Array.from({ length: Math.max(1, requests.concurrency) }, worker));
process.stdout.write(JSON.stringify(results));
