/**
 * What `pfsteer inspect` reports: the filter's buckets as read back, set against what the config
 * and a health view imply, with every inconsistency named. Pure; the command does the reading.
 */
import type { Partition } from '../buckets/partition.ts';
import { bucketOf } from '../buckets/partition.ts';
import type { Config } from '../config/model.ts';
import { eligibleHosts } from '../daemon/plan.ts';
import { assignmentsFor, sameAssignment } from '../drivers/assignments.ts';
import type { BucketAssignment, ObservedBucket } from '../drivers/driver.ts';
import type { HostState } from '../health/types.ts';
import type { Mapper } from '../mapping/types.ts';
import type { IpAddress } from '../net/address.ts';
import { formatAddress } from '../net/address.ts';
import { nftBucketOf } from '../nft/jhash.ts';
import { tableName } from '../pf/render.ts';
import type { RuleCounters } from '../pf/rules.ts';

export interface HealthView {
  /** Where the view came from: the running daemon, the --down option, or the assumption that every host is up. */
  source: 'daemon' | 'option' | 'assumed';
  states: ReadonlyMap<string, HostState>;
  drained: ReadonlySet<string>;
}

/** What the command read from the filter. */
export interface FilterReading {
  buckets: readonly ObservedBucket[];
  /** Problems of the filter as a whole: a missing hook, extra rules, anchors or tables. */
  problems: readonly string[];
  /** pf: each host's rules' counters summed. */
  hostCounters?: ReadonlyMap<string, RuleCounters>;
}

export interface BucketReport {
  bucket: number;
  /** pf: the source tables that hold the bucket's prefixes; nft: the map key. */
  where: string;
  host: string | null | undefined;
  expected: string | null | undefined;
  routes: Array<{ service: string; address: string; port?: number }>;
  problems: string[];
}

export interface HostReport {
  name: string;
  state: HostState | undefined;
  drained: boolean;
  buckets: number;
  expected: number;
  /** pf: how often its rules were evaluated, and the states they created (0 elsewhere). */
  evaluations: number;
  states: number;
}

export interface InspectReport {
  driver: Config['driver'];
  /** How client addresses become buckets: pf prefix tables or nft's jhash per address. */
  partition: 'prefix' | 'jhash';
  health: HealthView['source'];
  buckets: BucketReport[];
  hosts: HostReport[];
  /** Problems of the filter as a whole (not of one bucket). */
  problems: string[];
  inconsistencies: string[];
}

function routesOf(a: BucketAssignment | undefined): BucketReport['routes'] {
  return (a?.routes ?? []).map((r) => ({ service: r.service, address: formatAddress(r.address), ...(r.port === undefined ? {} : { port: r.port }) }));
}

/**
 * Desired assignments for a health view; undefined for buckets whose owner cannot be known: with
 * every host down under policy `keep` the daemon holds whatever mapping it had on purpose.
 */
export function expectedAssignments(config: Config, mapper: Mapper, view: HealthView): Array<BucketAssignment | undefined> {
  const eligible = eligibleHosts(config, view.states, view.drained);
  if (eligible.length > 0) return assignmentsFor(config, mapper.owners(new Set(eligible)));
  if (config.policy.allDown === 'fallthrough') return assignmentsFor(config, new Array<null>(config.buckets.count).fill(null));
  return new Array<undefined>(config.buckets.count).fill(undefined);
}

function where(config: Config, bucket: number, host: string | null | undefined): string {
  if (config.driver === 'nft') return `bucket ${bucket}`;
  if (host === undefined) return '?';
  if (host === null) return '(no table)';
  return [...new Set(config.services.map((s) => `<${tableName(host, s.family)}>`))].sort().join(' ');
}

export function buildReport(config: Config, reading: FilterReading, expected: ReadonlyArray<BucketAssignment | undefined>, view: HealthView): InspectReport {
  const inconsistencies: string[] = [...reading.problems];
  const buckets: BucketReport[] = reading.buckets.map((o) => {
    const want = expected[o.bucket];
    const problems = [...o.problems];
    if (o.assignment && want && !sameAssignment(o.assignment, want)) {
      problems.push(`held by ${o.assignment.host ?? 'nobody (in no table)'}, but config and health imply ${want.host ?? 'nobody (in no table)'}`);
    }
    for (const p of problems) inconsistencies.push(`bucket ${o.bucket}: ${p}`);
    return { bucket: o.bucket, where: where(config, o.bucket, o.assignment?.host), host: o.assignment?.host, expected: want?.host, routes: routesOf(o.assignment), problems };
  });
  const hosts: HostReport[] = config.hosts.map((h) => {
    const counters = reading.hostCounters?.get(h.name);
    return {
      name: h.name,
      state: view.source === 'assumed' ? undefined : view.states.get(h.name),
      drained: view.drained.has(h.name),
      buckets: buckets.filter((b) => b.host === h.name).length,
      expected: expected.filter((a) => a?.host === h.name).length,
      evaluations: counters?.evaluations ?? 0,
      states: counters?.states ?? 0,
    };
  });
  return { driver: config.driver, partition: config.driver === 'nft' ? 'jhash' : 'prefix', health: view.source, buckets, hosts, problems: [...reading.problems], inconsistencies };
}

export interface ClientAnswer {
  address: string;
  bucket: number;
  where: string;
  /** Per service of the client's address family: where the filter sends it now, and where it should. */
  services: Array<{ service: string; host: string | null | undefined; address?: string; port?: number; expected: string | null | undefined }>;
}

/** The bucket a client falls in: pf partitions by source prefix, nft hashes each address. */
export function clientBucket(config: Config, partition: Partition, address: IpAddress): number {
  return config.driver === 'nft' ? nftBucketOf(address, config.buckets.count, config.buckets.seed) : bucketOf(partition, address);
}

export function answerClient(config: Config, report: InspectReport, bucket: number, address: IpAddress): ClientAnswer {
  const b = report.buckets[bucket]!;
  const family = address.family === 4 ? 'inet' : 'inet6';
  const table = config.driver === 'nft' ? b.where : b.host ? `<${tableName(b.host, family)}>` : b.where;
  return {
    address: formatAddress(address),
    bucket,
    where: table,
    services: config.services
      .filter((s) => s.family === family)
      .map((s) => {
        const route = b.routes.find((r) => r.service === s.name);
        return { service: s.name, host: b.host, ...(route ? { address: route.address, ...(route.port === undefined ? {} : { port: route.port }) } : {}), expected: b.expected };
      }),
  };
}
