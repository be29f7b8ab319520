/**
 * A pfctl(8) for machines without pf: it answers every call pfsteer makes the way pfctl does,
 * against an emulated pf kept in the folder $PFSTEER_PF_EMULATOR (see store.ts), so the real pf
 * driver runs through execa against it. $PFSTEER_PF_EMULATOR_OS picks freebsd (default) or
 * openbsd grammar and output for a fresh folder.
 */
import { compareCidr, containsAddress, formatCidr, parseAddress, parseCidr } from '../../src/net/address.ts';
import { fs } from './fs.ts';
import type { Os, Ruleset } from './grammar.ts';
import { PfSyntaxError, parseRuleset } from './grammar.ts';
import { expandedRules, isNatRule, loadedAnchor, printCounters, printRule, tableCount } from './ruleset.ts';
import type { LoadedAnchor, PfMemory, PfStateEntry, PfSummary, TableCount } from './store.ts';
import { Store } from './store.ts';

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

const WITH_ARGUMENT = new Set(['a', 'D', 'F', 'f', 'i', 'K', 'k', 'o', 'p', 's', 't', 'T', 'x']);

interface Options {
  flags: Map<string, number>;
  values: Map<string, string[]>;
  rest: string[];
}

/** getopt(3) as pfctl uses it: bundled flags (`-vv`), arguments attached or separate. */
function getopt(argv: string[]): Options {
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
      if (WITH_ARGUMENT.has(c)) {
        const value = j + 1 < arg.length ? arg.slice(j + 1) : argv[++i];
        if (value === undefined) throw new Usage(`option requires an argument -- ${c}`);
        values.set(c, [...(values.get(c) ?? []), value]);
        break;
      }
      if (!'AdeghMmNnOPqRrvz'.includes(c)) throw new Usage(`illegal option -- ${c}`);
      flags.set(c, (flags.get(c) ?? 0) + 1);
    }
  }
  return { flags, values, rest };
}

class Usage extends Error {}

const SHOW = ['nat', 'queue', 'rules', 'Anchors', 'Sources', 'states', 'info', 'Interfaces', 'labels', 'timeouts', 'memory', 'Tables', 'osfp', 'Running', 'all'];

function limitsOf(main: Ruleset | undefined): Record<string, number> {
  const defaults: Record<string, number> = { states: 100000, 'src-nodes': 100000, frags: 5000, tables: 1000, 'table-entries': 200000 };
  return { ...defaults, ...main?.limits };
}

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
    if (second === undefined) return { code: 1, stdout: '', stderr: 'pfctl: nat kill needs an address\n' };
    victims = memory.states.filter((s) => matchHost(second, s.client) && (third === undefined || matchHost(third, s.host)));
    label = ` from ${second}${third === undefined ? '' : ` to ${third}`}`;
  } else if (first === 'label') {
    victims = [];
    label = '';
  } else {
    for (const spec of [first, second].filter((x): x is string => x !== undefined)) {
      if (!parseCidr(spec)) return { code: 1, stdout: '', stderr: `pfctl: no IP address found for ${spec}\n` };
    }
    victims = memory.states.filter((s) => matchHost(first!, s.client) && (second === undefined || matchHost(second, s.external)));
    label = ` from ${first}${second === undefined ? '' : ` to ${second}`}`;
  }
  memory.states = memory.states.filter((s) => !victims.includes(s));
  return { code: 0, stdout: '', stderr: `killed ${victims.length} states${label}\n` };
}

function syntaxFailure(file: string, error: PfSyntaxError): Outcome {
  return { code: 1, stdout: '', stderr: `${file}:${error.line}: ${error.message}\npfctl: Syntax error in config file: pf rules not loaded\n` };
}

/** Parsed before the lock is taken: only the swap into the emulated kernel needs it. */
function parseLoad(source: string, file: string, os: Os): Ruleset | Outcome {
  try {
    return parseRuleset(source, os);
  } catch (error) {
    if (error instanceof PfSyntaxError) return syntaxFailure(file, error);
    throw error;
  }
}

const LOADED: Outcome = { code: 0, stdout: '', stderr: '' };
const NO_TABLE_MEMORY: Outcome = { code: 1, stdout: '', stderr: 'pfctl: DIOCADDTABLES: Cannot allocate memory\npfctl: Syntax error in config file: pf rules not loaded\n' };

/** Whether the tables of the main ruleset and every anchor fit pf's `set limit tables` / `table-entries`. */
function withinLimits(os: Os, main: string, anchors: Iterable<TableCount>): boolean {
  const parsedMain = main ? parseRuleset(main, os) : undefined;
  const limits = limitsOf(parsedMain);
  let tables = 0;
  let entries = 0;
  for (const use of [...(parsedMain ? [tableCount(parsedMain)] : []), ...anchors]) {
    tables += use.tables;
    entries += use.entries;
  }
  return entries <= limits['table-entries']! && (os !== 'openbsd' || tables <= limits.tables!);
}

/** One anchor's load, which sees only what pf's limits need: Store.replaceAnchor runs it too. */
function loadAnchor(summary: PfSummary, anchor: string, source: string, ruleset: Ruleset, file: string): { anchor?: LoadedAnchor; result: Outcome } {
  if (Object.keys(ruleset.limits).length > 0) {
    return { result: { code: 1, stdout: '', stderr: `${file}:1: option can only be set in the main ruleset\npfctl: Syntax error in config file: pf rules not loaded\n` } };
  }
  const loaded = loadedAnchor(source, ruleset);
  if (!withinLimits(summary.os, summary.main, Object.values({ ...summary.tableCounts, [anchor]: loaded }))) return { result: NO_TABLE_MEMORY };
  return { anchor: loaded, result: LOADED };
}

function load(memory: PfMemory, anchor: string, source: string, ruleset: Ruleset, file: string): Outcome {
  if (anchor === '') {
    if (!withinLimits(memory.os, source, Object.values(memory.anchors))) return NO_TABLE_MEMORY;
    memory.main = source;
    return LOADED;
  }
  const { anchor: loaded, result } = loadAnchor({ os: memory.os, main: memory.main, tableCounts: memory.anchors }, anchor, source, ruleset, file);
  if (loaded) memory.anchors[anchor] = loaded;
  return result;
}

function show(memory: PfMemory, what: string, anchor: string, verbose: number): Outcome {
  const modifier = SHOW.find((s) => s.startsWith(what));
  if (!modifier) return { code: 1, stdout: '', stderr: `pfctl: Unknown show modifier '${what}'\n` };
  switch (modifier) {
    case 'nat':
    case 'rules': {
      if (anchor.endsWith('*')) return { code: 1, stdout: '', stderr: 'pfctl emulator: recursive anchor listing is not emulated\n' };
      const source = anchor === '' ? memory.main : memory.anchors[anchor]?.source;
      if (source === undefined) {
        if (anchorExists(memory, anchor)) return { code: 0, stdout: '', stderr: '' };
        return { code: 1, stdout: '', stderr: 'pfctl: DIOCGETRULES: Invalid argument\n' };
      }
      const counters = anchor === '' ? [] : memory.anchors[anchor]!.counters;
      const lines: string[] = [];
      let number = 0;
      expandedRules(memory, source).forEach((e, index) => {
        if (isNatRule(e.rule) !== (modifier === 'nat')) return;
        lines.push(`${verbose >= 2 ? `@${number} ` : ''}${printRule(e, memory.os)}`);
        if (verbose >= 1) lines.push(printCounters(counters[index] ?? { evaluations: 0, packets: 0, bytes: 0, states: 0 }));
        number++;
      });
      return { code: 0, stdout: lines.map((l) => `${l}\n`).join(''), stderr: '' };
    }
    case 'Anchors': {
      if (!anchorExists(memory, anchor)) return { code: 1, stdout: '', stderr: 'pfctl: DIOCGETRULESETS: Invalid argument\n' };
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
      const limits = limitsOf(memory.main ? parseRuleset(memory.main, memory.os) : undefined);
      const pools = ['states', 'src-nodes', 'frags', ...(memory.os === 'openbsd' ? ['tables'] : []), 'table-entries'];
      return { code: 0, stdout: pools.map((p) => `${p.padEnd(14)}hard limit ${String(limits[p]).padStart(8)}\n`).join(''), stderr: '' };
    }
    case 'Tables': {
      const source = anchor === '' ? memory.main : memory.anchors[anchor]?.source;
      const tables = source ? parseRuleset(source, memory.os).tables : [];
      return { code: 0, stdout: tables.map((t) => `${t.name}\n`).join(''), stderr: '' };
    }
    case 'info':
    case 'Running':
      return { code: 0, stdout: 'Status: Enabled\n', stderr: '' };
    default:
      return { code: 1, stdout: '', stderr: `pfctl emulator: -s ${modifier} is not emulated\n` };
  }
}

function tableCommand(memory: PfMemory, anchor: string, table: string, command: string): Outcome {
  if (!'show'.startsWith(command)) return { code: 1, stdout: '', stderr: `pfctl emulator: -T ${command} is not emulated\n` };
  const source = anchor === '' ? memory.main : memory.anchors[anchor]?.source;
  const def = source ? parseRuleset(source, memory.os).tables.find((t) => t.name === table) : undefined;
  if (!def) return { code: 1, stdout: '', stderr: 'pfctl: Table does not exist.\n' };
  const entries = [...def.entries].sort((a, b) => compareCidr(a.cidr, b.cidr));
  return { code: 0, stdout: entries.map((e) => `   ${e.negate ? '!' : ''}${formatCidr(e.cidr)}\n`).join(''), stderr: '' };
}

function flush(memory: PfMemory, anchor: string, what: string): Outcome {
  if (/^s/.test(what)) {
    const n = memory.states.length;
    memory.states = [];
    return { code: 0, stdout: '', stderr: `${n} states cleared\n` };
  }
  if (anchor === '') memory.main = '';
  else for (const name of Object.keys(memory.anchors)) if (name === anchor || name.startsWith(`${anchor}/`)) delete memory.anchors[name];
  return { code: 0, stdout: '', stderr: 'rules cleared\nnat cleared\n' };
}

function run(argv: string[], stdin: () => string, store: Store): Outcome {
  const o = getopt(argv);
  const anchor = (o.values.get('a') ?? [''])[0]!;
  const verbose = o.flags.get('v') ?? 0;
  let stdout = '';
  let stderr = '';
  let code = 0;
  const step = (r: Outcome): boolean => {
    stdout += r.stdout;
    stderr += r.stderr;
    code = r.code;
    return r.code === 0;
  };
  const os = store.os();
  const loads: Array<{ source: string; ruleset: Ruleset; file: string }> = [];
  for (const file of o.values.get('f') ?? []) {
    const source = file === '-' ? stdin() : fs.readFileSync(file, 'utf8');
    const name = file === '-' ? 'stdin' : file;
    const parsed = parseLoad(source, name, os);
    if (!('rules' in parsed)) return parsed;
    loads.push({ source, ruleset: parsed, file: name });
  }
  const dryRun = (o.flags.get('n') ?? 0) > 0;
  // `-a anchor -f file` alone, the call pfsteer makes for every bucket it moves.
  if (loads.length === 1 && !dryRun && anchor !== '' && [...o.values.keys()].every((k) => k === 'a' || k === 'f')) {
    const l = loads[0]!;
    return store.replaceAnchor(anchor, (summary) => loadAnchor(summary, anchor, l.source, l.ruleset, l.file));
  }
  // Reads need no lock: the state file is replaced by rename, so a reader sees one whole version.
  const mutates = o.values.has('F') || (loads.length > 0 && !dryRun) || o.values.has('k');
  const apply = <T>(fn: (memory: PfMemory) => T): T => (mutates ? store.update(fn) : fn(store.read()));
  return apply((memory) => {
    for (const what of o.values.get('F') ?? []) if (!step(flush(memory, anchor, what))) return { code, stdout, stderr };
    for (const l of dryRun ? [] : loads) if (!step(load(memory, anchor, l.source, l.ruleset, l.file))) return { code, stdout, stderr };
    const kills = o.values.get('k');
    if (kills && !step(kill(memory, kills))) return { code, stdout, stderr };
    for (const what of o.values.get('s') ?? []) if (!step(show(memory, what, anchor, verbose))) return { code, stdout, stderr };
    const table = o.values.get('t')?.[0];
    const command = o.values.get('T')?.[0];
    if (table !== undefined || command !== undefined) {
      if (table === undefined || command === undefined) return { code: 1, stdout, stderr: `${stderr}pfctl: -t and -T go together\n` };
      step(tableCommand(memory, anchor, table, command));
    }
    return { code, stdout, stderr };
  });
}

function finish(out: Outcome): void {
  // Touching process.stdout or stderr builds its stream (~2 ms): a load that prints nothing skips both.
  if (out.stdout) process.stdout.write(out.stdout);
  if (out.stderr) process.stderr.write(out.stderr);
  process.exitCode = out.code;
}

function main(): void {
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
  try {
    finish(run(argv, stdin, store));
  } catch (error) {
    if (error instanceof Usage) return finish({ code: 1, stdout: '', stderr: `pfctl: ${error.message}\nusage: pfctl [-AdeghMmNnOPqRrvz] [-a anchor] ...\n` });
    throw error;
  }
}

main();
