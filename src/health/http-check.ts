/**
 * HTTP(S) check with undici: connects to the configured address (not DNS), sends the Host
 * header and SNI name of the check, never follows redirects, and by default opens a fresh
 * connection each time so the TLS handshake is part of what is checked.
 *
 * One undici Client serves a check for its whole life. With `fresh` (the default) every request
 * closes its connection after the answer and TLS sessions are never resumed, so each run pays a
 * full TCP and TLS handshake; without it the connection is kept alive between runs. Building a
 * Client per run would check the same thing at a higher cost (a thousand checks a second notice).
 */
import { readFileSync } from 'node:fs';
import { Client } from 'undici';
import type { HttpCheck } from '../config/model.ts';
import { formatAddress } from '../net/address.ts';
import { networkCode } from './codes.ts';
import type { CheckResult } from './types.ts';

const BODY_LIMIT = 64 * 1024;

function originOf(check: HttpCheck): string {
  const host = check.address.family === 6 ? `[${formatAddress(check.address)}]` : formatAddress(check.address);
  return `${check.type}://${host}:${check.port}`;
}

function tlsOptions(check: HttpCheck) {
  if (check.type !== 'https') return undefined;
  return {
    rejectUnauthorized: check.tlsVerify,
    ...(check.host !== undefined ? { servername: check.host } : {}),
    ...(check.ca !== undefined ? { ca: readFileSync(check.ca) } : {}),
    ...(check.clientCert ? { cert: readFileSync(check.clientCert.cert), key: readFileSync(check.clientCert.key) } : {}),
  };
}

export function httpClient(check: HttpCheck): Client {
  const tls = tlsOptions(check);
  return new Client(originOf(check), {
    ...(tls ? { connect: { ...tls, ...(check.fresh ? { maxCachedSessions: 0 } : {}) } } : {}),
    pipelining: check.fresh ? 0 : 1,
  });
}

export async function runHttpCheck(check: HttpCheck, signal: AbortSignal, client: Client): Promise<CheckResult> {
  const started = performance.now();
  const done = (ok: boolean, code: string, detail: string): CheckResult => ({ ok, code, detail, ms: performance.now() - started });
  try {
    const response = await client.request({
      method: check.method as 'GET',
      path: check.path,
      headers: { host: check.host ?? formatAddress(check.address), 'user-agent': 'pfsteer-check' },
      signal,
      reset: check.fresh,
    });
    let body = '';
    // Without a body to match, the bytes need not be decoded; a thousand checks a second notice.
    if (check.expectBody === undefined) await response.body.dump({ limit: BODY_LIMIT });
    else {
      for await (const chunk of response.body) {
        if (body.length < BODY_LIMIT) body += (chunk as Buffer).toString('utf8');
      }
    }
    if (!check.expectStatus.includes(response.statusCode)) {
      return done(false, 'http-status', `status ${response.statusCode}, expected ${check.expectStatus.join(' or ')}`);
    }
    if (check.expectBody !== undefined && !body.includes(check.expectBody)) {
      return done(false, 'http-body', `status ${response.statusCode} but the body lacks ${JSON.stringify(check.expectBody)}`);
    }
    return done(true, 'ok', `status ${response.statusCode}`);
  } catch (error) {
    if (signal.aborted) return done(false, 'timeout', `no answer within ${check.timeout} ms`);
    const cause = ((error as Error).cause ?? error) as NodeJS.ErrnoException;
    return done(false, networkCode(cause), cause.message ?? String(error));
  }
}
