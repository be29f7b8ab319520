/**
 * The one place pfctl runs: through execa, never a shell, with the configured command prefix
 * (`doas`, `sudo -n`) and a deadline on every call.
 */
import { execa } from 'execa';
import type { PfConfig } from '../config/model.ts';
import { PfsteerError } from '../errors.ts';

/** pfctl failed or could not run; keeps the command, exit code and stderr. */
export class PfctlError extends PfsteerError {
  readonly command: string[];
  readonly exitCode: number | undefined;
  readonly stderr: string;

  constructor(command: string[], exitCode: number | undefined, stderr: string, reason: string, options?: { cause?: unknown }) {
    const hint = /Permission denied|Operation not permitted/i.test(stderr)
      ? ' (pfctl needs root to open /dev/pf: set pf.command_prefix, e.g. [doas] or [sudo, -n])'
      : '';
    super('pfctl', `${command.join(' ')} ${reason}: ${stderr.trim() || '(no output)'}${hint}`, options);
    this.command = command;
    this.exitCode = exitCode;
    this.stderr = stderr;
  }
}

export interface PfctlRun {
  command: string[];
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** `signal` ends the call early (a read the caller no longer needs). */
export type Pfctl = (args: string[], input?: string, signal?: AbortSignal) => Promise<PfctlRun>;

/** A runner for `config`; a timeout, a cancelled call or a program that never started throws PfctlError. */
export function pfctlRunner(config: PfConfig): Pfctl {
  return async (args, input, signal) => {
    const argv = [...config.commandPrefix, config.pfctl, ...args];
    const r = await execa(argv[0]!, argv.slice(1), {
      reject: false,
      timeout: config.timeout,
      // pfctl reads the rules from stdin with `-f -`; otherwise it must not wait on ours.
      input: input ?? '',
      env: { LC_ALL: 'C' },
      forceKillAfterDelay: 1000,
      ...(signal ? { cancelSignal: signal } : {}),
    });
    if (r.timedOut) throw new PfctlError(argv, r.exitCode, r.stderr, `did not finish within ${config.timeout} ms`, { cause: r });
    if (r.isCanceled) throw new PfctlError(argv, r.exitCode, r.stderr, 'was cancelled', { cause: r });
    if (r.exitCode === undefined) throw new PfctlError(argv, undefined, r.stderr || (r.message ?? ''), 'could not run', { cause: r });
    return { command: argv, exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr };
  };
}

/** Runs and insists on exit 0. */
export async function pfctlOk(pfctl: Pfctl, args: string[], input?: string, signal?: AbortSignal): Promise<PfctlRun> {
  const r = await pfctl(args, input, signal);
  if (r.exitCode !== 0) throw new PfctlError(r.command, r.exitCode, r.stderr, `exited ${r.exitCode}`);
  return r;
}
