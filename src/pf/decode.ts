/**
 * From what pf holds in pfsteer's anchor (its rules and its tables) back to an owner per bucket,
 * naming every way it differs from what `renderAnchor` loads: a missing, extra or misdirected
 * rule, a missing or unknown table, an entry that is no bucket's prefix, a bucket whose prefixes
 * are in no table, in two tables, or split. Pure.
 */
import type { BucketTable } from '../buckets/partition.ts';
import type { Config } from '../config/model.ts';
import { assignmentFor } from '../drivers/assignments.ts';
import type { ObservedBucket } from '../drivers/driver.ts';
import type { Cidr } from '../net/address.ts';
import { formatCidr } from '../net/address.ts';
import { familiesOf, GATE_TAG, hostText, ruleBlocks, sortedHosts, tableName, targetText, type PfFamily } from './render.ts';
import type { PfRedirectRule, PfRule, RuleCounters } from './rules.ts';

export interface AnchorContents {
  rules: readonly PfRule[];
  /** Contents per table name the anchor holds; a table absent here does not exist. */
  tables: ReadonlyMap<string, readonly Cidr[]>;
}

export interface DecodedAnchor {
  buckets: ObservedBucket[];
  /** What concerns the anchor as a whole: extra rules, unknown tables or entries. */
  problems: string[];
  /** Hosts whose rules are missing or wrong. */
  badRules: Set<string>;
  /** Per host, its rules' counters summed (where pf printed them). */
  counters: Map<string, RuleCounters>;
}

/** The one expanded rule pfctl prints back for one (destination, port) of a rendered rule. */
export interface ExpectedRule {
  /** Whose rule it is; undefined for a block's gate. */
  host?: string;
  match: string;
  key: string;
  text: string;
}

/** What a rule matches, without where it sends: a wrong target shows as the same match. */
function matchKey(rule: Pick<PfRule, 'kind' | 'interface' | 'family' | 'protocol'>, from: string, to: string, port: number): string {
  return [rule.kind, rule.interface, rule.family, rule.protocol, from, to, port].join(' ');
}

/** What follows the match: the redirect, or a gate's tag. */
function ruleKey(match: string, rule: PfRule): string {
  return rule.kind === 'gate' ? `${match} tagged ${rule.tag}` : `${match} -> ${targetText(rule.target, rule.targetPort)}`;
}

/** Every rule pfctl lists for the rendered anchor, in its order (lists expanded, destinations outer). */
export function expectedRules(config: Config): ExpectedRule[] {
  const kind: PfRedirectRule['kind'] = config.pf.dialect === 'freebsd' ? 'rdr' : 'pass';
  const out: ExpectedRule[] = [];
  const hosts = sortedHosts(config);
  for (const block of ruleBlocks(config)) {
    const gate = matchKey({ ...block, kind: 'gate' }, 'any', 'any', block.port);
    out.push({ match: gate, key: `${gate} tagged ${GATE_TAG}`, text: `the gate of port ${block.port} on ${block.interface} ${block.family}` });
    for (const host of hosts) {
      for (const service of block.services) {
        const { address, port } = host.targets[service.name]!;
        const target = targetText(address, port);
        const tos = service.external.kind === 'table' ? [`<${service.external.table}>`] : service.external.addresses.map(hostText);
        const from = `<${tableName(host.name, block.family)}>`;
        for (const to of tos) {
          const match = matchKey({ ...block, kind }, from, to, block.port);
          out.push({ host: host.name, match, key: `${match} -> ${target}`, text: `${service.name}: from ${from} to ${to} port ${block.port} -> ${target}` });
        }
      }
    }
  }
  return out;
}

function observedMatches(rule: PfRule): string[] {
  return rule.from.flatMap((from) => rule.to.flatMap((to) => rule.ports.map((port) => matchKey(rule, from, to, port))));
}

function addCounters(into: Map<string, RuleCounters>, host: string, c: RuleCounters): void {
  const total = into.get(host) ?? { evaluations: 0, packets: 0, bytes: 0, states: 0 };
  total.evaluations += c.evaluations;
  total.packets += c.packets;
  total.bytes += c.bytes;
  total.states += c.states;
  into.set(host, total);
}

/** Which host's table a `<name>` source is, if any. */
function tableOwner(config: Config, token: string): { host: string; family: PfFamily } | undefined {
  for (const host of config.hosts) {
    for (const family of ['inet', 'inet6'] as const) if (token === `<${tableName(host.name, family)}>`) return { host: host.name, family };
  }
  return undefined;
}

function decodeRules(config: Config, rules: readonly PfRule[], problems: string[], badRules: Set<string>, counters: Map<string, RuleCounters>): void {
  const expected = expectedRules(config);
  const keys = new Set(expected.map((e) => e.key));
  const byMatch = new Map(expected.map((e) => [e.match, e]));
  const seen: string[] = [];
  for (const rule of rules) {
    const owner = rule.kind !== 'gate' && rule.from.length === 1 ? tableOwner(config, rule.from[0]!) : undefined;
    for (const match of observedMatches(rule)) {
      const key = ruleKey(match, rule);
      seen.push(key);
      if (keys.has(key)) continue;
      const text = `line ${rule.line}: from ${rule.from.join(' ')} to ${rule.to.join(' ')} ${rule.kind === 'gate' ? `tagged ${rule.tag}` : `-> ${targetText(rule.target, rule.targetPort)}`}`;
      if (!owner) {
        problems.push(`extra rule (${text})`);
        continue;
      }
      badRules.add(owner.host);
      const same = byMatch.get(match);
      problems.push(same ? `rule to the wrong address for ${owner.host} (${text}; expected ${same.text})` : `extra rule for ${owner.host} (${text})`);
    }
    if (owner && rule.counters) addCounters(counters, owner.host, rule.counters);
  }
  const present = new Set(seen);
  for (const e of expected) {
    if (present.has(e.key)) continue;
    if (e.host === undefined) {
      problems.push(`missing rule (${e.text})`);
      continue;
    }
    badRules.add(e.host);
    problems.push(`missing rule for ${e.host} (${e.text})`);
  }
  // Every rule there and nothing else, yet in another order: the first match could differ.
  if (badRules.size === 0 && problems.length === 0 && seen.join('\n') !== expected.map((e) => e.key).join('\n')) {
    problems.push('the rules are out of order');
    for (const e of expected) if (e.host !== undefined) badRules.add(e.host);
  }
}

/**
 * `partition[bucket]` is the bucket's prefixes; `contents` what the anchor holds. Buckets come
 * back with the owner the tables give them (null when in no table), problems named per bucket;
 * a host whose rules are wrong taints its buckets, so a reconcile repairs them. A bucket with no
 * prefix in the families in use (possible when B nears the number of prefixes) routes nobody and
 * cannot be read back: it takes its owner from `unseen`, else null.
 */
export function decodeAnchor(config: Config, partition: readonly BucketTable[], contents: AnchorContents, unseen: (bucket: number) => string | null = () => null): DecodedAnchor {
  const problems: string[] = [];
  const badRules = new Set<string>();
  const counters = new Map<string, RuleCounters>();
  decodeRules(config, contents.rules, problems, badRules, counters);

  const families = familiesOf(config);
  // Which hosts' tables hold each prefix, by its text.
  const holders = new Map<string, string[]>();
  const bucketOfPrefix = new Map<string, number>();
  partition.forEach((t, bucket) => {
    for (const family of families) for (const c of t[family]) bucketOfPrefix.set(formatCidr(c), bucket);
  });
  const expectedTables = new Set<string>();
  for (const host of config.hosts) {
    for (const family of families) {
      const name = tableName(host.name, family);
      expectedTables.add(name);
      const entries = contents.tables.get(name);
      if (entries === undefined) {
        problems.push(`table <${name}> is missing`);
        badRules.add(host.name);
        continue;
      }
      const unknown: string[] = [];
      for (const c of entries) {
        const text = formatCidr(c);
        if (!bucketOfPrefix.has(text)) {
          unknown.push(text);
          continue;
        }
        const list = holders.get(text);
        if (list) list.push(host.name);
        else holders.set(text, [host.name]);
      }
      if (unknown.length > 0) problems.push(`table <${name}> holds ${unknown.length} entr${unknown.length === 1 ? 'y' : 'ies'} that are no bucket's prefix (${unknown.slice(0, 3).join(', ')}${unknown.length > 3 ? ', ...' : ''})`);
    }
  }
  for (const name of contents.tables.keys()) if (!expectedTables.has(name)) problems.push(`unknown table <${name}>`);

  const buckets = partition.map((t, bucket): ObservedBucket => {
    const bucketProblems: string[] = [];
    const owners = new Set<string>();
    let inNone = 0;
    let total = 0;
    for (const family of families) {
      for (const c of t[family]) {
        total++;
        const hosts = holders.get(formatCidr(c));
        if (!hosts) inNone++;
        else for (const h of hosts) owners.add(h);
        if (hosts && hosts.length > 1) bucketProblems.push(`prefix ${formatCidr(c)} is in the tables of ${hosts.join(' and ')}`);
      }
    }
    if (total === 0) return { bucket, assignment: assignmentFor(config, bucket, unseen(bucket)), problems: [] };
    if (owners.size === 0) return { bucket, assignment: assignmentFor(config, bucket, null), problems: bucketProblems };
    if (inNone > 0) bucketProblems.push(`${inNone} of its ${total} prefixes are in no table`);
    if (owners.size > 1 && bucketProblems.length === 0) bucketProblems.push(`its prefixes are split between ${[...owners].sort().join(' and ')}`);
    const [owner] = owners;
    for (const h of owners) if (badRules.has(h)) bucketProblems.push(`the rules of ${h} are missing or wrong`);
    if (bucketProblems.length > 0 || owners.size !== 1) return { bucket, problems: bucketProblems };
    return { bucket, assignment: assignmentFor(config, bucket, owner!), problems: [] };
  });
  return { buckets, problems, badRules, counters };
}
