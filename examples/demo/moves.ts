/**
 * What moved, and the least that had to: pure functions over bucket owners. Owners come from
 * what the (emulated) filter holds when there is one, from the daemon's status otherwise.
 */
import type { PfMemory } from '../../test/pf-emulator/store.ts';

export type Owners = ReadonlyArray<string | undefined>;

/** Bucket owners as pf holds them: each anchor's rdr target address, mapped back to its host. */
export function ownersInPf(memory: PfMemory, anchor: string, buckets: number, hostOf: ReadonlyMap<string, string>): Array<string | undefined> {
  return Array.from({ length: buckets }, (_, bucket) => {
    const source = memory.anchors[`${anchor}/b${String(bucket).padStart(4, '0')}`]?.source;
    const target = source ? /->\s*(\S+)/.exec(source)?.[1] : undefined;
    return target === undefined ? undefined : hostOf.get(target);
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
