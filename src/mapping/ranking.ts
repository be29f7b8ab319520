/**
 * The hosts a bucket proposes to first, in score order (`scores.ts`). The matchings take their
 * proposals from here and scan every host only for the rare bucket turned away past its
 * ranking, so the B x N scores are never stored.
 *
 * Two shapes:
 * - `bestHosts`: every bucket's single best host. This is most of a rebuild at B = 65536,
 *   N = 64, so it is built for speed: the bucket's half of each pair hash is computed once per
 *   bucket (`bucketPart`); hosts of equal weight are compared by raw hash with masks instead
 *   of branches (a raw hash orders hosts of one weight exactly as their scores do), and the
 *   best of each weight by bounds (`beatsByRaw`), so a bucket takes about one logarithm.
 * - `rankExcluding`: the best few hosts other than one, for the few buckets that host held
 *   (its second choices), with every score taken exactly.
 */
import { bucketPart, finishPair } from '../hash/combine.ts';
import { beats, beatsByRaw, certainlyBelow, type ScoreTable, weightedScore } from './scores.ts';

export interface Ranking {
  depth: number;
  /** depth entries per row, best score first; row i belongs to the i-th bucket ranked. */
  hosts: Int32Array;
  /** Each entry's raw pair hash (its score is `weightedScore` of it, or itself for equal weights). */
  raws: Uint32Array;
}

/** Hosts grouped by weight: `order` lists host indices class by class, ascending inside one. */
interface WeightClasses {
  order: Int32Array;
  /** Class c is order[start[c]] up to order[start[c + 1]]. */
  start: Int32Array;
  weight: Float64Array;
}

function weightClasses(weights: Float64Array): WeightClasses {
  // Heaviest first: its leader wins most buckets, so the comparisons after it mostly keep it.
  const distinct = [...new Set(weights)].sort((a, b) => b - a);
  const order = new Int32Array(weights.length);
  const start = new Int32Array(distinct.length + 1);
  let at = 0;
  distinct.forEach((w, c) => {
    start[c] = at;
    weights.forEach((hostWeight, h) => {
      if (hostWeight === w) order[at++] = h;
    });
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

/** Each bucket's best host (depth 1, row = bucket). */
export function bestHosts(table: ScoreTable): Ranking {
  const B = table.bucketKeys.length;
  const ranking: Ranking = { depth: 1, hosts: new Int32Array(B), raws: new Uint32Array(B) };
  const { order, start, weight } = weightClasses(table.weights);
  const keys = Uint32Array.from(order, (h) => table.hostKeys[h]!);
  const classes = weight.length;
  const { bucketKeys } = table;
  // Two buckets at a time: each host key is loaded once for both, and the two running maxima
  // are independent, so the processor overlaps them (about 1 ms of 10 at B = 65536, N = 64).
  // With B odd the last bucket is ranked twice.
  for (let b = 0; b < B; b += 2) {
    const b2 = Math.min(b + 1, B - 1);
    const part = bucketPart(bucketKeys[b]!);
    const part2 = bucketPart(bucketKeys[b2]!);
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
    ranking.hosts[b] = bestHost;
    ranking.raws[b] = bestRaw;
    ranking.hosts[b2] = bestHost2;
    ranking.raws[b2] = bestRaw2;
  }
  return ranking;
}

/** The best `depth` hosts other than `excluded` for each bucket of `buckets` (row i = buckets[i]). */
export function rankExcluding(table: ScoreTable, buckets: Int32Array, excluded: number, depth: number): Ranking {
  const n = table.names.length;
  const d = Math.min(depth, n - 1);
  const ranking: Ranking = { depth: d, hosts: new Int32Array(buckets.length * d), raws: new Uint32Array(buckets.length * d) };
  const scores = new Float64Array(buckets.length * d);
  for (let i = 0; i < buckets.length; i++) {
    const part = bucketPart(table.bucketKeys[buckets[i]!]!);
    let kept = 0;
    for (let h = 0; h < n; h++) {
      if (h === excluded) continue;
      kept = keepBest(table, ranking, scores, i * d, kept, d, h, finishPair(part, table.hostKeys[h]!));
    }
  }
  return ranking;
}

/**
 * Inserts host `h` with raw pair hash `raw` into the best-first run of `kept` entries at `at`
 * of `entries` that holds at most `limit`, if it belongs there; `scores` holds the entries'
 * scores at the same indices. Returns the run's new length. A host certainly below a full
 * run's last entry is turned away before its score (a logarithm, when weights differ) is taken.
 */
export function keepBest(table: ScoreTable, entries: Ranking, scores: Float64Array, at: number, kept: number, limit: number, h: number, raw: number): number {
  const { hosts, raws } = entries;
  const { uniform, weights } = table;
  const worst = at + limit - 1;
  if (kept === limit && !uniform && certainlyBelow(raw, weights[h]!, raws[worst]!, weights[hosts[worst]!]!)) return kept;
  const s = uniform ? raw : weightedScore(raw, weights[h]!);
  if (kept === limit && !beats(s, h, scores[worst]!, hosts[worst]!)) return kept;
  let i = kept < limit ? kept : limit - 1;
  while (i > 0 && beats(s, h, scores[at + i - 1]!, hosts[at + i - 1]!)) {
    scores[at + i] = scores[at + i - 1]!;
    hosts[at + i] = hosts[at + i - 1]!;
    raws[at + i] = raws[at + i - 1]!;
    i--;
  }
  scores[at + i] = s;
  hosts[at + i] = h;
  raws[at + i] = raw;
  return kept < limit ? kept + 1 : kept;
}
