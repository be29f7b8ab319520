/**
 * What moved, and the least that had to: pure functions over bucket owners. Owners come from
 * what the (emulated) filter holds when there is one, from the daemon's status otherwise.
 */
import { bucketTables, buildPartition, type PartitionSpec } from '../../src/buckets/partition.ts';
import { parseAddress } from '../../src/net/address.ts';
import type { PfEmulator } from '../../test/pf-emulator/emulator.ts';

export type Owners = ReadonlyArray<string | undefined>;

/**
 * Bucket owners as pf routes them: one client of each bucket (its first IPv4 prefix) sent to
 * `destination`, the rdr target mapped back to its host; undefined when not steered.
 */
export function ownersInPf(emulator: PfEmulator, spec: PartitionSpec, destination: string, hostOf: ReadonlyMap<string, string>): Array<string | undefined> {
  const firsts = bucketTables(buildPartition(spec)).map((t) => t.inet[0]);
  const answers = emulator.routeMany(firsts.flatMap((c) => (c ? [{ source: c.address, destination: parseAddress(destination)!, port: 443, interface: 'em0' }] : [])));
  let at = 0;
  return firsts.map((c) => {
    if (!c) return undefined;
    const answer = answers[at++]!;
    return answer.anchor === null ? undefined : hostOf.get(answer.address);
  });
}

export function countOwners(owners: Owners, hosts: readonly string[]): Record<string, number> {
  return Object.fromEntries(hosts.map((h) => [h, owners.filter((o) => o === h).length]));
}

export function changedBuckets(before: Owners, after: Owners): number {
  return before.reduce((n, owner, bucket) => n + (owner !== after[bucket] ? 1 : 0), 0);
}

/**
 * The fewest buckets an event can move: those the event's host must give up or take over. A
 * host that leaves has to hand over every bucket it held; one that returns has to receive
 * whatever share it ends with. Anything above that moved between hosts that did not change.
 */
export function minimumMoves(before: Record<string, number>, after: Record<string, number>, host: string): number {
  return Math.abs((after[host] ?? 0) - (before[host] ?? 0));
}

/** Moves between other hosts: a bucket whose owner changed although neither end was `host`. */
export function collateralMoves(before: Owners, after: Owners, host: string): number {
  return before.reduce((n, owner, bucket) => n + (owner !== after[bucket] && owner !== host && after[bucket] !== host ? 1 : 0), 0);
}
