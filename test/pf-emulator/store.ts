/**
 * The emulated kernel's memory: one folder (named by PFSTEER_PF_EMULATOR) holding pf's rulesets,
 * states and counters in `pf.jsonl`, a call log, and pending faults. Every pfctl invocation is a
 * separate process, so each one takes a lock for its whole read-modify-write.
 *
 * pf.jsonl is a header line (all but the anchors, plus each anchor's table counts) and one line
 * per anchor: loading one anchor, the call pfsteer makes for every bucket it moves, rewrites the
 * header and that line without parsing or printing the other anchors' rules (see replaceAnchor).
 */
import { join } from 'node:path';
import { fs } from './fs.ts';
import type { Os } from './grammar.ts';

const { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmdirSync, statSync, writeFileSync } = fs;

const STATE = 'pf.jsonl';

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

/** A ruleset's tables and their entries: what it takes of pf's table limits. */
export interface TableCount {
  tables: number;
  entries: number;
}

/** Kept with its table counts so that a load need not re-read every anchor for pf's limits. */
export interface LoadedAnchor extends TableCount {
  source: string;
  /** Per printed (expanded) rule, in order. */
  counters: Counters[];
  loadedAt: number;
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

/** What loading one anchor needs to know besides the anchor: the main ruleset and the table counts. */
export interface PfSummary {
  os: Os;
  main: string;
  tableCounts: Record<string, TableCount>;
}

/** The first line of pf.jsonl. */
interface Header {
  os: Os;
  main: string;
  states: PfStateEntry[];
  nextStateId: number;
  tableCounts: Record<string, TableCount>;
}

export function emptyMemory(os: Os): PfMemory {
  return { os, main: '', anchors: {}, states: [], nextStateId: 1 };
}

function headerOf(memory: PfMemory): Header {
  const tableCounts: Record<string, TableCount> = {};
  for (const [name, a] of Object.entries(memory.anchors)) tableCounts[name] = { tables: a.tables, entries: a.entries };
  return { os: memory.os, main: memory.main, states: memory.states, nextStateId: memory.nextStateId, tableCounts };
}

function anchorLine(name: string, anchor: LoadedAnchor): string {
  return `${JSON.stringify([name, anchor])}\n`;
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
    let text: string;
    try {
      text = readFileSync(this.path(STATE), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return emptyMemory(this.os());
      throw error;
    }
    const [first, ...lines] = text.split('\n');
    const header = JSON.parse(first!) as Header;
    const anchors: Record<string, LoadedAnchor> = {};
    for (const line of lines) {
      if (line === '') continue;
      const [name, anchor] = JSON.parse(line) as [string, LoadedAnchor];
      anchors[name] = anchor;
    }
    return { os: header.os, main: header.main, anchors, states: header.states, nextStateId: header.nextStateId };
  }

  write(memory: PfMemory): void {
    const lines = Object.entries(memory.anchors).map(([name, anchor]) => anchorLine(name, anchor));
    this.replace(`${JSON.stringify(headerOf(memory))}\n${lines.join('')}`);
  }

  /** Changes with every write (each replaces the file): a poller can skip reading what it has seen. */
  stamp(): string {
    try {
      const s = statSync(this.path(STATE), { bigint: true });
      return `${s.ino}:${s.mtimeNs}:${s.size}`;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
      throw error;
    }
  }

  /** Readers take no lock: they see the old file or the new one, never a mix. */
  private replace(data: string | Uint8Array): void {
    const tmp = this.path(`${STATE}.${process.pid}`);
    writeFileSync(tmp, data);
    renameSync(tmp, this.path(STATE));
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

  /**
   * Loads one anchor as `update` would, reading no other anchor's rules: `make` sees the main
   * ruleset and every anchor's table counts and returns the anchor, or none to leave pf as it
   * was. The anchor replaces its line in place, or is appended as a new key would be.
   */
  replaceAnchor<T>(name: string, make: (summary: PfSummary) => { anchor?: LoadedAnchor; result: T }): T {
    return this.locked(() => {
      let data: Buffer;
      try {
        data = readFileSync(this.path(STATE));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        data = Buffer.from(`${JSON.stringify(headerOf(emptyMemory(this.os())))}\n`);
      }
      const headerEnd = data.indexOf(0x0a) + 1;
      const header = JSON.parse(data.toString('utf8', 0, headerEnd)) as Header;
      const { anchor, result } = make({ os: header.os, main: header.main, tableCounts: { ...header.tableCounts } });
      if (anchor === undefined) return result;
      header.tableCounts[name] = { tables: anchor.tables, entries: anchor.entries };
      // JSON escapes a newline inside a string, so `\n["name",` can only be the start of its line.
      const at = data.indexOf(`\n${JSON.stringify([name]).slice(0, -1)},`, headerEnd - 1);
      const start = at < 0 ? data.length : at + 1;
      const end = at < 0 ? data.length : data.indexOf(0x0a, start) + 1;
      this.replace(Buffer.concat([Buffer.from(`${JSON.stringify(header)}\n`), data.subarray(headerEnd, start), Buffer.from(anchorLine(name, anchor)), data.subarray(end)]));
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
