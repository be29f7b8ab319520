/**
 * Loaded rulesets as pf keeps them: every list in a rule expanded into one rule per combination
 * (proto x from x to x port), printed the way pfctl -vv -P prints them, their tables and
 * counters. evaluate.ts runs them over packets.
 */
import { formatAddress, formatCidr } from '../../src/net/address.ts';
import type { HostSpec, Os, PortOp, Rule, Ruleset } from './grammar.ts';
import { parseRuleset, withoutTables } from './grammar.ts';
import type { Counters, LoadedAnchor, PfMemory } from './store.ts';
import type { KTable } from './tables.ts';
import { entryKey } from './tables.ts';

/** One rule after expansion: single proto, source, destination and port. */
export interface Expanded {
  rule: Rule;
  protocol?: string;
  from: HostSpec;
  to: HostSpec;
  toPort?: PortOp;
}

export function expand(rule: Rule): Expanded[] {
  const out: Expanded[] = [];
  const protos = rule.protocols.length > 0 ? rule.protocols : [undefined];
  const ports = rule.toPorts.length > 0 ? rule.toPorts : [undefined];
  for (const protocol of protos) {
    for (const from of rule.from) {
      for (const to of rule.to) {
        const af = (h: HostSpec): string | undefined => (h.kind === 'net' ? (h.cidr.address.family === 4 ? 'inet' : 'inet6') : undefined);
        const family = rule.family ?? af(from) ?? af(to);
        if ((af(from) && af(from) !== family) || (af(to) && af(to) !== family)) continue;
        for (const toPort of ports) out.push({ rule, ...(protocol ? { protocol } : {}), from, to, ...(toPort ? { toPort } : {}) });
      }
    }
  }
  return out;
}

function hostText(h: HostSpec): string {
  const body = h.kind === 'any' ? 'any' : h.kind === 'table' ? `<${h.name}>` : h.kind === 'interface' ? h.name : h.cidr.prefix === h.cidr.address.bytes.length * 8 ? formatAddress(h.cidr.address) : formatCidr(h.cidr);
  return h.negate ? `! ${body}` : body;
}

function portText(p: PortOp): string {
  if (p.op === ':') return `${p.a}:${p.b}`;
  if (p.op === '><' || p.op === '<>') return `${p.a} ${p.op} ${p.b}`;
  return `${p.op} ${p.a}`;
}

/** A port test as one string, for telling rules' ports apart. */
export function portKey(p: PortOp | undefined): string {
  return p === undefined ? '' : `${p.op}${p.a}${p.b === undefined ? '' : `:${p.b}`}`;
}

const addressCache = new WeakMap<HostSpec, string>();

/** An address with its negation dropped (that is a field of its own): what pf stores as the address. */
export function addressKey(h: HostSpec): string {
  let key = addressCache.get(h);
  if (key === undefined) {
    key = readAddress(h);
    addressCache.set(h, key);
  }
  return key;
}

function readAddress(h: HostSpec): string {
  switch (h.kind) {
    case 'any':
      return 'any';
    case 'table':
      return `<${h.name}>`;
    case 'interface':
      return `if:${h.name}`;
    case 'net':
      return `${h.cidr.address.bytes.join('.')}/${h.cidr.prefix}`;
  }
}

export function familyOf(e: Expanded): string | undefined {
  const af = (h: HostSpec): string | undefined => (h.kind === 'net' ? (h.cidr.address.family === 4 ? 'inet' : 'inet6') : undefined);
  return e.rule.family ?? af(e.from) ?? af(e.to);
}

export function printRule(e: Expanded, os: Os): string {
  const r = e.rule;
  const parts: string[] = [];
  if (r.action === 'rdr-anchor' || r.action === 'anchor') parts.push(r.action, `"${r.anchor}"`);
  else if (r.action === 'rdr') parts.push(...(r.no ? ['no'] : []), 'rdr');
  else parts.push(r.action, ...(r.direction ? [r.direction] : []), ...(r.quick ? ['quick'] : []));
  if (r.interface) parts.push('on', r.interface);
  const family = familyOf(e);
  if (family) parts.push(family);
  if (e.protocol) parts.push('proto', e.protocol);
  if (e.from.kind === 'any' && !e.from.negate && e.to.kind === 'any' && !e.to.negate && !e.toPort && r.fromPorts.length === 0) parts.push('all');
  else {
    parts.push('from', hostText(e.from));
    parts.push('to', hostText(e.to));
    if (e.toPort) parts.push('port', portText(e.toPort));
  }
  // OpenBSD gives pass rules S/SA and prints flags unless the rule names a protocol other than tcp.
  if (r.action === 'pass' && os === 'openbsd' && (e.protocol === 'tcp' || e.protocol === undefined)) parts.push('flags', r.flags ?? 'S/SA');
  // print_rule puts the tags after the filter options and before the translation, on both systems.
  if (r.tag !== undefined) parts.push('tag', r.tag);
  if (r.tagged) parts.push(...(r.tagged.negate ? ['!'] : []), 'tagged', r.tagged.name);
  if (r.redirect) {
    parts.push(r.action === 'rdr' ? '->' : 'rdr-to');
    const hosts = r.redirect.hosts.map(hostText);
    parts.push(hosts.length === 1 ? hosts[0]! : `{ ${hosts.join(', ')} }`);
    if (r.redirect.port !== undefined) parts.push('port', String(r.redirect.port));
    if (r.redirect.pool) parts.push(r.redirect.pool);
  }
  return parts.join(' ');
}

/** The tables a ruleset's rules name (from, to, redirect pools, inline anchors included). */
export function referencedTables(rules: readonly Rule[], into = new Set<string>()): Set<string> {
  for (const r of rules) {
    for (const h of [...r.from, ...r.to, ...(r.redirect?.hosts ?? [])]) if (h.kind === 'table') into.add(h.name);
    if (r.inline) referencedTables(r.inline, into);
  }
  return into;
}

/**
 * A ruleset's tables after loading `ruleset` over `current`: each table the file defines is
 * replaced whole; one it does not define stays if `persist` or still named by a rule, as pf's
 * commit leaves it, and is destroyed otherwise.
 */
export function loadTables(current: Record<string, KTable>, ruleset: Ruleset, now = Date.now()): Record<string, KTable> {
  const named = referencedTables(ruleset.rules);
  const out: Record<string, KTable> = {};
  for (const [name, t] of Object.entries(current)) if (t.flags.includes('persist') || named.has(name)) out[name] = t;
  for (const def of ruleset.tables) out[def.name] = { flags: def.flags, entries: [...new Set(def.entries.map(entryKey))], cleared: now };
  return out;
}

/**
 * An anchor as the emulated kernel keeps it once loaded: zeroed counters per printed rule;
 * `rules` is the text its rules are read back from (the optimizer's printout when it moved any).
 */
export function loadedAnchor(source: string, ruleset: Ruleset, current: Record<string, KTable> = {}, rules = withoutTables(source, ruleset)): LoadedAnchor {
  const loadedAt = Date.now();
  return {
    source,
    rules,
    counters: ruleset.rules.flatMap(expand).map(() => ({ evaluations: 0, packets: 0, bytes: 0, states: 0, pid: process.pid })),
    loadedAt,
    tables: loadTables(current, ruleset, loadedAt),
  };
}

export function printCounters(c: Counters): string {
  const pad = (n: number, w: number): string => String(n).padEnd(w);
  return [
    `  [ Evaluations: ${pad(c.evaluations, 10)}Packets: ${pad(c.packets, 10)}Bytes: ${pad(c.bytes, 12)}States: ${pad(c.states, 6)}]`,
    `  [ Inserted: uid 0 pid ${c.pid} State Creations: ${pad(c.states, 6)}]`,
  ].join('\n');
}

/** The section of an anchor `-s nat` (freebsd) or `-s rules` shows. */
export function isNatRule(rule: Rule): boolean {
  return rule.action === 'rdr' || rule.action === 'rdr-anchor';
}

const cache = new Map<string, Ruleset>();

/** Parsed once per text: routing thousands of packets re-reads the same anchors. */
export function parsed(memory: PfMemory, source: string): Ruleset {
  const key = `${memory.os}\n${source}`;
  let ruleset = cache.get(key);
  if (!ruleset) {
    ruleset = parseRuleset(source, memory.os);
    if (cache.size > 10_000) cache.clear();
    cache.set(key, ruleset);
  }
  return ruleset;
}

/** An anchor's printed rules in order; the counters array is indexed the same way. */
export function expandedRules(memory: PfMemory, source: string): Expanded[] {
  return parsed(memory, source).rules.flatMap(expand);
}
