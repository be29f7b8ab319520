/** Runs of one check: each run's verdict and when nothing of it is left, and what runs share. */
import type { Check } from '../config/model.ts';
import { deadline } from './deadline.ts';
import { runExecCheck } from './exec-check.ts';
import { HttpProbe } from './http-check.ts';
import type { CommandRun } from './run-command.ts';
import { runTcpCheck } from './tcp-check.ts';

export interface CheckSession {
  run(signal: AbortSignal): CommandRun;
  /** Releases what the runs shared (an http check's probe); call after the last run is gone. */
  close(): Promise<void>;
}

export function checkSession(check: Check): CheckSession {
  let probe: HttpProbe | undefined;
  return {
    run(signal) {
      if (check.type === 'exec') return runExecCheck(check, signal);
      const limit = deadline(signal, check.timeout);
      const verdict = check.type === 'tcp' ? runTcpCheck(check, limit.signal) : (probe ??= new HttpProbe(check)).run(limit.signal);
      const result = verdict.finally(limit.dispose);
      return { result, gone: result.then(() => undefined) };
    },
    async close() {
      await probe?.close();
      probe = undefined;
    },
  };
}
