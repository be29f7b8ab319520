/**
 * HTTP(S) check with undici: connects to the configured address (not DNS), sends the Host
 * header and SNI name of the check, never follows redirects, and by default opens a fresh
 * connection each time so the TLS handshake is part of what is checked.
 *
 * One undici Client serves a check for its whole life. With `fresh` (the default) every request
 * closes its connection after the answer and TLS sessions are never resumed, so each run pays a
 * full TCP and TLS handshake; without it the connection is kept alive between runs. Building a
 * Client per run would check the same thing at a higher cost (a thousand checks a second notice).
 *
 * The run's deadline covers every phase from the run's start: connect, TLS handshake, request
 * and response headers, body. undici does not abort a request while its connection is being
 * set up (it waits for its own connect timeout, 10 s), so the probe opens connections itself and
 * destroys the socket at the deadline, whatever phase it is in; the verdict names that phase.
 */
import { readFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, createSecureContext, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { Client, type buildConnector } from 'undici';
import type { HttpCheck } from '../config/model.ts';
import { formatAddress } from '../net/address.ts';
import { networkCode, timeoutVerdict, type Phase } from './codes.ts';
import type { CheckResult } from './types.ts';

/** Bytes of a body read at most: `expect_body` is looked for in them, the rest is never read. */
export const BODY_LIMIT = 64 * 1024;

function originOf(check: HttpCheck): string {
  const host = check.address.family === 6 ? `[${formatAddress(check.address)}]` : formatAddress(check.address);
  return `${check.type}://${host}:${check.port}`;
}

/**
 * One secure context (CA, client certificate) for the check's life: `tls.connect` would build
 * one per connection otherwise, a third to a half of what an HTTPS run that gets no answer costs.
 * Sessions are still only resumed when one is handed over (never with `fresh`): Node's contexts
 * keep no client session cache.
 */
function tlsOptions(check: HttpCheck): ConnectionOptions {
  return {
    secureContext: createSecureContext({
      ...(check.ca !== undefined ? { ca: readFileSync(check.ca) } : {}),
      ...(check.clientCert ? { cert: readFileSync(check.clientCert.cert), key: readFileSync(check.clientCert.key) } : {}),
    }),
    rejectUnauthorized: check.tlsVerify,
    ...(check.host !== undefined ? { servername: check.host } : {}),
  };
}

/** The first `limit` bytes of a body as text; stops reading there (an endless body costs nothing more). */
async function readHead(body: AsyncIterable<Buffer>, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= limit) break;
  }
  return Buffer.concat(chunks, size).toString('utf8', 0, Math.min(size, limit));
}

/** What the deadline destroys a socket with: undici then fails the request, in any phase. */
class DeadlineReached extends Error {
  readonly code = 'ERR_PFSTEER_DEADLINE';
}

/**
 * Without a stack: one is made at every deadline that cuts a connection, hundreds a second when
 * hosts are silent, and the stream destroyed with it formats its stack at once; where it was made
 * is always here.
 */
function deadlineReached(detail: string): DeadlineReached {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new DeadlineReached(detail);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** The runs of one http(s) check, one at a time, over one undici Client. */
export class HttpProbe {
  readonly #check: HttpCheck;
  readonly #client: Client;
  readonly #tls: ConnectionOptions | undefined;
  /** The connection the client holds or is opening: what the deadline destroys. */
  #socket: Socket | undefined;
  /** How far the current run got; a run on a kept-alive connection starts at `response`. */
  #phase: Phase = 'response';
  /** Without `fresh`, reconnections resume the last TLS session, as a browser would. */
  #session: Buffer | undefined;

  constructor(check: HttpCheck) {
    this.#check = check;
    this.#tls = check.type === 'https' ? tlsOptions(check) : undefined;
    this.#client = new Client(originOf(check), {
      connect: (_options, callback) => this.#open(callback),
      pipelining: check.fresh ? 0 : 1,
      // The run's deadline bounds headers and body, whatever its length; undici's own would cut a long one short.
      headersTimeout: 0,
      bodyTimeout: 0,
    });
  }

  /** undici's connector: a socket of our own, so the deadline can end the connect and TLS phases too. */
  #open(callback: buildConnector.Callback): void {
    const host = formatAddress(this.#check.address);
    const port = this.#check.port;
    const tls = this.#tls;
    const socket: Socket | TLSSocket = tls
      ? tlsConnect({ ...tls, host, port, ...(this.#session && !this.#check.fresh ? { session: this.#session } : {}) })
      : netConnect({ host, port });
    this.#socket = socket;
    this.#phase = 'connect';
    let pending: buildConnector.Callback | undefined = callback;
    const settle = (error: Error | null) => {
      const cb = pending;
      pending = undefined;
      if (error) cb?.(error, null);
      else cb?.(null, socket);
    };
    socket.setNoDelay(true);
    socket.once('connect', () => {
      if (this.#socket === socket) this.#phase = tls ? 'tls' : 'response';
      if (!tls) settle(null);
    });
    if (tls) {
      socket.once('secureConnect', () => {
        if (this.#socket === socket) this.#phase = 'response';
        settle(null);
      });
      if (!this.#check.fresh) socket.on('session', (session: Buffer) => (this.#session = session));
    }
    // Kept for the socket's life: undici adds its own once connected, and an error must never go unheard.
    socket.on('error', (error) => settle(error));
  }

  /** One run: its verdict by the time `signal` aborts (the run's deadline), naming the phase it cut. */
  async run(signal: AbortSignal): Promise<CheckResult> {
    const started = performance.now();
    const done = (ok: boolean, code: string, detail: string): CheckResult => ({ ok, code, detail, ms: performance.now() - started });
    this.#phase = 'response';
    let expire!: (result: CheckResult) => void;
    const expired = new Promise<CheckResult>((resolve) => (expire = resolve));
    const onExpired = () => {
      const { code, detail } = timeoutVerdict(this.#phase, this.#check.timeout);
      expire(done(false, code, detail));
      this.#socket?.destroy(deadlineReached(detail));
    };
    if (signal.aborted) {
      onExpired();
      return expired;
    }
    signal.addEventListener('abort', onExpired, { once: true });
    try {
      return await Promise.race([expired, this.#exchange(done)]);
    } finally {
      signal.removeEventListener('abort', onExpired);
    }
  }

  async #exchange(done: (ok: boolean, code: string, detail: string) => CheckResult): Promise<CheckResult> {
    const check = this.#check;
    try {
      const response = await this.#client.request({
        method: check.method as 'GET',
        path: check.path,
        headers: { host: check.host ?? formatAddress(check.address), 'user-agent': 'pfsteer-check' },
        reset: check.fresh,
      });
      this.#phase = 'body';
      let body = '';
      // Without a body to match, the bytes need not be decoded; a thousand checks a second notice.
      if (check.expectBody === undefined) await response.body.dump({ limit: BODY_LIMIT });
      else body = await readHead(response.body, BODY_LIMIT);
      if (!check.expectStatus.includes(response.statusCode)) {
        return done(false, 'http-status', `status ${response.statusCode}, expected ${check.expectStatus.join(' or ')}`);
      }
      if (check.expectBody !== undefined && !body.includes(check.expectBody)) {
        return done(false, 'http-body', `status ${response.statusCode} but the first ${BODY_LIMIT / 1024} KB of the body lack ${JSON.stringify(check.expectBody)}`);
      }
      return done(true, 'ok', `status ${response.statusCode}`);
    } catch (error) {
      const cause = ((error as Error).cause ?? error) as NodeJS.ErrnoException;
      return done(false, networkCode(cause), cause.message ?? String(error));
    }
  }

  async close(): Promise<void> {
    this.#socket?.destroy();
    await this.#client.destroy().catch(() => undefined);
  }
}
