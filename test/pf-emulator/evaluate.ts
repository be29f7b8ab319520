/**
 * Where pf sends a packet that has no state yet, evaluated the way the kernel does it, with the
 * work it costs:
 * - FreeBSD: the rdr list, first match (pf_match_translation in pf_lb.c);
 * - OpenBSD: the filter list, last match unless quick, `match ... rdr-to` remembered on the way
 *   (pf_match_rule in pf.c).
 * Each rule visited counts one evaluation (its `Evaluations` counter); a rule that fails a test
 * jumps to its skip step for that test, computed per ruleset as pf_calc_skip_steps does (the
 * next rule where that field changes), so a run of rules with the same source table costs one
 * table lookup when the table does not hold the source. A failed `tagged` test, made after the
 * port tests, has no skip step: pf goes on with the next rule. A wildcard anchor (`x/*`) steps
 * into every child in turn; skip steps never leave a ruleset. A FreeBSD `no rdr` that matches
 * ends the search with no translation.
 *
 * `evaluate` is what tests and benches call to count rules evaluated and table lookups per new
 * connection (PfEmulator.evaluate wraps it).
 */
import type { IpAddress } from '../../src/net/address.ts';
import { containsAddress, formatAddress } from '../../src/net/address.ts';
import type { HostSpec, Os, PortOp, Rule, Ruleset } from './grammar.ts';
import type { Expanded } from './ruleset.ts';
import { addressKey, expand, familyOf, isNatRule, parsed, portKey, printRule } from './ruleset.ts';
import type { LoadedAnchor, PfMemory } from './store.ts';
import type { KTable } from './tables.ts';
import { tableMatcher } from './tables.ts';

export interface Packet {
  source: IpAddress;
  destination: IpAddress;
  /** Destination port. */
  port: number;
  sourcePort?: number;
  /** tcp unless given. */
  protocol?: string;
  /** Any interface matches when none is given. */
  interface?: string;
  /** in unless given. */
  direction?: 'in' | 'out';
  /** The tag the packet carries into evaluation (none unless given); a matching rule's `tag` replaces it. */
  tag?: string;
}

export interface RouteAnswer {
  /** The anchor whose rule matched, or `''` for the main ruleset; null when nothing matched. */
  anchor: string | null;
  /** The matching rule as pfctl prints it. */
  rule?: string;
  ruleNumber?: number;
  /** Where the packet goes: the redirect target, or its own destination when nothing matched or a `no rdr` rule decided. */
  address: string;
  port: number;
}

export interface Evaluation {
  answer: RouteAnswer;
  /** Per ruleset (`''` the main one), the counter index of every rule visited, in order. */
  evaluated: Map<string, number[]>;
  /** The ruleset and counter index of the rule that decided; `no` when it is a `no rdr`, which translates nothing. */
  matched?: { anchor: string; index: number; no?: true };
  /** Rules visited: what pf adds to the rules' Evaluations counters for this packet. */
  rulesEvaluated: number;
  /** Address lookups in tables (pfr_match_addr calls). */
  tableLookups: number;
}

/** The tests pf makes in order, each with its skip step; FreeBSD's rdr path and OpenBSD's filter order ports differently. */
const FIELDS = { ifp: 0, dir: 1, af: 2, proto: 3, srcAddr: 4, srcPort: 5, dstAddr: 6, dstPort: 7 } as const;
type Field = keyof typeof FIELDS;

interface Compiled {
  e: Expanded;
  /** Index into the ruleset's counters (its printed rules); -1 inside an inline block. */
  counter: number;
  keys: string[];
  /** Per field, the index of the next rule where that field differs (rules.length: the end). */
  skip: number[];
  inline?: Compiled[];
}

function hostKey(h: HostSpec): string {
  return `${h.negate ? '!' : ''}${addressKey(h)}`;
}

function keysOf(e: Expanded): string[] {
  const r = e.rule;
  const keys: string[] = [];
  keys[FIELDS.ifp] = r.interface ?? '';
  keys[FIELDS.dir] = r.direction ?? '';
  keys[FIELDS.af] = familyOf(e) ?? '';
  keys[FIELDS.proto] = e.protocol ?? '';
  keys[FIELDS.srcAddr] = hostKey(e.from);
  keys[FIELDS.srcPort] = portKey(r.fromPorts[0]);
  keys[FIELDS.dstAddr] = hostKey(e.to);
  keys[FIELDS.dstPort] = portKey(e.toPort);
  return keys;
}

/** pf_calc_skip_steps over one list. */
function withSkipSteps(list: Compiled[]): Compiled[] {
  const fields = Object.values(FIELDS);
  for (const f of fields) {
    let runEnd = list.length;
    for (let i = list.length - 1; i >= 0; i--) {
      list[i]!.skip[f] = runEnd;
      if (i > 0 && list[i - 1]!.keys[f] !== list[i]!.keys[f]) runEnd = i;
    }
  }
  return list;
}

/** The list pf evaluates for a new connection: FreeBSD's rdr rules, OpenBSD's filter rules. */
function inList(rule: Rule, os: Os): boolean {
  if (os === 'freebsd') return isNatRule(rule);
  return rule.action === 'pass' || rule.action === 'block' || rule.action === 'match' || rule.action === 'anchor';
}

function compileRules(rules: readonly Rule[], os: Os, counted: boolean): Compiled[] {
  const list: Compiled[] = [];
  let counter = 0;
  for (const rule of rules) {
    for (const e of expand(rule)) {
      if (inList(rule, os)) {
        list.push({ e, counter: counted ? counter : -1, keys: keysOf(e), skip: [], ...(rule.inline ? { inline: compileRules(rule.inline, os, false) } : {}) });
      }
      counter++;
    }
  }
  return withSkipSteps(list);
}

const compiled = new WeakMap<Ruleset, Compiled[]>();
function compile(ruleset: Ruleset, os: Os): Compiled[] {
  let list = compiled.get(ruleset);
  if (!list) {
    list = compileRules(ruleset.rules, os, true);
    compiled.set(ruleset, list);
  }
  return list;
}

const anchorLists = new WeakMap<LoadedAnchor, Compiled[]>();
function compileAnchor(memory: PfMemory, anchor: LoadedAnchor): Compiled[] {
  let list = anchorLists.get(anchor);
  if (!list) {
    list = compile(parsed(memory, anchor.rules), memory.os);
    anchorLists.set(anchor, list);
  }
  return list;
}

function portMatches(p: PortOp | undefined, port: number | undefined): boolean {
  if (!p) return true;
  if (port === undefined) return false;
  switch (p.op) {
    case '=':
      return port === p.a;
    case '!=':
      return port !== p.a;
    case '<':
      return port < p.a;
    case '<=':
      return port <= p.a;
    case '>':
      return port > p.a;
    case '>=':
      return port >= p.a;
    case ':':
      return port >= p.a && port <= p.b!;
    case '><':
      return port > p.a && port < p.b!;
    case '<>':
      return port < p.a || port > p.b!;
  }
}

/** pfi_kif_match: the interface itself, its driver group (`em`), `egress` (em0 on OpenBSD) or `all`. */
function interfaceMatches(rule: string | undefined, packet: string | undefined): boolean {
  if (!rule || !packet || rule === 'all') return true;
  return rule === packet || rule === packet.replace(/\d+$/, '') || (rule === 'egress' && packet === 'em0');
}

interface Scope {
  name: string;
  tables: Record<string, KTable>;
}

function resolveAnchor(parent: string, name: string): string {
  if (name.startsWith('/')) return name.slice(1);
  return parent === '' ? name : `${parent}/${name}`;
}

const childLists = new WeakMap<PfMemory, Map<string, string[]>>();

/** A wildcard's children in pf's order (byte order of their paths), once per snapshot of pf. */
function children(memory: PfMemory, parent: string): string[] {
  let lists = childLists.get(memory);
  if (!lists) childLists.set(memory, (lists = new Map()));
  let list = lists.get(parent);
  if (!list) {
    const prefix = parent === '' ? '' : `${parent}/`;
    list = Object.keys(memory.anchors)
      .filter((n) => n.startsWith(prefix) && !n.slice(prefix.length).includes('/'))
      .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    lists.set(parent, list);
  }
  return list;
}

export function evaluate(memory: PfMemory, packet: Packet): Evaluation {
  const os = memory.os;
  const evaluated = new Map<string, number[]>();
  let rulesEvaluated = 0;
  let tableLookups = 0;
  const direction = packet.direction ?? 'in';
  const af = packet.source.family === 4 ? 'inet' : 'inet6';
  const protocol = packet.protocol ?? 'tcp';
  let decided: { scope: Scope; c: Compiled } | undefined;
  let matchRedirect: Compiled | undefined;
  let tag = packet.tag;

  const addressMatches = (h: HostSpec, a: IpAddress, scope: Scope): boolean => {
    let hit: boolean;
    if (h.kind === 'any') hit = true;
    else if (h.kind === 'net') hit = containsAddress(h.cidr, a);
    else if (h.kind === 'interface') hit = false;
    else {
      tableLookups++;
      // An anchor's rule naming a table the anchor lacks uses the main ruleset's (pfrkt_root).
      const table = scope.tables[h.name] ?? memory.mainTables[h.name];
      hit = table !== undefined && tableMatcher(table)(a);
    }
    return h.negate ? !hit : hit;
  };

  /** The field whose test the rule fails, `next` for a failed `tagged` test, or undefined when it matches. */
  const failing = (c: Compiled, scope: Scope): Field | 'next' | undefined => {
    const e = c.e;
    const r = e.rule;
    if (!interfaceMatches(r.interface, packet.interface)) return 'ifp';
    if (r.direction && r.direction !== direction) return 'dir';
    const family = familyOf(e);
    if (family && family !== af) return 'af';
    if (e.protocol && e.protocol !== protocol) return 'proto';
    if (!addressMatches(e.from, packet.source, scope)) return 'srcAddr';
    if (os === 'freebsd' && !portMatches(r.fromPorts[0], packet.sourcePort)) return 'srcPort';
    if (!addressMatches(e.to, packet.destination, scope)) return 'dstAddr';
    if (os === 'openbsd' && !portMatches(r.fromPorts[0], packet.sourcePort)) return 'srcPort';
    if (!portMatches(e.toPort, packet.port)) return 'dstPort';
    if (r.tagged && (tag === r.tagged.name) === r.tagged.negate) return 'next';
    return undefined;
  };

  // Returns true when evaluation ends (FreeBSD's first match, OpenBSD's quick).
  const walk = (list: Compiled[], scope: Scope): boolean => {
    let i = 0;
    while (i < list.length) {
      const c = list[i]!;
      rulesEvaluated++;
      if (c.counter >= 0) {
        let seen = evaluated.get(scope.name);
        if (!seen) evaluated.set(scope.name, (seen = []));
        seen.push(c.counter);
      }
      const field = failing(c, scope);
      if (field !== undefined) {
        i = field === 'next' ? i + 1 : c.skip[FIELDS[field]]!;
        continue;
      }
      const r = c.e.rule;
      if (r.tag !== undefined) tag = r.tag;
      if (r.action === 'rdr-anchor' || r.action === 'anchor') {
        if (c.inline) {
          if (walk(c.inline, scope)) return true;
        } else {
          const target = resolveAnchor(scope.name, r.anchor!);
          const names = target.endsWith('/*') ? children(memory, target.slice(0, -2)) : memory.anchors[target] ? [target] : [];
          for (const name of names) {
            const anchor = memory.anchors[name]!;
            if (walk(compileAnchor(memory, anchor), { name, tables: anchor.tables })) return true;
          }
        }
        i++;
        continue;
      }
      if (r.action === 'match') {
        if (r.redirect) matchRedirect = c;
        i++;
        continue;
      }
      decided = { scope, c };
      if (os === 'freebsd' || r.quick) return true;
      i++;
    }
    return false;
  };
  if (os === 'openbsd' || direction === 'in') walk(compile(parsed(memory, memory.main), os), { name: '', tables: memory.mainTables });

  const rule = decided?.c.e.rule;
  const redirect = rule && rule.action !== 'block' && !rule.no ? (rule.redirect ?? matchRedirect?.e.rule.redirect) : undefined;
  const target = redirect?.hosts[0];
  const address = target && target.kind === 'net' ? formatAddress(target.cidr.address) : formatAddress(packet.destination);
  const answer: RouteAnswer = decided
    ? { anchor: decided.scope.name, rule: printRule(decided.c.e, os), ruleNumber: decided.c.counter, address, port: redirect?.port ?? packet.port }
    : { anchor: null, address, port: packet.port };
  const matched = decided ? { anchor: decided.scope.name, index: decided.c.counter, ...(rule!.no ? { no: true as const } : {}) } : undefined;
  return { answer, evaluated, ...(matched ? { matched } : {}), rulesEvaluated, tableLookups };
}
