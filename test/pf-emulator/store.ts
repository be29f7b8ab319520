/**
 * The emulated kernel's memory: one folder (named by PFSTEER_PF_EMULATOR) holding pf's rulesets,
 * states and counters in `pf.jsonl`, a call log, and pending faults. Every pfctl invocation is a
 * separate process, so each one takes a lock for its whole read-modify-write.
 *
 * pf.jsonl is a header line (all but the anchors, plus each anchor's table names and entry count)
 * and one line per anchor with its rules and tables: loading an anchor or changing one of its
 * tables rewrites the header and that line without parsing or printing the other anchors (see
 * replaceAnchor).
 */
import { join } from 'node:path';
import { fs } from './fs.ts';
import type { Os } from './grammar.ts';
import type { KTable } from './tables.ts';

const { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmdirSync, statSync, writeFileSync } = fs;

const STATE = 'pf.jsonl';

export interface Counters {
  evaluations: number;
  packets: number;
  bytes: number;
  states: number;
  /** The pfctl process that loaded the rule (pf's cpid, which -v prints). */
  pid: number;
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
  /** The names of its active tables (OpenBSD's pfctl warns when -T creates one found elsewhere). */
  names: string[];
  entries: number;
}

/**
 * One anchor as the kernel holds it: its rules (the text last loaded, whose table statements
 * only seeded `tables`) and its tables, which `-T` commands change and a load replaces.
 */
export interface LoadedAnchor {
  source: string;
  /** `source` without its table statements: what printing and evaluating the rules parse. */
  rules: string;
  /** Per printed (expanded) rule, in order. */
  counters: Counters[];
  loadedAt: number;
  tables: Record<string, KTable>;
}

export interface PfMemory {
  os: Os;
  main: string;
  /** The main ruleset's tables. */
  mainTables: Record<string, KTable>;
  /** Per printed rule of the main ruleset. */
  mainCounters: Counters[];
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
  mainTables: Record<string, KTable>;
  /** Per anchor but the one being replaced. */
  tableCounts: Record<string, TableCount>;
}

/** The first line of pf.jsonl. */
interface Header {
  os: Os;
  main: string;
  mainTables: Record<string, KTable>;
  mainCounters: Counters[];
  states: PfStateEntry[];
  nextStateId: number;
  tableCounts: Record<string, TableCount>;
}

export function emptyMemory(os: Os): PfMemory {
  return { os, main: '', mainTables: {}, mainCounters: [], anchors: {}, states: [], nextStateId: 1 };
}

export function tableCount(tables: Record<string, KTable>): TableCount {
  let entries = 0;
  for (const t of Object.values(tables)) entries += t.entries.length;
  return { names: Object.keys(tables), entries };
}

function headerOf(memory: PfMemory): Header {
  const tableCounts: Record<string, TableCount> = {};
  for (const [name, a] of Object.entries(memory.anchors)) tableCounts[name] = tableCount(a.tables);
  return { os: memory.os, main: memory.main, mainTables: memory.mainTables, mainCounters: memory.mainCounters, states: memory.states, nextStateId: memory.nextStateId, tableCounts };
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
    return { os: header.os, main: header.main, mainTables: header.mainTables, mainCounters: header.mainCounters, anchors, states: header.states, nextStateId: header.nextStateId };
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
   * Changes one anchor as `update` would, parsing no other anchor: `change` sees the main
   * ruleset, every other anchor's table counts and this anchor as it is, and returns it as it
   * becomes (null: gone, as pf drops an empty ruleset) or leaves it out to change nothing. The
   * anchor's line is replaced in place, or appended as a new key would be.
   */
  replaceAnchor<T>(name: string, change: (summary: PfSummary, current: LoadedAnchor | undefined) => { anchor?: LoadedAnchor | null; result: T }): T {
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
      // JSON escapes a newline inside a string, so `\n["name",` can only be the start of its line.
      const at = data.indexOf(`\n${JSON.stringify([name]).slice(0, -1)},`, headerEnd - 1);
      const start = at < 0 ? data.length : at + 1;
      const end = at < 0 ? data.length : data.indexOf(0x0a, start) + 1;
      const current = at < 0 ? undefined : (JSON.parse(data.toString('utf8', start, end))[1] as LoadedAnchor);
      const others = { ...header.tableCounts };
      delete others[name];
      const { anchor, result } = change({ os: header.os, main: header.main, mainTables: header.mainTables, tableCounts: others }, current);
      if (anchor === undefined) return result;
      if (anchor === null) delete header.tableCounts[name];
      else header.tableCounts[name] = tableCount(anchor.tables);
      const line = anchor === null ? Buffer.alloc(0) : Buffer.from(anchorLine(name, anchor));
      this.replace(Buffer.concat([Buffer.from(`${JSON.stringify(header)}\n`), data.subarray(headerEnd, start), line, data.subarray(end)]));
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
