/**
 * The real `pfsteer run` as a process inside a namespace, and the control CLI beside it. The
 * daemon's PID is its own (`ip netns exec` execs in place), so SIGTERM and SIGHUP go straight
 * to it; its NDJSON log lines are kept for waiting and for failure messages.
 */
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { execa, type Result, type ResultPromise } from 'execa';
import type { Lab } from './netns.ts';

const MAIN = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.ts');

export interface LogLine {
  msg?: string;
  level?: number;
  [key: string]: unknown;
}

export class DaemonProcess {
  readonly pid: number;
  readonly ns: string;
  readonly file: string;
  readonly lines: LogLine[] = [];
  private readonly child: ResultPromise;
  private readonly lab: Lab;
  private exited: Result | undefined;

  private constructor(lab: Lab, ns: string, file: string) {
    this.lab = lab;
    this.ns = ns;
    this.file = file;
    this.child = execa('ip', ['netns', 'exec', ns, process.execPath, MAIN, 'run', '-c', file], { reject: false, stdin: 'ignore' });
    if (this.child.pid === undefined) throw new Error(`cannot start pfsteer run in ${ns}`);
    this.pid = this.child.pid;
    lab.track(this.pid);
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      try {
        this.lines.push(JSON.parse(line) as LogLine);
      } catch {
        this.lines.push({ msg: line });
      }
    });
    void this.child.then((r) => {
      this.exited = r;
      lab.untrack(this.pid);
    });
  }

  /** Starts the daemon and waits until it steers (its first pass is applied). */
  static async start(lab: Lab, ns: string, file: string, ms = 10_000): Promise<DaemonProcess> {
    const d = new DaemonProcess(lab, ns, file);
    try {
      await d.waitForLog('steering', ms, (l) => l.msg === 'steering');
    } catch (error) {
      await d.stop();
      throw error;
    }
    return d;
  }

  /** Waits for a log line at or after index `from` that satisfies `match`. */
  async waitForLog(what: string, ms: number, match: (line: LogLine) => boolean, from = 0): Promise<LogLine> {
    const deadline = performance.now() + ms;
    for (;;) {
      const found = this.lines.slice(from).find(match);
      if (found) return found;
      if (this.exited) throw new Error(`pfsteer run exited ${this.exited.exitCode} before ${what}: ${this.exited.stderr}\n${this.tail()}`);
      if (performance.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for the daemon to log ${what}\n${this.tail()}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** The last log lines, for failure messages. */
  tail(n = 30): string {
    return this.lines.slice(-n).map((l) => JSON.stringify(l)).join('\n');
  }

  /** SIGHUP by PID; resolves once the daemon logged the reload. */
  async reload(ms = 5000): Promise<void> {
    const from = this.lines.length;
    process.kill(this.pid, 'SIGHUP');
    await this.waitForLog('reloaded', ms, (l) => l.msg === 'reloaded', from);
  }

  /** SIGTERM by PID (SIGKILL after `ms`); resolves with the exit code. */
  async stop(ms = 5000): Promise<number | undefined> {
    if (!this.exited) {
      try {
        process.kill(this.pid, 'SIGTERM');
      } catch {
        // already gone
      }
      const timer = setTimeout(() => {
        if (!this.exited) process.kill(this.pid, 'SIGKILL');
      }, ms);
      await this.child;
      clearTimeout(timer);
    }
    return this.exited?.exitCode;
  }
}

/** `pfsteer ARGS` inside namespace `ns`; never rejects, the caller judges the exit code. */
export function pfsteer(ns: string, args: string[]) {
  return execa('ip', ['netns', 'exec', ns, process.execPath, MAIN, ...args], { reject: false, stdin: 'ignore' });
}
