/**
 * pfctl's ruleset optimizer at level basic (pfctl_optimize.c, pf.conf(5) "set
 * ruleset-optimization"), on one ruleset's filter rules as pfctl expanded them, before they are
 * loaded. Rules fall into superblocks: runs of rules that agree on the fields that decide what a
 * match does (action, quick, tag, state, translation); an anchor rule stands alone. Per superblock:
 *  1. a rule another rule of the block covers (identical, or narrower in interface, direction,
 *     protocol, flags, ports, address family or address) is removed;
 *  2. rules that differ only in their source or only in their destination address (plain
 *     addresses or prefixes) are combined into one rule over a const table once there are six of
 *     them, at the place of the first;
 *  3. rules that share a skip-step field (interface, direction, family, protocol, an address, a
 *     port) with some but not all rules of the block are grouped together (reorder_rules).
 * Level profile (ordering by the counters of the rules loaded now), optimization inside inline
 * anchors and of the main ruleset are not emulated: the load is refused (`Unemulated`).
 * Held to the real pfctl builds' `-nv` printout by test/pf/optimize-differential.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { containsAddress, parseAddress } from '../../src/net/address.ts';
import type { HostSpec, OptimizationLevel, Os, Ruleset, TableDef } from './grammar.ts';
import { parseRuleset } from './grammar.ts';
import type { Expanded } from './ruleset.ts';
import { addressKey, expand, familyOf, portKey, printRule } from './ruleset.ts';

/** pfctl_optimize.c's TABLE_THRESHOLD: the rule count at which a table replaces the rules. */
export const TABLE_THRESHOLD = 6;

/** An optimization real pfctl would make that the emulator does not reproduce. */
export class Unemulated extends Error {}

/** A table the optimizer built: `temp` is the name pfctl -n prints, numbered as pfctl numbers them. */
export interface AutomaticTable {
  temp: string;
  family: 'inet' | 'inet6';
  entries: HostSpec[];
}

export interface Optimized {
  rules: Expanded[];
  /** In the order pfctl creates (and with -v prints) them. */
  tables: AutomaticTable[];
  changed: boolean;
}

/** The temporary table numbers pfctl hands out, counted over one pfctl run. */
export interface TableCounter {
  next: number;
}

interface Group {
  temp: string;
  family: 'inet' | 'inet6';
  entries: HostSpec[];
  generated: boolean;
}

interface Candidate {
  e: Expanded;
  src?: Group;
  dst?: Group;
}

/** The fields of a rule as pfctl_optimize.c weighs them; addresses apart. */
interface Fields {
  /** BREAK fields (and the ones it does not list): rules of one superblock agree on them. */
  brk: string;
  ifname: string;
  direction: string;
  proto: string;
  flags: string;
  srcPorts: string;
  dstPort: string;
  af: string;
  tagged: string;
  srcNeg: boolean;
  dstNeg: boolean;
}

/** The flags a rule checks: pass rules that keep state default to S/SA for tcp or any protocol. */
function flagsOf(e: Expanded): string {
  const r = e.rule;
  if (r.flags !== undefined) return r.flags === 'any' ? '' : r.flags;
  return r.action === 'pass' && !r.noState && (e.protocol === undefined || e.protocol === 'tcp') ? 'S/SA' : '';
}

const fieldsCache = new WeakMap<Expanded, { fields: Fields; key: string }>();

function cachedFields(e: Expanded): { fields: Fields; key: string } {
  let f = fieldsCache.get(e);
  if (!f) {
    const fields = readFields(e);
    f = { fields, key: JSON.stringify(fields) };
    fieldsCache.set(e, f);
  }
  return f;
}

/** A rule's fields, read once: the passes compare every pair of rules in a block. */
function fieldsOf(e: Expanded): Fields {
  return { ...cachedFields(e).fields };
}

/** The fields as one string, for comparing them whole. */
function fieldsKey(e: Expanded): string {
  return cachedFields(e).key;
}

function readFields(e: Expanded): Fields {
  const r = e.rule;
  const brk = JSON.stringify([r.action, r.quick, r.no ?? false, r.tag ?? '', r.noState ?? false, r.redirect ?? null]);
  return {
    brk,
    ifname: r.interface ?? '',
    direction: r.direction ?? '',
    proto: e.protocol ?? '',
    flags: flagsOf(e),
    srcPorts: r.fromPorts.map(portKey).join(','),
    dstPort: portKey(e.toPort),
    af: familyOf(e) ?? '',
    tagged: r.tagged ? `${r.tagged.negate ? '!' : ''}${r.tagged.name}` : '',
    srcNeg: e.from.negate,
    dstNeg: e.to.negate,
  };
}

/** pf's ADDRMASK: `any` or an address with a mask, the only addresses a table can take. */
function isAddrMask(h: HostSpec): boolean {
  return h.kind === 'any' || h.kind === 'net';
}

/** An interface name ending in no digit is a group, which pfctl never reorders across. */
function isGroup(name: string): boolean {
  return name !== '' && !/\d$/.test(name);
}

/** `sub`'s address once `sup`'s wider one is taken off it: any covers all, a prefix what it holds. */
function coveredAddress(s: HostSpec, b: HostSpec, sNeg: boolean, bNeg: boolean, sameFamily: boolean): string {
  if (s.kind === 'any' && !sNeg && !bNeg) return 'any';
  if (s.kind === 'net' && b.kind === 'net' && sNeg === bNeg && sameFamily && s.cidr.address.family === b.cidr.address.family && s.cidr.prefix < b.cidr.prefix && containsAddress(s.cidr, b.cidr.address)) return addressKey(s);
  return addressKey(b);
}

/** What a rule `sub` looks like once the ways `sup` is wider are taken off it (exclude_supersets). */
function narrowed(sup: Candidate, sub: Candidate): Fields {
  const a = fieldsOf(sup.e);
  const f = fieldsOf(sub.e);
  if (a.ifname === '') f.ifname = '';
  if (a.direction === '') f.direction = '';
  if ((a.proto === '' || a.proto === f.proto) && a.flags === '' && f.flags !== '') f.flags = '';
  if (a.proto === '') f.proto = '';
  if (a.srcPorts === '') f.srcPorts = '';
  if (a.dstPort === '') f.dstPort = '';
  if (a.af === '') f.af = '';
  return f;
}

/** Whether `sup` matches every packet `sub` does, as remove_identical_rules weighs it. */
function covers(sup: Candidate, sub: Candidate): boolean {
  const same = fieldsKey(sup.e) === fieldsKey(sub.e);
  if (!same && fieldsKey(sup.e) !== JSON.stringify(narrowed(sup, sub))) return false;
  const a = cachedFields(sup.e).fields;
  const b = cachedFields(sub.e).fields;
  return addressKey(sup.e.from) === coveredAddress(sup.e.from, sub.e.from, a.srcNeg, b.srcNeg, a.af === b.af) && addressKey(sup.e.to) === coveredAddress(sup.e.to, sub.e.to, a.dstNeg, b.dstNeg, a.af === b.af);
}

/** Pass 1: a rule covered by another of its block goes; of two identical rules the first stays. */
function removeCovered(block: Candidate[]): Candidate[] {
  const list = [...block];
  for (let i = 0; i < list.length; i++) {
    for (let j = i + 1; j < list.length; ) {
      if (covers(list[i]!, list[j]!)) list.splice(j, 1);
      else if (covers(list[j]!, list[i]!)) {
        list.splice(i, 1);
        i--;
        break;
      } else j++;
    }
  }
  return list;
}

function sameButAddresses(a: Candidate, b: Candidate): boolean {
  return fieldsKey(a.e) === fieldsKey(b.e);
}

/** Pass 2: rules equal but for one address collect into a table; past the threshold the rest go. */
function combine(block: Candidate[], counter: TableCounter, created: AutomaticTable[]): Candidate[] {
  const newGroup = (p: Candidate, first: HostSpec): Group => ({ temp: `__automatic_${counter.next++}`, family: familyOf(p.e) === 'inet6' ? 'inet6' : 'inet', entries: [first], generated: false });
  const list = [...block];
  for (let i = 0; i < list.length; i++) {
    const p1 = list[i]!;
    for (let j = i + 1; j < list.length; ) {
      const p2 = list[j]!;
      const srcEq = p1.e.from.negate === p2.e.from.negate && addressKey(p1.e.from) === addressKey(p2.e.from);
      const dstEq = p1.e.to.negate === p2.e.to.negate && addressKey(p1.e.to) === addressKey(p2.e.to);
      let group: Group | undefined;
      if (srcEq && !dstEq && !p1.src && !p2.src && !p2.dst && sameButAddresses(p1, p2) && isAddrMask(p1.e.to) && isAddrMask(p2.e.to)) {
        p1.dst ??= newGroup(p1, p1.e.to);
        p1.dst.entries.push(p2.e.to);
        p2.dst = group = p1.dst;
      } else if (!srcEq && dstEq && !p1.dst && !p2.src && !p2.dst && sameButAddresses(p1, p2) && isAddrMask(p1.e.from) && isAddrMask(p2.e.from)) {
        p1.src ??= newGroup(p1, p1.e.from);
        p1.src.entries.push(p2.e.from);
        p2.src = group = p1.src;
      }
      if (group && group.entries.length >= TABLE_THRESHOLD) list.splice(j, 1);
      else j++;
    }
  }
  const out: Candidate[] = [];
  for (const c of list) {
    let e = c.e;
    let member = false;
    for (const side of ['src', 'dst'] as const) {
      const g = c[side];
      if (!g || g.entries.length < TABLE_THRESHOLD) continue;
      if (g.generated) member = true;
      else {
        g.generated = true;
        created.push({ temp: g.temp, family: g.family, entries: g.entries });
        const table: HostSpec = { kind: 'table', name: g.temp, negate: side === 'src' ? e.from.negate : e.to.negate };
        e = side === 'src' ? { ...e, from: table } : { ...e, to: table };
      }
    }
    if (!member) out.push({ e });
  }
  return out;
}

/** The skip-step fields pfctl compares rules on (skip_cmp_*): equal values, never a wildcard. */
const SKIP_FIELDS: Array<(e: Expanded) => string | undefined> = [
  (e) => e.rule.interface,
  (e) => e.rule.direction,
  () => undefined,
  (e) => familyOf(e),
  (e) => e.protocol,
  (e) => (e.from.kind === 'any' ? undefined : `${e.from.negate}${addressKey(e.from)}`),
  (e) => (e.to.kind === 'any' ? undefined : `${e.to.negate}${addressKey(e.to)}`),
  (e) => (e.rule.fromPorts.length === 0 ? undefined : e.rule.fromPorts.map(portKey).join(',')),
  (e) => (e.toPort === undefined ? undefined : portKey(e.toPort)),
];

/** Rules that share one skip-step field's value, as reorder_rules keeps them: largest first. */
interface SkipList {
  count: number;
  rules: Candidate[];
}

function skipLists(block: readonly Candidate[], field: (e: Expanded) => string | undefined): SkipList[] {
  const lists: SkipList[] = [];
  for (const c of block) {
    const v = field(c.e);
    let at = v === undefined ? -1 : lists.findIndex((l) => field(l.rules[0]!.e) === v);
    if (at < 0) {
      lists.push({ count: 0, rules: [] });
      at = lists.length - 1;
    }
    const list = lists[at]!;
    list.count++;
    list.rules.push(c);
    // A list moves ahead of every list before it with fewer rules.
    while (at > 0 && lists[at - 1]!.count < list.count) {
      lists[at] = lists[at - 1]!;
      lists[--at] = list;
    }
  }
  return lists;
}

/** A rule placed elsewhere leaves the lists of the fields that still have a group of two or more. */
function dropFromLists(fields: SkipList[][], rule: Candidate): void {
  for (const lists of fields) {
    if (lists.length === 0 || lists[0]!.count <= 1) continue;
    const at = lists.findIndex((l) => l.rules.includes(rule));
    if (at < 0) continue;
    const list = lists[at]!;
    list.rules.splice(list.rules.indexOf(rule), 1);
    list.count--;
    for (let i = at; i + 1 < lists.length && lists[i + 1]!.count > list.count; i++) {
      lists[i] = lists[i + 1]!;
      lists[i + 1] = list;
    }
  }
}

/**
 * Pass 3, reorder_rules: while some field's largest group of rules has two or more (and not all
 * rules of the block), the group with the most rules (the first field on a tie) is taken out in
 * order. A group of two joins the end of the block; a bigger one becomes a block of its own,
 * placed before this block and reordered the same way. Rules left in no group follow in order.
 */
function reorder(block: readonly Candidate[]): Candidate[] {
  const fields = SKIP_FIELDS.map((field) => skipLists(block, field));
  let largest = 0;
  for (const lists of fields) {
    const first = lists[0]!;
    if (first.count === block.length || first.count === 1) first.count = 0;
    else largest = Math.max(largest, first.count);
  }
  if (largest === 0) return [...block];
  const head = [...block];
  const kept: Candidate[] = [];
  const before: Candidate[] = [];
  while (head.length > 0) {
    let most = 1;
    let which = -1;
    fields.forEach((lists, i) => {
      if (lists.length > 0 && lists[0]!.count > most) {
        most = lists[0]!.count;
        which = i;
      }
    });
    if (which < 0) {
      kept.push(...head.splice(0));
      break;
    }
    const group = fields[which]!.shift()!;
    const target = group.count > 2 ? [] : kept;
    for (const rule of group.rules.splice(0)) {
      head.splice(head.indexOf(rule), 1);
      target.push(rule);
      dropFromLists(fields, rule);
    }
    if (target !== kept) before.push(...reorder(target));
  }
  return [...before, ...kept];
}

function superblocks(rules: readonly Expanded[]): Candidate[][] {
  const blocks: Candidate[][] = [];
  let block: Candidate[] | undefined;
  for (const e of rules) {
    const first = block?.[0]?.e;
    const barrier = e.rule.action === 'anchor' || first?.rule.action === 'anchor';
    const groups = first !== undefined && (isGroup(e.rule.interface ?? '') || isGroup(first.rule.interface ?? '')) && (e.rule.interface ?? '').toLowerCase() !== (first.rule.interface ?? '').toLowerCase();
    if (!block || !first || barrier || groups || cachedFields(first).fields.brk !== cachedFields(e).fields.brk) {
      block = [];
      blocks.push(block);
    }
    block.push({ e });
  }
  return blocks;
}

/** Whether pfctl runs the optimizer on this rule: FreeBSD's translation rules it leaves alone. */
export function isFilterRule(e: Expanded, os: Os): boolean {
  return os === 'openbsd' || (e.rule.action !== 'rdr' && e.rule.action !== 'rdr-anchor');
}

/**
 * One ruleset's filter rules (in pfctl's expanded form, in order) after the basic optimizer;
 * `counter` numbers the tables it makes and runs on across rulesets as pfctl's does.
 */
export function optimizeRules(rules: readonly Expanded[], counter: TableCounter): Optimized {
  const tables: AutomaticTable[] = [];
  const out: Expanded[] = [];
  for (const block of superblocks(rules)) {
    if (block.length === 1) {
      out.push(block[0]!.e);
      continue;
    }
    out.push(...reorder(combine(removeCovered(block), counter, tables)).map((c) => c.e));
  }
  return { rules: out, tables, changed: out.length !== rules.length || out.some((e, i) => e !== rules[i]) };
}

/**
 * A ruleset as `pfctl -f` loads it at `level`: unchanged at none, or its rules printed back in
 * optimized order with the tables the optimizer built (const, named `__automatic_<id>_<n>` with
 * a random id, as pf_opt_create_table names them on a real load; `taken` are the table names pf
 * already holds, which the id must avoid, as must the file's own). Throws Unemulated where the result is out of reach.
 */
export function optimizeRuleset(ruleset: Ruleset, os: Os, level: OptimizationLevel, taken: ReadonlySet<string>): { ruleset: Ruleset; rules?: string } {
  if (level === 'none') return { ruleset };
  const all = ruleset.rules.flatMap(expand);
  const filter = all.filter((e) => isFilterRule(e, os));
  if (filter.length === 0) return { ruleset };
  if (level === 'profile') throw new Unemulated('ruleset-optimization profile (reordering by the counters of the loaded rules) is not emulated; load with -o none or -o basic');
  const counter = { next: 0 };
  if (ruleset.rules.some((r) => r.inline && optimizeRules(r.inline.flatMap(expand), counter).changed)) throw new Unemulated('ruleset optimization inside an inline anchor is not emulated; load with -o none');
  const optimized = optimizeRules(filter, counter);
  if (!optimized.changed) return { ruleset };
  if (ruleset.rules.some((r) => r.inline || r.fromPorts.length > 0 || r.noState)) throw new Unemulated('the optimized ruleset holds a rule the emulator cannot print back (inline anchor, source port or no state); load with -o none');
  const lower = new Set([...taken, ...ruleset.tables.map((t) => t.name)].map((n) => n.toLowerCase()));
  let id = randomBytes(4).readUInt32BE();
  const nameOf = (k: number): string => `__automatic_${id.toString(16)}_${k}`;
  while (optimized.tables.some((_, k) => lower.has(nameOf(k)))) id = randomBytes(4).readUInt32BE();
  const final = new Map(optimized.tables.map((t, k) => [t.temp, nameOf(k)]));
  const renamed = optimized.rules.map((e): Expanded => {
    const rename = (h: HostSpec): HostSpec => (h.kind === 'table' && final.has(h.name) ? { ...h, name: final.get(h.name)! } : h);
    return { ...e, from: rename(e.from), to: rename(e.to) };
  });
  // FreeBSD loads its translation rules before the filter rules, which are all the optimizer moves.
  const rules = [...all.filter((e) => !isFilterRule(e, os)), ...renamed].map((e) => `${printRule(e, os)}\n`).join('');
  const tables: TableDef[] = optimized.tables.map((t) => ({
    name: final.get(t.temp)!,
    line: 0,
    span: [0, 0],
    flags: ['const'],
    entries: t.entries.map((h) => ({ cidr: h.kind === 'net' ? h.cidr : { address: parseAddress(t.family === 'inet6' ? '::' : '0.0.0.0')!, prefix: 0 }, negate: false })),
  }));
  return { ruleset: { ...ruleset, rules: parseRuleset(rules, os).rules, tables: [...ruleset.tables, ...tables] }, rules };
}
