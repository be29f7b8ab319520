/**
 * The emulated kernel's memory: one folder (named by PFSTEER_PF_EMULATOR) holding pf's rulesets,
 * states and counters in `pf.json`, a call log, and pending faults. Every pfctl invocation is a
 * separate process, so each one takes a lock for its whole read-modify-write.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Os } from './grammar.ts';

export interface Counters {
  evaluations: number;
  packets: number;
  bytes: number;
  states: number;
}

export interface PfStateEntry {
  id: string;
  protocol: string;
  interface: string;
  client: string;
  clientPort: number;
  /** What the client dialled (wire side). */
  external: string;
  externalPort: number;
  /** Where pf sent it (stack side). */
  host: string;
  hostPort: number;
  anchor: string;
}

export interface LoadedAnchor {
  source: string;
  /** Per printed (expanded) rule, in order. */
  counters: Counters[];
  loadedAt: number;
  /** Its tables and their entries, kept so a load need not re-read every anchor for pf's limits. */
  tables: number;
  entries: number;
}

export interface PfMemory {
  os: Os;
  main: string;
  anchors: Record<string, LoadedAnchor>;
  states: PfStateEntry[];
  nextStateId: number;
}

export interface Faults {
  /** The next N matching calls exit 1 as if the kernel refused. */
  fail?: number;
  /** The next N matching calls never finish. */
  hang?: number;
  /** The next N matching calls print garbage and exit 0. */
  garbage?: number;
  /** Only calls whose argv, joined by spaces, matches this regular expression. */
  match?: string;
}

export interface CallRecord {
  argv: string[];
  stdin?: string;
  pid: number;
  at: number;
  outcome: 'ok' | 'error' | 'fail' | 'hang' | 'garbage';
}

export function emptyMemory(os: Os): PfMemory {
  return { os, main: '', anchors: {}, states: [], nextStateId: 1 };
}

export class Store {
  readonly dir: string;
  constructor(dir: string) {
    this.dir = dir;
    mkdirSync(dir, { recursive: true });
  }

  private path(name: string): string {
    return join(this.dir, name);
  }

  /** The grammar and output this pf speaks, fixed when the folder is made (see PfEmulator). */
  os(): Os {
    try {
      return readFileSync(this.path('os'), 'utf8').trim() as Os;
    } catch {
      return (process.env.PFSTEER_PF_EMULATOR_OS as Os | undefined) ?? 'freebsd';
    }
  }

  read(): PfMemory {
    try {
      return JSON.parse(readFileSync(this.path('pf.json'), 'utf8')) as PfMemory;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return emptyMemory(this.os());
      throw error;
    }
  }

  write(memory: PfMemory): void {
    const tmp = this.path(`pf.json.${process.pid}`);
    writeFileSync(tmp, JSON.stringify(memory));
    renameSync(tmp, this.path('pf.json'));
  }

  /** Runs `fn` holding the folder's lock; a lock older than 10 s belongs to a killed process. */
  locked<T>(fn: () => T): T {
    const lock = this.path('lock');
    const deadline = Date.now() + 20_000;
    for (;;) {
      try {
        mkdirSync(lock);
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        try {
          if (Date.now() - statSync(lock).mtimeMs > 10_000) rmdirSync(lock);
        } catch {
          // Another process removed it first.
        }
        if (Date.now() > deadline) throw new Error(`emulator lock ${lock} held too long`);
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 3);
      }
    }
    try {
      return fn();
    } finally {
      rmdirSync(lock);
    }
  }

  update<T>(fn: (memory: PfMemory) => T): T {
    return this.locked(() => {
      const memory = this.read();
      const result = fn(memory);
      this.write(memory);
      return result;
    });
  }

  log(record: CallRecord): void {
    appendFileSync(this.path('calls.log'), `${JSON.stringify(record)}\n`);
  }

  calls(): CallRecord[] {
    try {
      return readFileSync(this.path('calls.log'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as CallRecord);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  }

  setFaults(faults: Faults): void {
    this.locked(() => writeFileSync(this.path('faults.json'), JSON.stringify(faults)));
  }

  /** Consumes one pending fault that applies to `argv`, if any. */
  takeFault(argv: string[]): 'fail' | 'hang' | 'garbage' | undefined {
    if (!existsSync(this.path('faults.json'))) return undefined;
    return this.locked(() => {
      let faults: Faults;
      try {
        faults = JSON.parse(readFileSync(this.path('faults.json'), 'utf8')) as Faults;
      } catch {
        return undefined;
      }
      if (faults.match !== undefined && !new RegExp(faults.match).test(argv.join(' '))) return undefined;
      for (const kind of ['fail', 'hang', 'garbage'] as const) {
        if ((faults[kind] ?? 0) > 0) {
          faults[kind]! -= 1;
          writeFileSync(this.path('faults.json'), JSON.stringify(faults));
          return kind;
        }
      }
      return undefined;
    });
  }
}
