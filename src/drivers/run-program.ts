/**
 * Runs one program of a driver (pfctl, nft, conntrack) and never throws, whatever the system
 * does: a spawn that fails (ENOENT, EMFILE when the daemon is out of file descriptors) is a
 * result with `error`, not an exception. execa cannot promise that: when the process table or
 * descriptors run out, Node hands it a child without pipes, execa throws a TypeError and the
 * child's own `spawn EMFILE` error is then emitted with no listener, which ends the process.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface ProgramOptions {
  input?: string;
  timeoutMs: number;
  /** SIGKILL this long after the SIGTERM a timeout sends. */
  killAfterMs?: number;
  /** Added to the daemon's environment. */
  env?: Record<string, string>;
  /** stdout or stderr longer than this ends the program (a runaway listing must not eat memory). */
  maxOutputBytes?: number;
  /** Ends the program early (a read its caller no longer needs), as a timeout does. */
  signal?: AbortSignal;
}

/** stdout and stderr come without their final newline. */
export interface ProgramResult {
  /** undefined when the program did not exit by itself (never started, killed by a signal). */
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** `signal` stopped it. */
  canceled: boolean;
  /** Why it could not run, or was stopped for its output. */
  error?: Error;
}

const MAX_OUTPUT = 128 * 1024 * 1024;

/** Without its one final newline, as execa gave it: the parsers were written against that. */
function text(chunks: Buffer[]): string {
  const all = Buffer.concat(chunks).toString('utf8');
  return all.endsWith('\r\n') ? all.slice(0, -2) : all.endsWith('\n') ? all.slice(0, -1) : all;
}

export function runProgram(argv: readonly string[], options: ProgramOptions): Promise<ProgramResult> {
  return new Promise((resolve) => {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let size = 0;
    let timedOut = false;
    let canceled = false;
    let failure: Error | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    let done = false;
    const finish = (exitCode: number | undefined): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(killTimer);
      options.signal?.removeEventListener('abort', cancel);
      resolve({ exitCode, stdout: text(out), stderr: text(err), timedOut, canceled, ...(failure ? { error: failure } : {}) });
    };
    const stop = (): void => {
      child?.kill('SIGTERM');
      killTimer = setTimeout(() => child?.kill('SIGKILL'), options.killAfterMs ?? 1_000);
    };
    const timer = setTimeout(() => {
      timedOut = true;
      stop();
    }, options.timeoutMs);
    const cancel = (): void => {
      canceled = true;
      stop();
    };
    let child: ChildProcess | undefined;
    try {
      child = spawn(argv[0]!, argv.slice(1), { stdio: 'pipe', env: { ...process.env, ...options.env } });
    } catch (error) {
      failure = error instanceof Error ? error : new Error(String(error));
      finish(undefined);
      return;
    }
    // A failed spawn reports here, after this tick, with no pipes to read.
    child.once('error', (error) => {
      failure ??= error;
      if (!child?.pid) finish(undefined);
    });
    child.once('close', (code) => finish(code ?? undefined));
    if (options.signal?.aborted) cancel();
    else options.signal?.addEventListener('abort', cancel, { once: true });
    if (!child.stdout || !child.stderr || !child.stdin) return;
    const collect = (into: Buffer[]) => (chunk: Buffer) => {
      size += chunk.length;
      if (size > (options.maxOutputBytes ?? MAX_OUTPUT)) {
        failure ??= new Error(`output beyond ${options.maxOutputBytes ?? MAX_OUTPUT} bytes`);
        stop();
        return;
      }
      into.push(chunk);
    };
    child.stdout.on('data', collect(out));
    child.stderr.on('data', collect(err));
    // A program that exits without reading its input closes the pipe: EPIPE is no failure of ours.
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}
