/**
 * The real daemon as a child process (`node src/cli/main.ts run -c FILE`): its NDJSON log goes
 * to a file in the scene and each record to a listener; it is stopped by its PID with SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Scene } from './setup.ts';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

export interface LogRecord {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** The node options the program's `#!/usr/bin/env -S node ...` line asks for: run it as installed. */
function interpreterFlags(main: string): string[] {
  const first = readFileSync(main, 'utf8').split('\n', 1)[0]!;
  const m = /^#!\/usr\/bin\/env -S node\s+(.*)$/.exec(first);
  return m ? m[1]!.trim().split(/\s+/) : [];
}

export class DaemonProcess {
  readonly pid: number;
  readonly logFile: string;
  readonly exited: Promise<number | null>;
  readonly #child: ChildProcess;
  #running = true;

  private constructor(child: ChildProcess, logFile: string) {
    this.#child = child;
    this.pid = child.pid!;
    this.logFile = logFile;
    this.exited = new Promise((resolve) => child.once('exit', (code) => {
      this.#running = false;
      resolve(code);
    }));
  }

  /** `main` is the CLI to run: the sources by default, or a build such as dist/cli/main.js. */
  static spawn(scene: Pick<Scene, 'dir' | 'configFile' | 'env'>, onRecord: (record: LogRecord) => void, main = MAIN): DaemonProcess {
    const logFile = join(scene.dir, 'daemon.log');
    const child = spawn(process.execPath, [...interpreterFlags(main), main, 'run', '-c', scene.configFile], {
      env: { ...process.env, ...scene.env },
      // Its own process group, so that Ctrl-C reaches the demo alone and the demo stops it.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (child.pid === undefined) throw new Error(`cannot start ${process.execPath} ${main}`);
    const log = createWriteStream(logFile);
    child.stderr!.pipe(log, { end: false });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      log.write(`${line}\n`);
      try {
        onRecord(JSON.parse(line) as LogRecord);
      } catch {
        // Not NDJSON (a crash trace): it is in the log file all the same.
      }
    });
    return new DaemonProcess(child, logFile);
  }

  #signal(signal: NodeJS.Signals): void {
    if (!this.#running) return;
    try {
      process.kill(this.pid, signal);
    } catch (error) {
      // It exited between the check and the signal.
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  }

  get running(): boolean {
    return this.#running;
  }

  /** SIGTERM by PID; SIGKILL if it has not exited within `graceMs`. Resolves to the exit code. */
  async stop(graceMs = 5000): Promise<number | null> {
    this.#signal('SIGTERM');
    const timer = setTimeout(() => this.#signal('SIGKILL'), graceMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }
}
