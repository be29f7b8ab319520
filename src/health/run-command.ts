/**
 * Runs a program hfm-style, never through a shell, in its own process group: at the deadline
 * SIGINT goes to the whole group, `killAfter` later SIGKILL, so neither a hung child nor a
 * grandchild that holds its stdout open survives. The verdict comes when the program exits or at
 * the deadline, whichever is first; `gone` resolves once the group has been killed and the
 * program reaped, so the next run never overlaps this one.
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
  /** Bytes of output (stdout and stderr as they arrive) kept for the detail: the last ones. */
  maxOutput: number;
  signal?: AbortSignal;
  /** An exit status that means "the host cannot be reached" (code `exit-unreachable`), for exec checks. */
  unreachableExit?: number;
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
}

/** The last `limit` bytes of everything written to it, in constant memory. */
function outputTail(limit: number) {
  let kept = Buffer.alloc(0);
  return {
    push(chunk: Buffer): void {
      const joined = Buffer.concat([kept, chunk]);
      kept = joined.subarray(Math.max(0, joined.length - limit));
    },
    text(): string {
      return kept.toString('utf8').trim();
    },
  };
}

export function runCommand(options: CommandOptions): CommandRun {
  const started = performance.now();
  const done = (ok: boolean, code: string, detail: string): CheckResult => ({ ok, code, detail, ms: performance.now() - started });
  // Not buffered by execa: its maxBuffer would kill a chatty program that was about to exit 0.
  const child = execa(options.argv[0]!, options.argv.slice(1), {
    detached: true,
    cleanup: false,
    reject: false,
    stdin: 'ignore',
    buffer: false,
    ...(options.env ? { env: options.env } : {}),
    ...(options.cwd ? { cwd: options.cwd } : {}),
  });
  const output = outputTail(options.maxOutput);
  child.stdout?.on('data', (chunk: Buffer) => output.push(chunk));
  child.stderr?.on('data', (chunk: Buffer) => output.push(chunk));
  // execa settles only when stdout and stderr close; a grandchild may hold them open for ever.
  child.once('exit', () => killGroup(child.pid, 'SIGKILL'));
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
    const text = output.text();
    if ('code' in outcome && outcome.code === 'ENOENT') settle(done(false, 'spawn-failed', `cannot run ${options.argv[0]}: not found`));
    else if (outcome.exitCode === 0) settle(done(true, 'ok', 'exit 0'));
    else if (outcome.signal) settle(done(false, 'killed', `killed by ${outcome.signal}${text ? `: ${text}` : ''}`));
    else if (outcome.exitCode === undefined) settle(done(false, 'spawn-failed', outcome.shortMessage ?? 'could not start'));
    else if (outcome.exitCode === options.unreachableExit) settle(done(false, 'exit-unreachable', `exit ${outcome.exitCode} (unreachable)${text ? `: ${text}` : ''}`));
    else settle(done(false, 'exit-code', `exit ${outcome.exitCode}${text ? `: ${text}` : ''}`));
  });
  return { result, gone };
}
