/**
 * Runs a program hfm-style, never through a shell, in its own process group: at the deadline
 * SIGINT goes to the whole group, `killAfter` later SIGKILL, so neither a hung child nor a
 * grandchild that holds its stdout open survives. The verdict follows the program's exit (or the
 * deadline, whichever is first), never its output pipes: a descendant that left the group
 * (setsid, a daemon) may hold them open for ever, so they get a bounded drain after the exit and
 * such an escape is reported. `gone` resolves once the group has been killed and the pipes are
 * closed, within a bound whatever the program does, so the next run never overlaps this one and
 * shutting down never waits on a check.
 *
 * node:child_process rather than execa: execa settles only when the pipes close, and a spawn that
 * fails for lack of file descriptors makes it throw (`subprocess.stdio is not iterable`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { OutputTail } from './output-tail.ts';
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
}

/**
 * How long the pipes may stay open once the program has exited and its group was killed. Reading
 * what is buffered takes microseconds; a killed group member closes its end when the kernel
 * reaps it. Past this, the holder is outside the group.
 */
export const DRAIN_MS = 250;
/** How long after SIGKILL a program that still has not exited (stuck in the kernel) is waited for. */
export const ABANDON_MS = 1000;

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
}

const SPAWN_REASONS: Readonly<Record<string, string>> = {
  ENOENT: 'not found',
  EACCES: 'permission denied (not executable, or a directory on its path is closed)',
  EMFILE: 'this process has no file descriptors left (EMFILE)',
  ENFILE: 'the system has no file descriptors left (ENFILE)',
  EAGAIN: 'no process slots left (EAGAIN)',
};

function spawnFailure(argv0: string, error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code ?? '';
  return `cannot run ${argv0}: ${SPAWN_REASONS[code] ?? (code || String(error))}`;
}

/** A run that never started: its verdict is already known and nothing of it is left. */
function settled(result: CheckResult): CommandRun {
  const promise = Promise.resolve(result);
  return { result: promise, gone: promise.then(() => undefined) };
}

/** Resolves when the stream has closed, or at once if there is none. */
function closed(stream: NodeJS.ReadableStream | null | undefined): Promise<void> {
  // A spawn that failed for lack of file descriptors has no pipes at all.
  if (!stream) return Promise.resolve();
  return new Promise((resolve) => {
    stream.once('close', resolve);
    stream.on('error', () => resolve());
  });
}

export function runCommand(options: CommandOptions): CommandRun {
  const started = performance.now();
  const done = (ok: boolean, code: string, detail: string): CheckResult => ({ ok, code, detail, ms: performance.now() - started });
  const argv0 = options.argv[0]!;
  let child: ChildProcess;
  try {
    child = spawn(argv0, options.argv.slice(1), {
      // Its own session and process group, so the whole group can be signalled.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...options.env },
      ...(options.cwd ? { cwd: options.cwd } : {}),
    });
  } catch (error) {
    return settled(done(false, 'spawn-failed', spawnFailure(argv0, error)));
  }
  const output = new OutputTail(options.maxOutput);
  child.stdout?.on('data', (chunk: Buffer) => output.push(chunk));
  child.stderr?.on('data', (chunk: Buffer) => output.push(chunk));
  const pipesClosed = Promise.all([closed(child.stdout), closed(child.stderr)]);

  let settle!: (result: CheckResult) => void;
  const result = new Promise<CheckResult>((resolve) => (settle = resolve));
  let finish!: () => void;
  const gone = new Promise<void>((resolve) => (finish = resolve));
  let timedOut = false;
  let killTimer: NodeJS.Timeout | undefined;
  let abandonTimer: NodeJS.Timeout | undefined;

  const cleanUp = () => {
    clearTimeout(deadline);
    clearTimeout(killTimer);
    clearTimeout(abandonTimer);
    options.signal?.removeEventListener('abort', interrupt);
  };
  const interrupt = () => {
    if (timedOut) return;
    timedOut = true;
    killGroup(child.pid, 'SIGINT');
    settle(done(false, 'timeout', `no exit within ${options.timeout} ms; SIGINT sent to the process group`));
    killTimer = setTimeout(() => {
      killGroup(child.pid, 'SIGKILL');
      // A process stuck in the kernel ignores even SIGKILL for a while; the schedule does not wait for it.
      abandonTimer = setTimeout(() => {
        cleanUp();
        child.stdout?.destroy();
        child.stderr?.destroy();
        finish();
      }, ABANDON_MS);
    }, options.killAfter);
  };
  // Spawning is synchronous and slow on a loaded machine: it counts against the run's deadline.
  const deadline = setTimeout(interrupt, Math.max(0, options.timeout - (performance.now() - started)));
  if (options.signal?.aborted) interrupt();
  else options.signal?.addEventListener('abort', interrupt, { once: true });

  // Only a spawn that failed emits 'error' here: signals go through process.kill, not child.kill.
  child.on('error', (error) => {
    if (child.pid !== undefined) return;
    cleanUp();
    settle(done(false, 'spawn-failed', spawnFailure(argv0, error)));
    finish();
  });
  child.once('exit', (code, signal) => {
    cleanUp();
    // Whatever the leader did, nothing of its group may outlive it.
    killGroup(child.pid, 'SIGKILL');
    let drainTimer: NodeJS.Timeout | undefined;
    const drained = new Promise<boolean>((resolve) => {
      drainTimer = setTimeout(() => resolve(false), DRAIN_MS);
      void pipesClosed.then(() => resolve(true));
    });
    void drained.then((complete) => {
      clearTimeout(drainTimer);
      if (!complete) {
        child.stdout?.destroy();
        child.stderr?.destroy();
      }
      if (!timedOut) settle(verdict(code, signal, output.text(), !complete, done));
      finish();
    });
  });
  return { result, gone };
}

const ESCAPED = 'a process that left its process group (setsid, a daemon) kept its output open; it was not killed';

function verdict(code: number | null, signal: NodeJS.Signals | null, text: string, escaped: boolean, done: (ok: boolean, code: string, detail: string) => CheckResult): CheckResult {
  const said = text ? `: ${text}` : '';
  const note = escaped ? `; ${ESCAPED}` : '';
  if (code === 0) return escaped ? done(true, 'escaped', `exit 0${note}`) : done(true, 'ok', 'exit 0');
  if (signal) return done(false, 'killed', `killed by ${signal}${said}${note}`);
  return done(false, 'exit-code', `exit ${code}${said}${note}`);
}
