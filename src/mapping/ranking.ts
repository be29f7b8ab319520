/**
 * The host each bucket proposes to first: its best by score (`scores.ts`). The matchings take
 * their first proposals from here and scan every host only for the few buckets turned away,
 * so the B x N scores are never stored.
 *
 * This is most of a rebuild at B = 65536, N = 64, so it is built for speed: the bucket's half
 * of each pair hash is computed once per bucket (`bucketPart`); hosts of equal weight are
 * compared by raw hash with masks instead of branches (a raw hash orders hosts of one weight
 * exactly as their scores do), and the leaders of the weights by bounds (`beatsByRaw`), which
 * almost never need a logarithm.
 */
import { bucketPart, finishPair } from '../hash/combine.ts';
import { beatsByRaw, type ScoreTable } from './scores.ts';

/** Hosts, each with the raw pair hash it was found with (its score is `weightedScore` of it, or itself for equal weights). */
export interface HostEntries {
  hosts: Int32Array;
  raws: Uint32Array;
}

/** Hosts grouped by weight: `order` lists host indices class by class, ascending inside one. */
interface WeightClasses {
  order: Int32Array;
  /** Class c is order[start[c]] up to order[start[c + 1]]. */
  start: Int32Array;
  weight: Float64Array;
}

/** The classes of every host but `excluded` (-1 for none). */
function weightClasses(weights: Float64Array, excluded: number): WeightClasses {
  const hosts = Array.from(weights.keys()).filter((h) => h !== excluded);
  // Heaviest first: its leader wins most buckets, so the comparisons after it mostly keep it.
  const distinct = [...new Set(hosts.map((h) => weights[h]!))].sort((a, b) => b - a);
  const order = new Int32Array(hosts.length);
  const start = new Int32Array(distinct.length + 1);
  let at = 0;
  distinct.forEach((w, c) => {
    start[c] = at;
    for (const h of hosts) if (weights[h] === w) order[at++] = h;
  });
  start[distinct.length] = at;
  return { order, start, weight: Float64Array.from(distinct) };
}

/** `x ^ 0x80000000` as a signed integer orders like the unsigned hash and stays in integer registers. */
function signed(raw: number): number {
  return (raw ^ 0x80000000) | 0;
}

function unsigned(value: number): number {
  return (value ^ 0x80000000) >>> 0;
}

/** The best host other than `excluded` (-1 for none) of each bucket of `buckets` (entry i for buckets[i]). */
export function bestHosts(table: ScoreTable, buckets: Int32Array, excluded: number): HostEntries {
  const B = buckets.length;
  const best: HostEntries = { hosts: new Int32Array(B), raws: new Uint32Array(B) };
  const { order, start, weight } = weightClasses(table.weights, excluded);
  const keys = Uint32Array.from(order, (h) => table.hostKeys[h]!);
  const classes = weight.length;
  const { bucketKeys } = table;
  // Two buckets at a time: each host key is loaded once for both, and the two running maxima
  // are independent, so the processor overlaps them (about 1 ms of 10 at B = 65536, N = 64).
  // With an odd count the last bucket is ranked twice. Each lane's best so far is kept in
  // locals, written out twice, not in an object: fields that take doubles of changing
  // representation get boxed, and a shared helper object made this loop 4x slower in the
  // benchmark (34 ms against 8.8 at B = 65536, N = 64), though not in a small script.
  for (let b = 0; b < B; b += 2) {
    const b2 = Math.min(b + 1, B - 1);
    const part = bucketPart(bucketKeys[buckets[b]!]!);
    const part2 = bucketPart(bucketKeys[buckets[b2]!]!);
    let bestHost = -1;
    let bestRaw = 0;
    let bestWeight = 0;
    let bestHost2 = -1;
    let bestRaw2 = 0;
    let bestWeight2 = 0;
    for (let c = 0; c < classes; c++) {
      const from = start[c]!;
      const to = start[c + 1]!;
      let top = signed(finishPair(part, keys[from]!));
      let top2 = signed(finishPair(part2, keys[from]!));
      let topAt = from;
      let topAt2 = from;
      for (let i = from + 1; i < to; i++) {
        const key = keys[i]!;
        const v = signed(finishPair(part, key));
        const v2 = signed(finishPair(part2, key));
        // All ones where v is strictly greater (on a tie the earlier, lower-indexed host
        // stays); selecting with masks keeps the loop free of mispredicted branches.
        const greater = -+(v > top);
        const greater2 = -+(v2 > top2);
        top ^= (v ^ top) & greater;
        topAt ^= (i ^ topAt) & greater;
        top2 ^= (v2 ^ top2) & greater2;
        topAt2 ^= (i ^ topAt2) & greater2;
      }
      const w = weight[c]!;
      const h = order[topAt]!;
      const raw = unsigned(top);
      if (bestHost === -1 || beatsByRaw(raw, w, h, bestRaw, bestWeight, bestHost)) {
        bestHost = h;
        bestRaw = raw;
        bestWeight = w;
      }
      const h2 = order[topAt2]!;
      const raw2 = unsigned(top2);
      if (bestHost2 === -1 || beatsByRaw(raw2, w, h2, bestRaw2, bestWeight2, bestHost2)) {
        bestHost2 = h2;
        bestRaw2 = raw2;
        bestWeight2 = w;
      }
    }
    best.hosts[b] = bestHost;
    best.raws[b] = bestRaw;
    best.hosts[b2] = bestHost2;
    best.raws[b2] = bestRaw2;
  }
  return best;
}
