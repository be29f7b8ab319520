/**
 * TCP check: connect within the deadline, optionally send a line and expect a substring back.
 * The deadline runs from the run's start and covers both phases; the verdict names the one it cut.
 */
import { connect } from 'node:net';
import type { TcpCheck } from '../config/model.ts';
import { formatAddress } from '../net/address.ts';
import { networkCode, timeoutVerdict } from './codes.ts';
import type { CheckResult } from './types.ts';

export function runTcpCheck(check: TcpCheck, signal: AbortSignal): Promise<CheckResult> {
  const started = performance.now();
  const done = (ok: boolean, code: string, detail: string): CheckResult => ({ ok, code, detail, ms: performance.now() - started });
  return new Promise((resolve) => {
    const socket = connect({ host: formatAddress(check.address), port: check.port });
    let received = '';
    let connected = false;
    const finish = (result: CheckResult) => {
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(result);
    };
    const onAbort = () => {
      const { code, detail } = timeoutVerdict(connected ? 'response' : 'connect', check.timeout);
      finish(done(false, code, detail));
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => {
      connected = true;
      if (check.send !== undefined) socket.write(check.send);
      if (check.expect === undefined) finish(done(true, 'ok', 'connected'));
    });
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      received = (received + chunk).slice(-4096);
      if (check.expect !== undefined && received.includes(check.expect)) finish(done(true, 'ok', 'expected answer received'));
    });
    socket.once('end', () => finish(done(false, 'tcp-expect', `connection closed before ${JSON.stringify(check.expect)} arrived; got ${JSON.stringify(received.slice(0, 200))}`)));
    socket.once('error', (error: NodeJS.ErrnoException) => finish(done(false, networkCode(error), error.message)));
  });
}
