/**
 * `pfctl [-a ANCHOR] -t TABLE -T command [-f FILE] [address ...]` against one ruleset's tables,
 * in pfctl_table.c's order: read the addresses (argv, then the file), create the table for add
 * and replace (persist, "1 table created."), make the change, print the summary on stderr and,
 * under -v, each address's feedback on stdout. A refused ioctl prints radix_perror's line and
 * pfctl exits 255, as `pfctl_table` returning -1 makes it.
 */
import type { Os } from './grammar.ts';
import type { Outcome, PrintOptions } from './outcome.ts';
import { failure, summary, usage } from './outcome.ts';
import type { AddressChange, Feedback, KTable, TableEntry } from './tables.ts';
import { AddressError, addAddresses, addressWords, deleteAddresses, ERRNO_TEXT, flushAddresses, formatEntry, parseTableAddress, replaceAddresses, sortedEntries, TableRefused, testAddresses } from './tables.ts';

/** pfctl's -T commands, matched by prefix in this order (pfctl_lookup_option). */
export const TABLE_COMMANDS = ['kill', 'flush', 'add', 'delete', 'replace', 'show', 'test', 'zero', 'expire', 'reset'] as const;

/** PF_TABLE_NAME_SIZE: 32 bytes with the NUL. */
export const TABLE_NAME_MAX = 31;

export interface TableCall extends PrintOptions {
  os: Os;
  table: string;
  command: (typeof TABLE_COMMANDS)[number];
  /** Addresses given on the command line. */
  words: string[];
  file?: { name: string; text: string };
  verbose: number;
  now: number;
}

export interface TableScope {
  /** The ruleset's tables (the anchor's, or the main ruleset's). */
  tables: Record<string, KTable>;
  /** Other rulesets holding an active table of this name (OpenBSD's pfctl warns of them). */
  elsewhere: string[];
  /** What pf's limits leave for this ruleset's tables, counting everything outside it. */
  room: { tables: number; entries: number };
}

export interface TableResult {
  outcome: Outcome;
  /** The ruleset's tables after the command, when it changed them. */
  tables?: Record<string, KTable>;
}

const ERROR_EXIT = 255;

function refused(errno: keyof typeof ERRNO_TEXT, before = ''): TableResult {
  return { outcome: failure(`${before}pfctl: ${ERRNO_TEXT[errno]}.\n`, ERROR_EXIT) };
}

/** load_addr: argv words first, then the file's; the first bad one ends the command. */
function readAddresses(call: TableCall): TableEntry[] | Outcome {
  const entries: TableEntry[] = [];
  const read = (word: string, fromFile: boolean): Outcome | undefined => {
    try {
      entries.push(parseTableAddress(word, call.os));
      return undefined;
    } catch (error) {
      if (!(error instanceof AddressError)) throw error;
      const printed = error.printed === undefined ? '' : `${error.printed}\n`;
      if (fromFile) return failure(`${printed}pfctl: cannot load ${call.file!.name}: ${error.printed === undefined ? 'Invalid argument' : 'Undefined error: 0'}\n`, ERROR_EXIT);
      return failure(error.printed === undefined ? `pfctl: cannot decode ${word}: Invalid argument\n` : printed, ERROR_EXIT);
    }
  };
  for (const word of call.words) {
    const bad = read(word, false);
    if (bad) return bad;
  }
  for (const word of call.file ? addressWords(call.file.text) : []) {
    const bad = read(word, true);
    if (bad) return bad;
  }
  return entries;
}

function feedbackLines(call: TableCall, feedback: readonly Feedback[]): string {
  if (call.verbose === 0) return '';
  return feedback
    .filter((f) => call.verbose >= 2 || f.mark !== ' ')
    .map((f) => `${formatEntry(f.entry, f.mark)}\n`)
    .join('');
}

function ctime(ms: number): string {
  const d = new Date(ms);
  const day = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'][d.getUTCDay()]!;
  const month = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][d.getUTCMonth()]!;
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${day} ${month} ${String(d.getUTCDate()).padStart(2)} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} ${d.getUTCFullYear()}`;
}

/** `-T show`: one entry per line in radix order; -v adds each entry's (here always zero) statistics. */
function show(call: TableCall, table: KTable): string {
  const stats = ['In/Block:', 'In/Pass:', 'Out/Block:', 'Out/Pass:'];
  return sortedEntries(table)
    .map((e) => {
      const line = `${formatEntry(e)}\n`;
      if (call.verbose === 0) return line;
      return `${line}\tCleared:     ${ctime(table.cleared)}\n${stats.map((s) => `\t${s.padEnd(12)} [ Packets: ${'0'.padEnd(18)} Bytes: ${'0'.padEnd(18)} ]\n`).join('')}`;
    })
    .join('');
}

function entriesOf(tables: Record<string, KTable>): number {
  let n = 0;
  for (const t of Object.values(tables)) n += t.entries.length;
  return n;
}

/**
 * Under -n pfctl reads the addresses and skips every ioctl: nothing exists or fails, the counts
 * stay 0 (what -T show prints then is stale memory, here nothing).
 */
function dryRun(call: TableCall): Outcome {
  const entries = readAddresses(call);
  if (!Array.isArray(entries)) return entries;
  const n = entries.length;
  const line = {
    kill: '0 table deleted',
    flush: '0 addresses deleted',
    add: `0/${n} addresses added`,
    delete: `0/${n} addresses deleted`,
    replace: 'no changes',
    test: `0/${n} addresses match`,
  }[call.command as string];
  if (line === undefined) return { code: 0, stdout: '', stderr: '' };
  return { code: call.command === 'test' && n > 0 ? 2 : 0, stdout: '', stderr: summary(call, line) };
}

export function runTableCommand(call: TableCall, scope: TableScope): TableResult {
  if (call.table.length > TABLE_NAME_MAX) return { outcome: usage(call.os) };
  const takesAddresses = ['add', 'delete', 'replace', 'test'].includes(call.command);
  if (!takesAddresses && (call.words.length > 0 || call.file) && call.command !== 'zero') return { outcome: usage(call.os) };
  if (call.dryRun) return { outcome: dryRun(call) };
  const current = scope.tables[call.table];
  const stdout: string[] = [];
  let stderr = '';
  const done = (tables?: Record<string, KTable>, code = 0): TableResult => ({ outcome: { code, stdout: stdout.join(''), stderr }, ...(tables ? { tables } : {}) });
  try {
    switch (call.command) {
      case 'show':
        if (!current) throw new TableRefused('ESRCH');
        stdout.push(show(call, current));
        return done();
      case 'kill': {
        const deleted = current ? 1 : 0;
        stderr += summary(call, `${deleted} table deleted`);
        if (!deleted) return done();
        const rest = { ...scope.tables };
        delete rest[call.table];
        return done(rest);
      }
      case 'flush': {
        const change = flushAddresses(current);
        stderr += summary(call, `${change.deleted} addresses deleted`);
        return done({ ...scope.tables, [call.table]: change.table });
      }
      case 'test': {
        const entries = readAddresses(call);
        if (!Array.isArray(entries)) return { outcome: entries };
        const { matched, feedback } = testAddresses(current, entries);
        stderr += summary(call, `${matched}/${entries.length} addresses match`);
        stdout.push(feedbackLines({ ...call, verbose: Math.min(call.verbose, 1) }, feedback.filter((f) => f.mark === 'M')));
        return done(undefined, matched < entries.length ? 2 : 0);
      }
      case 'add':
      case 'delete':
      case 'replace': {
        const entries = readAddresses(call);
        if (!Array.isArray(entries)) return { outcome: entries };
        let table = current;
        if (call.command !== 'delete') {
          if (call.os === 'openbsd') for (const anchor of scope.elsewhere) stderr += `pfctl: warning: table <${call.table}> already defined in anchor "${anchor || '/'}"\n`;
          if (!table) {
            if (Object.keys(scope.tables).length + 1 > scope.room.tables) return refused('ENOMEM', stderr);
            table = { flags: ['persist'], entries: [], cleared: call.now };
            stderr += summary(call, '1 table created');
          }
        }
        const apply = { add: addAddresses, delete: deleteAddresses, replace: replaceAddresses }[call.command];
        const change: AddressChange = apply(table, entries);
        const others = entriesOf(scope.tables) - (current?.entries.length ?? 0);
        if (others + change.table.entries.length > scope.room.entries) {
          // The table CREATE_TABLE made stays: pf refuses the addresses alone.
          return { ...refused('ENOMEM', stderr), ...(current ? {} : { tables: { ...scope.tables, [call.table]: table! } }) };
        }
        if (call.command === 'replace') {
          if (change.added) stderr += summary(call, `${change.added} addresses added`);
          if (change.deleted) stderr += summary(call, `${change.deleted} addresses deleted`);
          if (change.changed) stderr += summary(call, `${change.changed} addresses changed`);
          if (!change.added && !change.deleted && !change.changed) stderr += summary(call, 'no changes');
        } else {
          stderr += summary(call, `${call.command === 'add' ? change.added : change.deleted}/${entries.length} addresses ${call.command === 'add' ? 'added' : 'deleted'}`);
        }
        stdout.push(feedbackLines(call, change.feedback));
        return done({ ...scope.tables, [call.table]: change.table });
      }
      default:
        return { outcome: failure(`pfctl emulator: -T ${call.command} is not emulated\n`) };
    }
  } catch (error) {
    if (error instanceof TableRefused) return refused(error.errno, stderr);
    throw error;
  }
}
