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
import { anchorName } from '../pf/render.ts';

export interface HealthView {
  /** Where the view came from: the running daemon, the --down option, or the assumption that every host is up. */
  source: 'daemon' | 'option' | 'assumed';
  states: ReadonlyMap<string, HostState>;
  drained: ReadonlySet<string>;
}

export interface BucketReport {
  bucket: number;
  /** pf: the anchor; nft: the map key. */
  where: string;
  host: string | null | undefined;
  expected: string | null | undefined;
  routes: Array<{ service: string; address: string; port?: number }>;
  counters?: ObservedBucket['counters'];
  problems: string[];
}

export interface HostReport {
  name: string;
  state: HostState | undefined;
  drained: boolean;
  buckets: number;
  expected: number;
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
  extra: string[];
  inconsistencies: string[];
}

function routesOf(a: BucketAssignment | undefined): BucketReport['routes'] {
  return (a?.routes ?? []).map((r) => ({ service: r.service, address: formatAddress(r.address), ...(r.port === undefined ? {} : { port: r.port }) }));
}

/** Desired assignments for a health view; undefined for buckets whose owner cannot be known (policy keep with every host down). */
export function expectedAssignments(config: Config, mapper: Mapper, view: HealthView): Array<BucketAssignment | undefined> {
  const eligible = eligibleHosts(config, view.states, view.drained);
  if (eligible.length > 0) return assignmentsFor(config, mapper.owners(new Set(eligible)));
  if (config.policy.allDown === 'fallthrough') return assignmentsFor(config, new Array<null>(config.buckets.count).fill(null));
  return new Array<undefined>(config.buckets.count).fill(undefined);
}

export function buildReport(config: Config, observed: readonly ObservedBucket[], extra: readonly string[], expected: ReadonlyArray<BucketAssignment | undefined>, view: HealthView): InspectReport {
  const inconsistencies: string[] = extra.map((name) => `extra anchor ${name}: no bucket of this layout`);
  const buckets: BucketReport[] = observed.map((o) => {
    const want = expected[o.bucket];
    const problems = [...o.problems];
    if (o.assignment && want && !sameAssignment(o.assignment, want)) {
      problems.push(`held by ${o.assignment.host ?? 'nobody (empty)'}, but config and health imply ${want.host ?? 'nobody (empty)'}`);
    }
    for (const p of problems) inconsistencies.push(`bucket ${o.bucket}: ${p}`);
    return {
      bucket: o.bucket,
      where: config.driver === 'nft' ? `bucket ${o.bucket}` : anchorName(config, o.bucket),
      host: o.assignment?.host,
      expected: want?.host,
      routes: routesOf(o.assignment),
      ...(o.counters ? { counters: o.counters } : {}),
      problems,
    };
  });
  const hosts: HostReport[] = config.hosts.map((h) => {
    const held = buckets.filter((b) => b.host === h.name);
    return {
      name: h.name,
      state: view.source === 'assumed' ? undefined : view.states.get(h.name),
      drained: view.drained.has(h.name),
      buckets: held.length,
      expected: expected.filter((a) => a?.host === h.name).length,
      evaluations: held.reduce((n, b) => n + (b.counters?.evaluations ?? 0), 0),
      states: held.reduce((n, b) => n + (b.counters?.states ?? 0), 0),
    };
  });
  return { driver: config.driver, partition: config.driver === 'nft' ? 'jhash' : 'prefix', health: view.source, buckets, hosts, extra: [...extra], inconsistencies };
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
  return {
    address: formatAddress(address),
    bucket,
    where: b.where,
    services: config.services
      .filter((s) => s.family === family)
      .map((s) => {
        const route = b.routes.find((r) => r.service === s.name);
        return { service: s.name, host: b.host, ...(route ? { address: route.address, ...(route.port === undefined ? {} : { port: route.port }) } : {}), expected: b.expected };
      }),
  };
}
