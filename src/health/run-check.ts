/** One run of any check type: the verdict, and when nothing of the run is left. */
import type { Check } from '../config/model.ts';
import { runExecCheck } from './exec-check.ts';
import { runHttpCheck } from './http-check.ts';
import type { CommandRun } from './run-command.ts';
import { deadline } from './deadline.ts';
import { runTcpCheck } from './tcp-check.ts';

export function runCheck(check: Check, signal: AbortSignal): CommandRun {
  if (check.type === 'exec') return runExecCheck(check, signal);
  const limit = deadline(signal, check.timeout);
  const result = (check.type === 'tcp' ? runTcpCheck(check, limit.signal) : runHttpCheck(check, limit.signal)).finally(limit.dispose);
  return { result, gone: result.then(() => undefined) };
}
