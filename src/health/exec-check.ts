/** exec check (hfm semantics): exit 0 is up; see run-command.ts for deadlines and groups. */
import type { ExecCheck } from '../config/model.ts';
import { EXIT_UNREACHABLE } from './codes.ts';
import { runCommand, type CommandRun } from './run-command.ts';

export function runExecCheck(check: ExecCheck, signal: AbortSignal): CommandRun {
  return runCommand({
    argv: check.command,
    env: check.env,
    ...(check.cwd ? { cwd: check.cwd } : {}),
    timeout: check.timeout,
    killAfter: check.killAfter,
    maxOutput: check.maxOutput,
    signal,
    unreachableExit: EXIT_UNREACHABLE,
  });
}
