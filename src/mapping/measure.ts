/** Figures about mappings, shared by `pfsteer simulate` and the benchmark. Pure. */
import type { HostSpec, Owners } from './types.ts';

export interface Balance {
  /** Buckets per host, in the order of `hosts`. */
  counts: Map<string, number>;
  /** Largest |count - exact weighted share| over the hosts considered. */
  maxDeviation: number;
  /** Largest count / exact share: 1 is perfect. */
  peakOverMean: number;
}

export function balanceOf(owners: Owners, hosts: readonly HostSpec[]): Balance {
  const counts = new Map<string, number>(hosts.map((h) => [h.name, 0]));
  for (const owner of owners) if (owner !== null && counts.has(owner)) counts.set(owner, counts.get(owner)! + 1);
  const total = hosts.reduce((sum, h) => sum + h.weight, 0);
  let maxDeviation = 0;
  let peakOverMean = 0;
  for (const host of hosts) {
    const exact = (owners.length * host.weight) / total;
    const count = counts.get(host.name)!;
    maxDeviation = Math.max(maxDeviation, Math.abs(count - exact));
    peakOverMean = Math.max(peakOverMean, count / exact);
  }
  return { counts, maxDeviation, peakOverMean };
}

export function movedBuckets(before: Owners, after: Owners): number {
  let moved = 0;
  for (let b = 0; b < before.length; b++) if (before[b] !== after[b]) moved++;
  return moved;
}

/** Buckets that changed owner although neither side is `host`: movement beyond the minimum. */
export function collateralMoves(before: Owners, after: Owners, host: string): number {
  let moved = 0;
  for (let b = 0; b < before.length; b++) {
    if (before[b] !== after[b] && before[b] !== host && after[b] !== host) moved++;
  }
  return moved;
}
