/**
 * A pfctl(8) for machines without pf: it answers every call pfsteer makes the way pfctl does,
 * against an emulated pf kept in the folder $PFSTEER_PF_EMULATOR (see store.ts), so the real pf
 * driver runs through execa against it. $PFSTEER_PF_EMULATOR_OS picks freebsd (default) or
 * openbsd grammar and output for a fresh folder.
 */
import { containsAddress, parseAddress, parseCidr } from '../../src/net/address.ts';
import { fs } from './fs.ts';
import type { OptimizationLevel, Os, Ruleset } from './grammar.ts';
import { OPTIMIZATION_LEVELS, PfSyntaxError, parseRuleset } from './grammar.ts';
import { optimizeRuleset, Unemulated } from './optimize.ts';
import type { Outcome } from './outcome.ts';
import { failure, OK, summary, usage } from './outcome.ts';
import { expandedRules, isNatRule, loadedAnchor, loadTables, printCounters, printRule, referencedTables } from './ruleset.ts';
import type { LoadedAnchor, PfMemory, PfStateEntry, PfSummary, TableCount } from './store.ts';
import { Store, tableCount } from './store.ts';
import type { TableCall, TableResult } from './table-command.ts';
import { runTableCommand, TABLE_COMMANDS } from './table-command.ts';
import type { KTable } from './tables.ts';

const WITH_ARGUMENT: Record<Os, string> = { freebsd: 'aDFfiKkopstTx', openbsd: 'aDFfiKkLopSsRtTVx' };
const FLAGS: Record<Os, string> = { freebsd: 'AdeghmNnOPqRrvz', openbsd: 'deghNnPqrvz' };

interface Options {
  flags: Map<string, number>;
  values: Map<string, string[]>;
  rest: string[];
}

class Usage extends Error {}

/** getopt(3) as pfctl uses it: bundled flags (`-vv`), arguments attached or separate. */
function getopt(argv: string[], os: Os): Options {
  const flags = new Map<string, number>();
  const values = new Map<string, string[]>();
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('-') || arg === '-') {
      rest.push(arg);
      continue;
    }
    for (let j = 1; j < arg.length; j++) {
      const c = arg[j]!;
      if (WITH_ARGUMENT[os].includes(c)) {
        const value = j + 1 < arg.length ? arg.slice(j + 1) : argv[++i];
        if (value === undefined) throw new Usage(`option requires an argument -- ${c}`);
        // pfctl checks the level as getopt hands it over, before any other work.
        if (c === 'o' && !lookup(value, OPTIMIZATION_LEVELS)) throw new Usage(`Unknown optimization '${value}'`);
        values.set(c, [...(values.get(c) ?? []), value]);
        break;
      }
      if (!FLAGS[os].includes(c)) throw new Usage(`${os === 'freebsd' ? 'illegal' : 'unknown'} option -- ${c}`);
      flags.set(c, (flags.get(c) ?? 0) + 1);
    }
  }
  return { flags, values, rest };
}

/** pfctl keeps the last of a repeated option. */
function last(o: Options, key: string): string | undefined {
  return o.values.get(key)?.at(-1);
}

/** pfctl_lookup_option: the first entry the word is a prefix of. */
function lookup<T extends string>(word: string, list: readonly T[]): T | undefined {
  return word === '' ? undefined : list.find((s) => s.startsWith(word));
}

const SHOW = ['nat', 'queue', 'rules', 'Anchors', 'Sources', 'states', 'info', 'Interfaces', 'labels', 'timeouts', 'memory', 'Tables', 'osfp', 'Running', 'all'] as const;
const CLEAR: Record<Os, readonly string[]> = {
  freebsd: ['nat', 'queue', 'rules', 'Sources', 'states', 'info', 'Tables', 'osfp', 'all'],
  openbsd: ['rules', 'Sources', 'states', 'info', 'Tables', 'osfp', 'Reset', 'all'],
};

/** pf's pools in the order `-s memory` lists them, with the kernel's defaults (FreeBSD 12, OpenBSD). */
const POOLS: Record<Os, Record<string, number>> = {
  freebsd: { states: 10000, 'src-nodes': 10000, frags: 5000, 'table-entries': 200000 },
  openbsd: { states: 100000, 'src-nodes': 10000, frags: 65536, tables: 1000, 'table-entries': 200000, 'pktdelay-pkts': 10000, anchors: 512 },
};

function limitsOf(main: Ruleset | undefined, os: Os): Record<string, number> {
  return { ...POOLS[os], ...main?.limits };
}

/** pf_find_ruleset: a ruleset exists while it holds rules, tables or child anchors, or a rule names it. */
function anchorExists(memory: PfMemory, name: string): boolean {
  if (name === '' || memory.anchors[name]) return true;
  if (Object.keys(memory.anchors).some((n) => n.startsWith(`${name}/`))) return true;
  const main = memory.main ? parseRuleset(memory.main, memory.os) : undefined;
  return main?.rules.some((r) => r.anchor === name || r.anchor === `${name}/*`) ?? false;
}

function hostPort(address: string, port: number): string {
  return address.includes(':') ? `${address}[${port}]` : `${address}:${port}`;
}

function printState(s: PfStateEntry, verbose: number): string {
  const line = `all ${s.protocol} ${hostPort(s.host, s.hostPort)} (${hostPort(s.external, s.externalPort)}) <- ${hostPort(s.client, s.clientPort)}       ESTABLISHED:ESTABLISHED`;
  if (verbose < 2) return line;
  return [
    line,
    '   [1000 + 65535](+1) wscale 6  [2000 + 65535](+1) wscale 6',
    '   age 00:00:05, expires in 23:59:55, 4:4 pkts, 400:400 bytes, rule 0',
    `   id: ${s.id} creatorid: 00000001`,
  ].join('\n');
}

function matchHost(spec: string, address: string): boolean {
  const cidr = parseCidr(spec);
  const a = parseAddress(address);
  return cidr !== undefined && a !== undefined && cidr.address.family === a.family && containsAddress(cidr, a);
}

function kill(memory: PfMemory, args: string[]): Outcome {
  const [first, second, third] = args;
  let victims: PfStateEntry[];
  let label: string;
  if (first === 'id') {
    const [id] = (second ?? '').split('/');
    victims = memory.states.filter((s) => s.id === id?.padStart(16, '0'));
    label = '';
  } else if (first === 'nat' && memory.os === 'freebsd') {
    if (second === undefined) return usage(memory.os);
    victims = memory.states.filter((s) => matchHost(second, s.client) && (third === undefined || matchHost(third, s.host)));
    label = ` from 1 sources and ${third === undefined ? 0 : 1} destinations`;
  } else if (first === 'label') {
    victims = [];
    label = '';
  } else {
    for (const spec of [first, second].filter((x): x is string => x !== undefined)) {
      if (!parseCidr(spec)) return failure(`pfctl: no IP address found for ${spec}\n`);
    }
    victims = memory.states.filter((s) => matchHost(first!, s.client) && (second === undefined || matchHost(second, s.external)));
    label = ` from 1 sources and ${second === undefined ? 0 : 1} destinations`;
  }
  memory.states = memory.states.filter((s) => !victims.includes(s));
  return { code: 0, stdout: '', stderr: `killed ${victims.length} states${label}\n` };
}

/** Every problem as pfctl printed it; an errx() ends pfctl there, otherwise -n alone spares the last line. */
function syntaxFailure(file: string, error: PfSyntaxError, dryRun: boolean): Outcome {
  const lines = error.problems.map((p) => `${p.line === undefined ? '' : `${file}:${p.line}: `}${p.text}\n`);
  if (error.fatal !== undefined) lines.push(`pfctl: ${error.fatal}\n`);
  else if (!dryRun) lines.push('pfctl: Syntax error in config file: pf rules not loaded\n');
  return failure(lines.join(''));
}

/** Parsed before the lock is taken: only the swap into the emulated kernel needs it. */
function parseLoad(source: string, file: string, os: Os, anchor: string, dryRun: boolean): Ruleset | Outcome {
  try {
    return parseRuleset(source, os, anchor);
  } catch (error) {
    if (error instanceof PfSyntaxError) return syntaxFailure(file, error, dryRun);
    throw error;
  }
}

const NO_TABLE_MEMORY: Outcome = failure('pfctl: DIOCADDTABLES: Cannot allocate memory\npfctl: Syntax error in config file: pf rules not loaded\n');

function parsedMain(os: Os, main: string): Ruleset | undefined {
  return main ? parseRuleset(main, os) : undefined;
}

/** What pf's `set limit tables` / `table-entries` leave once `used` is counted. */
function room(os: Os, main: string, used: Iterable<TableCount>): { tables: number; entries: number } {
  const limits = limitsOf(parsedMain(os, main), os);
  let tables = 0;
  let entries = 0;
  for (const use of used) {
    tables += use.names.length;
    entries += use.entries;
  }
  return { tables: (limits.tables ?? Number.POSITIVE_INFINITY) - tables, entries: limits['table-entries']! - entries };
}

function fits(os: Os, main: string, used: TableCount[]): boolean {
  const left = room(os, main, used);
  return left.tables >= 0 && left.entries >= 0;
}

/** The optimizer level of a load: the last -o, else the file's first `set ruleset-optimization`, else basic. */
function optimizationLevel(o: Options, ruleset: Ruleset): OptimizationLevel {
  const given = last(o, 'o');
  return given === undefined ? (ruleset.optimization ?? 'basic') : lookup(given, OPTIMIZATION_LEVELS)!;
}

function unemulated(error: unknown): Outcome {
  if (error instanceof Unemulated) return failure(`pfctl emulator: ${error.message}\n`);
  throw error;
}

/** One anchor's load, which sees only what pf's limits need: Store.replaceAnchor runs it too. */
function loadAnchor(summary: PfSummary, source: string, ruleset: Ruleset, current: LoadedAnchor | undefined, level: OptimizationLevel): { anchor?: LoadedAnchor; result: Outcome } {
  const taken = new Set([...Object.keys(summary.mainTables), ...Object.values(summary.tableCounts).flatMap((t) => t.names), ...Object.keys(current?.tables ?? {})]);
  let optimized: ReturnType<typeof optimizeRuleset>;
  try {
    optimized = optimizeRuleset(ruleset, summary.os, level, taken);
  } catch (error) {
    return { result: unemulated(error) };
  }
  // `set limit` in an anchor parses and is not applied: pfctl loads options for the main ruleset only.
  const loaded = loadedAnchor(source, optimized.ruleset, current?.tables, optimized.rules);
  if (!fits(summary.os, summary.main, [tableCount(summary.mainTables), ...Object.values(summary.tableCounts), tableCount(loaded.tables)])) return { result: NO_TABLE_MEMORY };
  return { anchor: loaded, result: OK };
}

function load(memory: PfMemory, anchor: string, source: string, ruleset: Ruleset, level: OptimizationLevel): Outcome {
  if (anchor === '') {
    // The main ruleset is kept as its text (options, tables, rules), which an optimized load would rewrite.
    try {
      if (optimizeRuleset(ruleset, memory.os, level, new Set()).rules !== undefined) return failure('pfctl emulator: ruleset optimization of the main ruleset is not emulated; load it with -o none\n');
    } catch (error) {
      return unemulated(error);
    }
    const tables = loadTables(memory.mainTables, ruleset);
    if (!fits(memory.os, source, [tableCount(tables), ...Object.values(memory.anchors).map((a) => tableCount(a.tables))])) return NO_TABLE_MEMORY;
    memory.main = source;
    memory.mainTables = tables;
    memory.mainCounters = loadedAnchor(source, ruleset).counters;
    return OK;
  }
  const others: Record<string, TableCount> = {};
  for (const [name, a] of Object.entries(memory.anchors)) if (name !== anchor) others[name] = tableCount(a.tables);
  const { anchor: loaded, result } = loadAnchor({ os: memory.os, main: memory.main, mainTables: memory.mainTables, tableCounts: others }, source, ruleset, memory.anchors[anchor], level);
  if (loaded) memory.anchors[anchor] = loaded;
  return result;
}

function rulesetTables(memory: PfMemory, anchor: string): Record<string, KTable> | undefined {
  return anchor === '' ? memory.mainTables : memory.anchors[anchor]?.tables;
}

/** `-s Tables [-v]`: the ruleset's tables by name; -v adds pf's flags (const, persist, active, referenced, anchor-referenced, counters). */
function showTables(memory: PfMemory, anchor: string, verbose: number): Outcome {
  if (!anchorExists(memory, anchor)) return failure('pfctl: Anchor or Ruleset does not exist.\n');
  if (verbose >= 2) return failure('pfctl emulator: -s Tables -vv is not emulated\n');
  const tables = rulesetTables(memory, anchor) ?? {};
  const source = anchor === '' ? memory.main : (memory.anchors[anchor]?.rules ?? '');
  const named = referencedTables(parseRuleset(source, memory.os).rules);
  const fromAnchors = new Set<string>();
  if (anchor === '') {
    for (const a of Object.values(memory.anchors)) for (const n of referencedTables(parseRuleset(a.rules, memory.os).rules)) if (!a.tables[n]) fromAnchors.add(n);
  }
  const names = Object.keys(tables).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const line = (name: string): string => {
    if (verbose === 0) return `${name}\n`;
    const f = tables[name]!.flags;
    const flags = `${f.includes('const') ? 'c' : '-'}${f.includes('persist') ? 'p' : '-'}a-${named.has(name) ? 'r' : '-'}${fromAnchors.has(name) ? 'h' : '-'}${f.includes('counters') ? 'C' : '-'}`;
    return `${flags}\t${name}${anchor === '' ? '' : `\t${anchor}`}\n`;
  };
  return { code: 0, stdout: names.map(line).join(''), stderr: '' };
}

function showRules(memory: PfMemory, modifier: 'nat' | 'rules', anchor: string, verbose: number): Outcome {
  if (anchor.endsWith('*')) return failure('pfctl emulator: recursive anchor listing is not emulated\n');
  const loaded = anchor === '' ? undefined : memory.anchors[anchor];
  const source = anchor === '' ? memory.main : loaded?.rules;
  if (source === undefined) {
    if (anchorExists(memory, anchor)) return OK;
    return failure('pfctl: DIOCGETRULES: Invalid argument\n');
  }
  const counters = anchor === '' ? memory.mainCounters : loaded!.counters;
  const lines: string[] = [];
  let number = 0;
  expandedRules(memory, source).forEach((e, index) => {
    if (isNatRule(e.rule) !== (modifier === 'nat')) return;
    lines.push(`${verbose >= 2 ? `@${number} ` : ''}${printRule(e, memory.os)}`);
    if (verbose >= 1) lines.push(printCounters(counters[index] ?? { evaluations: 0, packets: 0, bytes: 0, states: 0, pid: process.pid }));
    number++;
  });
  return { code: 0, stdout: lines.map((l) => `${l}\n`).join(''), stderr: '' };
}

function show(memory: PfMemory, what: string, anchor: string, verbose: number): Outcome {
  const modifier = lookup(what, SHOW);
  if (!modifier) return failure(`pfctl: Unknown show modifier '${what}'\n${usage(memory.os).stderr}`);
  switch (modifier) {
    case 'nat':
    case 'rules':
      return showRules(memory, modifier, anchor, verbose);
    case 'Anchors': {
      // pfctl_show_anchors: FreeBSD's names the anchor, OpenBSD's err()s on the ioctl.
      if (!anchorExists(memory, anchor)) return failure(memory.os === 'freebsd' ? `Anchor '${anchor}' not found.\n` : 'pfctl: DIOCGETRULESETS: Invalid argument\n');
      const prefix = anchor === '' ? '' : `${anchor}/`;
      const names = new Set<string>();
      for (const name of Object.keys(memory.anchors)) {
        if (!name.startsWith(prefix)) continue;
        const child = name.slice(prefix.length).split('/')[0]!;
        names.add(`${prefix}${child}`);
      }
      return { code: 0, stdout: [...names].sort().map((n) => `  ${n}\n`).join(''), stderr: '' };
    }
    case 'states':
      return { code: 0, stdout: memory.states.map((s) => `${printState(s, verbose)}\n`).join(''), stderr: '' };
    case 'memory': {
      const limits = limitsOf(parsedMain(memory.os, memory.main), memory.os);
      return { code: 0, stdout: Object.keys(limits).map((p) => `${p.padEnd(14)}hard limit ${String(limits[p]).padStart(8)}\n`).join(''), stderr: '' };
    }
    case 'Tables':
      return showTables(memory, anchor, verbose);
    case 'info':
    case 'Running':
      return { code: 0, stdout: 'Status: Enabled\n', stderr: '' };
    default:
      return failure(`pfctl emulator: -s ${modifier} is not emulated\n`);
  }
}

/** Drops the anchor's rules of one kind, printing the others back as pf would list them. */
function dropRules(memory: PfMemory, anchor: string, nat: boolean): void {
  const loaded = memory.anchors[anchor];
  if (!loaded) return;
  const rules = expandedRules(memory, loaded.rules);
  const kept = rules.map((e, i) => ({ e, c: loaded.counters[i]! })).filter(({ e }) => isNatRule(e.rule) !== nat);
  loaded.source = kept.map(({ e }) => `${printRule(e, memory.os)}\n`).join('');
  loaded.rules = loaded.source;
  loaded.counters = kept.map(({ c }) => c);
}

/** pf_remove_if_empty_ruleset: an anchor with no rules and no tables is gone. */
function dropIfEmpty(memory: PfMemory, anchor: string): void {
  const loaded = memory.anchors[anchor];
  if (loaded && loaded.counters.length === 0 && Object.keys(loaded.tables).length === 0) delete memory.anchors[anchor];
}

function flush(memory: PfMemory, anchor: string, what: string, quiet: boolean): Outcome {
  const modifier = lookup(what, CLEAR[memory.os]);
  if (!modifier) return failure(`pfctl: Unknown flush modifier '${what}'\n${usage(memory.os).stderr}`);
  const lines: string[] = [];
  const say = (text: string): void => {
    if (!quiet) lines.push(text);
  };
  const rules = (nat: boolean): void => {
    if (anchor === '') {
      memory.main = expandedRules(memory, memory.main).filter((e) => isNatRule(e.rule) !== nat).map((e) => `${printRule(e, memory.os)}\n`).join('');
      memory.mainCounters = loadedAnchor(memory.main, parseRuleset(memory.main, memory.os)).counters;
    } else dropRules(memory, anchor, nat);
    say(nat ? 'nat cleared\n' : 'rules cleared\n');
  };
  const tables = (): void => {
    const held = rulesetTables(memory, anchor) ?? {};
    if (anchor === '') memory.mainTables = {};
    else if (memory.anchors[anchor]) memory.anchors[anchor].tables = {};
    lines.push(summary({ quiet, dryRun: false }, `${Object.keys(held).length} tables deleted`));
  };
  const states = (): void => {
    say(`${memory.states.length} states cleared\n`);
    memory.states = [];
  };
  switch (modifier) {
    case 'rules':
      rules(false);
      if (memory.os === 'openbsd') rules(true);
      break;
    case 'nat':
      rules(true);
      break;
    case 'Tables':
      tables();
      break;
    case 'states':
      states();
      break;
    case 'all':
      rules(false);
      if (memory.os === 'freebsd') rules(true);
      else dropRules(memory, anchor, true);
      tables();
      if (anchor === '') {
        states();
        say('source tracking entries cleared\n');
        say('pf: statistics cleared\n');
        say('pf: interface flags reset\n');
      }
      break;
    default:
      return failure(`pfctl emulator: -F ${modifier} is not emulated\n`);
  }
  if (anchor !== '') dropIfEmpty(memory, anchor);
  return { code: 0, stdout: '', stderr: lines.join('') };
}

interface TableRequest {
  anchor: string;
  call: TableCall;
}

/** The ruleset a -T command works on and what it must know of the others. */
function tableRequest(o: Options, os: Os, anchor: string, table: string, command: string, stdin: () => string, dryRun: boolean): TableRequest | Outcome {
  const resolved = lookup(command, TABLE_COMMANDS);
  if (!resolved) return failure(`pfctl: Unknown table command '${command}'\n${usage(os).stderr}`);
  const file = last(o, 'f');
  return {
    anchor,
    call: {
      os,
      table,
      command: resolved,
      words: o.rest,
      ...(file === undefined ? {} : { file: { name: file, text: file === '-' ? stdin() : fs.readFileSync(file, 'utf8') } }),
      verbose: o.flags.get('v') ?? 0,
      quiet: (o.flags.get('q') ?? 0) > 0,
      dryRun,
      now: Date.now(),
    },
  };
}

/** Runs a -T command on an anchor reading only that anchor (Store.replaceAnchor). */
function tableOnAnchor(store: Store, request: TableRequest): Outcome {
  return store.replaceAnchor(request.anchor, (summary, current) => {
    const tables = current?.tables ?? {};
    const elsewhere = [...(summary.mainTables[request.call.table] ? [''] : []), ...Object.keys(summary.tableCounts).filter((n) => summary.tableCounts[n]!.names.includes(request.call.table))];
    const used = [tableCount(summary.mainTables), ...Object.values(summary.tableCounts)];
    const result: TableResult = runTableCommand(request.call, { tables, elsewhere, room: room(summary.os, summary.main, used) });
    if (!result.tables) return { result: result.outcome };
    const anchor: LoadedAnchor = current ? { ...current, tables: result.tables } : { source: '', rules: '', counters: [], loadedAt: Date.now(), tables: result.tables };
    const empty = anchor.counters.length === 0 && Object.keys(anchor.tables).length === 0;
    return { anchor: empty ? null : anchor, result: result.outcome };
  });
}

function tableOnMemory(memory: PfMemory, request: TableRequest): Outcome {
  const { anchor, call } = request;
  const tables = rulesetTables(memory, anchor) ?? {};
  const elsewhere = [...(anchor !== '' && memory.mainTables[call.table] ? [''] : []), ...Object.keys(memory.anchors).filter((n) => n !== anchor && memory.anchors[n]!.tables[call.table])];
  const used = [...(anchor === '' ? [] : [tableCount(memory.mainTables)]), ...Object.entries(memory.anchors).filter(([n]) => n !== anchor).map(([, a]) => tableCount(a.tables))];
  const result = runTableCommand(call, { tables, elsewhere, room: room(memory.os, memory.main, used) });
  if (result.tables) {
    if (anchor === '') memory.mainTables = result.tables;
    else {
      memory.anchors[anchor] = { ...(memory.anchors[anchor] ?? { source: '', rules: '', counters: [], loadedAt: Date.now() }), tables: result.tables };
      dropIfEmpty(memory, anchor);
    }
  }
  return result.outcome;
}

/** Table commands that change nothing need no lock. */
const READ_ONLY_TABLE = new Set(['show', 'test']);

/** One pfctl call against the emulated pf in `store`; what main prints. Tests call it in-process. */
export function run(argv: string[], stdin: () => string, store: Store): Outcome {
  const os = store.os();
  const o = getopt(argv, os);
  const anchor = last(o, 'a') ?? '';
  const verbose = o.flags.get('v') ?? 0;
  const quiet = (o.flags.get('q') ?? 0) > 0;
  const dryRun = (o.flags.get('n') ?? 0) > 0;
  const table = last(o, 't');
  const command = last(o, 'T');
  if ((table === undefined) !== (command === undefined)) return usage(os);
  const request = command === undefined ? undefined : tableRequest(o, os, anchor, table!, command, stdin, dryRun);
  if (request && !('call' in request)) return request;
  // With -T, -f names the address list; otherwise the rules to load.
  const rulesFile = request ? undefined : last(o, 'f');
  let loading: Ruleset | undefined;
  let source = '';
  if (rulesFile !== undefined) {
    source = rulesFile === '-' ? stdin() : fs.readFileSync(rulesFile, 'utf8');
    const parsed = parseLoad(source, rulesFile === '-' ? 'stdin' : rulesFile, os, anchor, dryRun);
    if (!('rules' in parsed)) return parsed;
    loading = parsed;
  }
  const others = [...o.values.keys()].filter((k) => !['a', 'f', 'o', 't', 'T'].includes(k));
  // `-a anchor -f file` and `-a anchor -t T -T cmd`, the calls pfsteer makes on every change.
  if (anchor !== '' && others.length === 0 && !dryRun) {
    if (loading) {
      const ruleset = loading;
      return store.replaceAnchor(anchor, (summary, current) => loadAnchor(summary, source, ruleset, current, optimizationLevel(o, ruleset)));
    }
    if (request && !READ_ONLY_TABLE.has(request.call.command)) return tableOnAnchor(store, request);
  }
  // Reads need no lock: the state file is replaced by rename, so a reader sees one whole version.
  const mutates = o.values.has('F') || (loading !== undefined && !dryRun) || o.values.has('k') || (request !== undefined && !READ_ONLY_TABLE.has(request.call.command) && !dryRun);
  const apply = <T>(fn: (memory: PfMemory) => T): T => (mutates ? store.update(fn) : fn(store.read()));
  return apply((memory) => {
    let stdout = '';
    let stderr = '';
    const step = (r: Outcome): Outcome | undefined => {
      stdout += r.stdout;
      stderr += r.stderr;
      return r.code === 0 ? undefined : { code: r.code, stdout, stderr };
    };
    // pfctl's order: show, flush, kill, table command, load.
    const showing = last(o, 's');
    const failed =
      (showing !== undefined ? step(show(memory, showing, anchor, verbose)) : undefined) ??
      (o.values.has('F') ? step(flush(memory, anchor, last(o, 'F')!, quiet)) : undefined) ??
      (o.values.has('k') ? step(kill(memory, o.values.get('k')!)) : undefined) ??
      (request ? step(tableOnMemory(memory, request)) : undefined) ??
      (loading && !dryRun ? step(load(memory, anchor, source, loading, optimizationLevel(o, loading))) : undefined);
    return failed ?? { code: 0, stdout, stderr };
  });
}

/** `run`, with getopt's complaints printed as pfctl prints them. */
export function runOrUsage(argv: string[], stdin: () => string, store: Store): Outcome {
  try {
    return run(argv, stdin, store);
  } catch (error) {
    if (error instanceof Usage) return failure(`pfctl: ${error.message}\n${usage(store.os()).stderr}`);
    throw error;
  }
}

function finish(out: Outcome): void {
  // Touching process.stdout or stderr builds its stream (~2 ms): a load that prints nothing skips both.
  if (out.stdout) process.stdout.write(out.stdout);
  if (out.stderr) process.stderr.write(out.stderr);
  process.exitCode = out.code;
}

export function main(): void {
  const dir = process.env.PFSTEER_PF_EMULATOR;
  if (!dir) return finish({ code: 1, stdout: '', stderr: 'pfctl: /dev/pf: No such file or directory\n' });
  if (process.env.PFSTEER_PF_EMULATOR_DENY === '1') return finish({ code: 1, stdout: '', stderr: 'pfctl: /dev/pf: Permission denied\n' });
  const store = new Store(dir);
  const argv = process.argv.slice(2);
  let input: string | undefined;
  const stdin = (): string => (input ??= fs.readFileSync(0, 'utf8'));
  const wantsStdin = argv.some((a, i) => a === '-' && /f$/.test(argv[i - 1] ?? ''));
  if (wantsStdin) stdin();
  const fault = store.takeFault(argv);
  store.log({ argv, ...(input === undefined ? {} : { stdin: input }), pid: process.pid, at: Date.now(), outcome: fault ?? 'ok' });
  if (fault === 'hang') {
    setInterval(() => {}, 1 << 30);
    return;
  }
  if (fault === 'fail') return finish({ code: 1, stdout: '', stderr: 'pfctl: DIOCXCOMMIT: Device busy\n' });
  if (fault === 'garbage') return finish({ code: 0, stdout: '\u0000\u0001 ~~ not pf output ~~ {{\n@@ 12 ?? ]]\n', stderr: '' });
  finish(runOrUsage(argv, stdin, store));
}

