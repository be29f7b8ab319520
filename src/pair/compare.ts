/**
 * Two firewalls of a pair, compared from their status: which buckets they steer differently
 * and why. Pure. The default mapping sends a bucket to the first eligible host of a list fixed
 * by the config, so with the same config two owners of one bucket can differ only because one
 * of them is eligible on one side and not on the other; when that is not the case either, a
 * filter is not yet in line with its own view (a load pending or failing, or policy keep).
 */
import type { DrainSource } from '../daemon/drains.ts';
import { mappingDigest, type PartitionSpec } from '../mapping/digest.ts';
import type { PairSide } from './status.ts';

type Owner = string | null | undefined;

export type Reason =
  | { kind: 'health'; host: string; here: string; peer: string }
  | { kind: 'drain'; host: string; here: DrainSource[]; peer: DrainSource[] }
  | { kind: 'config'; detail: string }
  | { kind: 'unknown'; side: 'here' | 'peer' }
  | { kind: 'pending' };

export interface BucketDifference {
  bucket: number;
  /** Owners as in status JSON: a host, "" for empty, null for unknown. */
  here: string | null;
  peer: string | null;
  reasons: Reason[];
}

export interface Comparison {
  equal: boolean;
  digests: { here: string; peer: string };
  /** False when B, seed or partition differ: no bucket of one side is a bucket of the other. */
  comparable: boolean;
  /** Config differences: B, seed, partition, hosts, weights. */
  config: string[];
  /** Hosts seen differently (health or drains), whether or not that moves a bucket now. */
  views: Reason[];
  buckets: BucketDifference[];
  /** A digest that does not match its owners (a side computed it differently). */
  notes: string[];
}

type Host = PairSide['hosts'][number];

const down = (h: Host | undefined) => h?.state === 'down';
const drained = (h: Host | undefined) => (h?.drains.length ?? 0) > 0;

function partitionText(p: PartitionSpec): string {
  return p.kind === 'prefix' ? `prefix /${p.inetPrefix} and /${p.inet6Prefix}` : 'jhash per address';
}

function configDifferences(here: PairSide, peer: PairSide): { config: string[]; comparable: boolean; hostsDiffer: boolean } {
  const config: string[] = [];
  const a = here.mapping;
  const b = peer.mapping;
  if (a.buckets !== b.buckets) config.push(`B (buckets.count): ${a.buckets} here, ${b.buckets} on the peer`);
  if (a.seed !== b.seed) config.push(`seed (buckets.seed): ${a.seed} here, ${b.seed} on the peer`);
  if (partitionText(a.partition) !== partitionText(b.partition)) config.push(`partition: ${partitionText(a.partition)} here, ${partitionText(b.partition)} on the peer`);
  const comparable = config.length === 0;
  const peerHosts = new Map(peer.hosts.map((h) => [h.name, h]));
  const hereHosts = new Map(here.hosts.map((h) => [h.name, h]));
  const onlyHere = here.hosts.filter((h) => !peerHosts.has(h.name)).map((h) => h.name);
  const onlyPeer = peer.hosts.filter((h) => !hereHosts.has(h.name)).map((h) => h.name);
  if (onlyHere.length > 0) config.push(`hosts only here: ${onlyHere.join(', ')}`);
  if (onlyPeer.length > 0) config.push(`hosts only on the peer: ${onlyPeer.join(', ')}`);
  const weights = here.hosts.filter((h) => peerHosts.has(h.name) && peerHosts.get(h.name)!.weight !== h.weight);
  for (const h of weights) config.push(`weight of ${h.name}: ${h.weight} here, ${peerHosts.get(h.name)!.weight} on the peer`);
  return { config, comparable, hostsDiffer: onlyHere.length + onlyPeer.length + weights.length > 0 };
}

/** Every host seen differently by the two sides. */
function viewDifferences(here: PairSide, peer: PairSide): Reason[] {
  const peerHosts = new Map(peer.hosts.map((h) => [h.name, h]));
  const out: Reason[] = [];
  for (const h of here.hosts) {
    const p = peerHosts.get(h.name);
    if (!p) continue;
    if (h.state !== p.state) out.push({ kind: 'health', host: h.name, here: h.state, peer: p.state });
    if ([...h.drains].sort().join() !== [...p.drains].sort().join()) out.push({ kind: 'drain', host: h.name, here: [...h.drains], peer: [...p.drains] });
  }
  return out;
}

/** Of the hosts seen differently, those whose difference decides whether the mapping may use them. */
function eligibilityReasons(views: readonly Reason[], here: PairSide, peer: PairSide, hosts: ReadonlySet<string> | undefined): Reason[] {
  const find = (side: PairSide, name: string) => side.hosts.find((h) => h.name === name);
  return views.filter((r) => {
    if (r.kind !== 'health' && r.kind !== 'drain') return false;
    if (hosts && !hosts.has(r.host)) return false;
    const a = find(here, r.host);
    const b = find(peer, r.host);
    const eligible = (h: Host | undefined) => !down(h) && !drained(h);
    if (eligible(a) === eligible(b)) return false;
    return r.kind === 'health' ? down(a) !== down(b) : drained(a) !== drained(b);
  });
}

const asJson = (owner: Owner): string | null => (owner === undefined ? null : (owner ?? ''));

export function compareSides(here: PairSide, peer: PairSide): Comparison {
  const { config, comparable, hostsDiffer } = configDifferences(here, peer);
  const views = viewDifferences(here, peer);
  const notes: string[] = [];
  for (const [side, name] of [[here, 'here'], [peer, 'the peer']] as const) {
    if (mappingDigest(side.mapping) !== side.digest) notes.push(`the digest ${name} (${side.digest}) does not match its owners (${mappingDigest(side.mapping)}): another pfsteer version?`);
  }
  const buckets: BucketDifference[] = [];
  if (comparable) {
    for (let bucket = 0; bucket < here.mapping.buckets; bucket++) {
      const x = here.mapping.owners[bucket];
      const y = peer.mapping.owners[bucket];
      if (x === y && x !== undefined) continue;
      const reasons: Reason[] = [];
      if (x === undefined) reasons.push({ kind: 'unknown', side: 'here' });
      if (y === undefined) reasons.push({ kind: 'unknown', side: 'peer' });
      if (hostsDiffer) reasons.push({ kind: 'config', detail: 'hosts or weights differ, and with them every bucket\'s list of hosts' });
      // An empty bucket had no eligible host at all, so any host seen differently may be the cause.
      const owners = [x, y].filter((o): o is string => typeof o === 'string');
      const candidates = x === null || y === null ? undefined : new Set(owners);
      if (x !== undefined && y !== undefined) reasons.push(...eligibilityReasons(views, here, peer, candidates));
      if (reasons.length === 0) reasons.push({ kind: 'pending' });
      buckets.push({ bucket, here: asJson(x), peer: asJson(y), reasons });
    }
  }
  return {
    equal: comparable && config.length === 0 && buckets.length === 0,
    digests: { here: here.digest, peer: peer.digest },
    comparable,
    config,
    views,
    buckets,
    notes,
  };
}

const drainText = (sources: readonly DrainSource[]) => (sources.length === 0 ? 'not drained' : `drained (${sources.join(' and ')})`);

export function describeReason(reason: Reason): string {
  switch (reason.kind) {
    case 'health':
      return `${reason.host} is ${reason.here} here, ${reason.peer} on the peer`;
    case 'drain':
      return `${reason.host} is ${drainText(reason.here)} here, ${drainText(reason.peer)} on the peer`;
    case 'config':
      return `config differs: ${reason.detail}`;
    case 'unknown':
      return reason.side === 'here' ? 'the daemon here does not know what the filter holds (a failed load)' : 'the peer does not know what its filter holds (a failed load)';
    case 'pending':
      return 'both see the same, but a filter is not yet in line with its view (a load pending or failing, or all hosts down with policy keep)';
  }
}
