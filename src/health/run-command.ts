/**
 * Runs a program hfm-style, never through a shell, in its own process group: at the deadline
 * SIGINT goes to the whole group, `killAfter` later SIGKILL, so neither a hung child nor a
 * grandchild that holds its stdout open survives. The verdict comes at the deadline; `gone`
 * resolves once the group is dead, so the next run never overlaps this one.
 */
import { execa } from 'execa';
import type { CheckResult } from './types.ts';

export interface CommandRun {
  result: Promise<CheckResult>;
  gone: Promise<void>;
}

export interface CommandOptions {
  argv: readonly string[];
  env?: Record<string, string>;
  cwd?: string;
  timeout: number;
  killAfter: number;
  maxOutput: number;
  signal?: AbortSignal;
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
}

export function runCommand(options: CommandOptions): CommandRun {
  const started = performance.now();
  const done = (ok: boolean, code: string, detail: string): CheckResult => ({ ok, code, detail, ms: performance.now() - started });
  const child = execa(options.argv[0]!, options.argv.slice(1), {
    detached: true,
    cleanup: false,
    reject: false,
    stdin: 'ignore',
    all: true,
    maxBuffer: options.maxOutput,
    ...(options.env ? { env: options.env } : {}),
    ...(options.cwd ? { cwd: options.cwd } : {}),
  });
  let settle!: (result: CheckResult) => void;
  const result = new Promise<CheckResult>((resolve) => (settle = resolve));
  let timedOut = false;
  const interrupt = () => {
    timedOut = true;
    killGroup(child.pid, 'SIGINT');
    settle(done(false, 'timeout', `no exit within ${options.timeout} ms; SIGINT sent to the process group`));
    killTimer = setTimeout(() => killGroup(child.pid, 'SIGKILL'), options.killAfter);
  };
  let killTimer: NodeJS.Timeout | undefined;
  const deadline = setTimeout(interrupt, options.timeout);
  options.signal?.addEventListener('abort', interrupt, { once: true });
  const gone = child.then((outcome) => {
    clearTimeout(deadline);
    clearTimeout(killTimer);
    options.signal?.removeEventListener('abort', interrupt);
    // Whatever the leader did, nothing of its group may outlive the run.
    killGroup(child.pid, 'SIGKILL');
    if (timedOut) return;
    const output = String(outcome.all ?? '').trim().slice(-options.maxOutput);
    if ('code' in outcome && outcome.code === 'ENOENT') settle(done(false, 'spawn-failed', `cannot run ${options.argv[0]}: not found`));
    else if (outcome.isMaxBuffer) settle(done(false, 'output-limit', `more than ${options.maxOutput} bytes of output; killed`));
    else if (outcome.exitCode === 0) settle(done(true, 'ok', 'exit 0'));
    else if (outcome.signal) settle(done(false, 'killed', `killed by ${outcome.signal}${output ? `: ${output}` : ''}`));
    else if (outcome.exitCode === undefined) settle(done(false, 'spawn-failed', outcome.shortMessage ?? 'could not start'));
    else settle(done(false, 'exit-code', `exit ${outcome.exitCode}${output ? `: ${output}` : ''}`));
  });
  return { result, gone };
}
