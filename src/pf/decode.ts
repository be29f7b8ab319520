/**
 * From what pf holds in one bucket anchor back to a bucket assignment, naming every way it
 * differs from what `renderAnchor` would have loaded: rules that belong to no service, missing
 * expansions, services that disagree on their host, targets that are no host's, tables whose
 * contents differ from the partition. Pure.
 */
import type { BucketTable } from '../buckets/partition.ts';
import type { Config, Service } from '../config/model.ts';
import type { BucketAssignment, ObservedBucket } from '../drivers/driver.ts';
import type { Cidr, IpAddress } from '../net/address.ts';
import { compareCidr, formatAddress, formatCidr, sameAddress } from '../net/address.ts';
import { tableName } from './render.ts';
import type { PfRule, RuleCounters } from './rules.ts';

/** The single-host form pf prints for a /32 or /128, the prefix form otherwise. */
function hostText(cidr: Cidr): string {
  return cidr.prefix === cidr.address.bytes.length * 8 ? formatAddress(cidr.address) : formatCidr(cidr);
}

function externalTokens(service: Service): string[] {
  return service.external.kind === 'table' ? [`<${service.external.table}>`] : service.external.addresses.map(hostText);
}

/** Each (destination, port) pair a service's one rendered rule expands to when pf loads it. */
function expansions(service: Service): string[] {
  return externalTokens(service).flatMap((to) => service.ports.map((port) => `${to} port ${port}`));
}

function ruleKind(config: Config): PfRule['kind'] {
  return config.pf.dialect === 'freebsd' ? 'rdr' : 'pass';
}

function describeTarget(rule: PfRule): string {
  return `${formatAddress(rule.target)}${rule.targetPort === undefined ? '' : ` port ${rule.targetPort}`}`;
}

function sameCidrs(a: readonly Cidr[], b: readonly Cidr[]): boolean {
  const x = [...a].sort(compareCidr);
  const y = [...b].sort(compareCidr);
  return x.length === y.length && x.every((c, i) => compareCidr(c, y[i]!) === 0);
}

function targetIs(host: Config['hosts'][number], service: string, address: IpAddress, port: number | undefined): boolean {
  const t = host.targets[service];
  return t !== undefined && sameAddress(t.address, address) && t.port === port;
}

export interface AnchorContents {
  rules: PfRule[];
  /** Table contents by name; absent when not read (cheap drift checks skip them). */
  tables?: ReadonlyMap<string, Cidr[] | undefined>;
}

export function sumCounters(rules: readonly PfRule[]): RuleCounters | undefined {
  if (!rules.some((r) => r.counters)) return undefined;
  const total: RuleCounters = { evaluations: 0, packets: 0, bytes: 0, states: 0 };
  for (const r of rules) {
    if (!r.counters) continue;
    total.evaluations += r.counters.evaluations;
    total.packets += r.counters.packets;
    total.bytes += r.counters.bytes;
    total.states += r.counters.states;
  }
  return total;
}

export function decodeAnchor(config: Config, bucket: number, expected: BucketTable, contents: AnchorContents): ObservedBucket {
  const problems: string[] = [];
  const byService = new Map<string, PfRule[]>();
  for (const rule of contents.rules) {
    const service = config.services.find(
      (s) =>
        rule.kind === ruleKind(config) &&
        s.interface === rule.interface &&
        s.family === rule.family &&
        s.protocol === rule.protocol &&
        rule.from.length === 1 &&
        rule.from[0] === `<${tableName(bucket, s.family)}>` &&
        rule.to.every((t) => externalTokens(s).includes(t)) &&
        rule.ports.every((p) => s.ports.includes(p)),
    );
    if (!service) {
      problems.push(`rule on line ${rule.line} belongs to no service of this bucket`);
      continue;
    }
    byService.set(service.name, [...(byService.get(service.name) ?? []), rule]);
  }

  for (const family of ['inet', 'inet6'] as const) {
    if (!config.services.some((s) => s.family === family) || !contents.tables) continue;
    const name = tableName(bucket, family);
    const held = contents.tables.get(name);
    if (held === undefined) problems.push(`table <${name}> is missing`);
    else if (!sameCidrs(held, family === 'inet' ? expected.inet : expected.inet6)) problems.push(`table <${name}> differs from the partition`);
  }

  const routes: BucketAssignment['routes'] = [];
  for (const service of config.services) {
    const rules = byService.get(service.name) ?? [];
    if (rules.length === 0) continue;
    const held = new Set(rules.flatMap((r) => r.to.flatMap((to) => r.ports.map((port) => `${to} port ${port}`))));
    for (const want of expansions(service)) if (!held.has(want)) problems.push(`service ${service.name}: no rule to ${want}`);
    const targets = new Set(rules.map(describeTarget));
    if (targets.size > 1) {
      problems.push(`service ${service.name}: rules disagree on the target (${[...targets].sort().join(', ')})`);
      continue;
    }
    const rule = rules[0]!;
    if (!config.hosts.some((h) => targetIs(h, service.name, rule.target, rule.targetPort))) {
      problems.push(`service ${service.name}: target ${describeTarget(rule)} is no configured host's`);
      continue;
    }
    routes.push({ service: service.name, address: rule.target, ...(rule.targetPort === undefined ? {} : { port: rule.targetPort }) });
  }

  const counters = sumCounters(contents.rules);
  const base = { bucket, problems, ...(counters ? { counters } : {}) };
  if (byService.size === 0 && problems.every((p) => p.startsWith('table'))) {
    return { ...base, assignment: { bucket, host: null, routes: [] } };
  }
  const missing = config.services.filter((s) => !byService.has(s.name)).map((s) => s.name);
  if (missing.length > 0 && byService.size > 0) problems.push(`no rule for service ${missing.join(', ')}`);
  if (routes.length !== config.services.length) return base;
  // The bucket's host is the one whose targets are all of these routes.
  const owners = config.hosts.filter((h) => routes.every((r) => targetIs(h, r.service, r.address, r.port)));
  if (owners.length !== 1) {
    problems.push(owners.length === 0 ? 'services point at different hosts' : `hosts ${owners.map((h) => h.name).join(', ')} share every target: the owner is ambiguous`);
    return base;
  }
  return { ...base, assignment: { bucket, host: owners[0]!.name, routes } };
}
