/**
 * Each bucket's best few hosts in score order (`scores.ts`), computed once per rebuild. The
 * matchings serve nearly every proposal from here and scan for the rare deeper one, so the
 * B x N scores are never stored.
 *
 * This loop is most of a rebuild at B = 65536, N = 64, so it is built for speed:
 * - the bucket's half of each pair hash is computed once per bucket (`bucketPart`);
 * - a first pass keeps, without branching, only the hosts whose raw hash is above a per-host
 *   cut, set so that about FILTER_PASSING of them pass. The best three are among those unless
 *   fewer than three pass or (weights differing) a host left out could still have scored
 *   higher; then every host is ranked. The result is always the exact best three;
 * - logarithms (weighted scores) are taken for those few hosts only.
 */
import { bucketPart, finishPair } from '../hash/combine.ts';
import { beats, type ScoreTable, weightedScore } from './scores.ts';

export interface Ranking {
  depth: number;
  /** depth entries per bucket, best first. */
  hosts: Int32Array;
  scores: Float64Array;
}

const RANKING_DEPTH = 3;

/** With fewer hosts the filter saves nothing. */
const FILTER_FROM = 16;
const FILTER_PASSING = 8;

interface Filter {
  /** Per host: hashes above this (as signed 32-bit, see `signed`) pass. */
  cuts: Int32Array;
  /** The best weighted score a host that did not pass can have (read when weights differ). */
  bestLeftOut: number;
}

/** `x ^ 0x80000000` as a signed integer orders like the unsigned hash and stays in integer registers. */
function signed(raw: number): number {
  return (raw ^ 0x80000000) | 0;
}

function unsigned(value: number): number {
  return (value ^ 0x80000000) >>> 0;
}

export function rankHosts(table: ScoreTable): Ranking {
  const n = table.names.length;
  const d = Math.min(RANKING_DEPTH, n);
  const B = table.bucketKeys.length;
  const ranking: Ranking = { depth: d, hosts: new Int32Array(B * d), scores: new Float64Array(B * d) };
  const filter = n >= FILTER_FROM ? rankingFilter(table) : null;
  const { hostKeys, bucketKeys, uniform } = table;
  const candidates = new Int32Array(n);
  const values = new Int32Array(n);
  const scores = new Float64Array(n);
  for (let b = 0; b < B; b++) {
    const part = bucketPart(bucketKeys[b]!);
    let count = 0;
    if (filter !== null) {
      const { cuts } = filter;
      for (let h = 0; h < n; h++) {
        const v = signed(finishPair(part, hostKeys[h]!));
        candidates[count] = h;
        values[count] = v;
        count += +(v > cuts[h]!);
      }
    }
    for (let pass = 0; ; pass++) {
      if (count < d || pass > 0) {
        for (let h = 0; h < n; h++) {
          candidates[h] = h;
          values[h] = signed(finishPair(part, hostKeys[h]!));
        }
        count = n;
      }
      const at = b * d;
      if (uniform) {
        bestBySigned(candidates, values, count, d, ranking, at);
        break;
      }
      for (let k = 0; k < count; k++) scores[k] = weightedScore(unsigned(values[k]!), table.weights[candidates[k]!]!);
      bestByScore(candidates, scores, count, d, ranking, at);
      // Every host counted, or the last one kept beats anything a host left out could score.
      if (count === n || ranking.scores[at + d - 1]! > filter!.bestLeftOut) break;
    }
  }
  return ranking;
}

/**
 * Cuts for equal weights: the same for every host. For weights, the cut of host h is where its
 * score reaches one common threshold t, chosen so that about FILTER_PASSING hosts pass:
 * P(score > t) = 1 - e^(t w) for the logarithmic method.
 */
function rankingFilter(table: ScoreTable): Filter {
  const { weights } = table;
  const expectedPassing = (t: number) => weights.reduce((sum, w) => sum + 1 - Math.exp(t * w), 0);
  let low = -1;
  while (expectedPassing(low) < FILTER_PASSING) low *= 2;
  let high = 0;
  for (let i = 0; i < 60; i++) {
    const mid = (low + high) / 2;
    if (expectedPassing(mid) > FILTER_PASSING) low = mid;
    else high = mid;
  }
  const cuts = new Int32Array(weights.length);
  let bestLeftOut = -Infinity;
  weights.forEach((w, h) => {
    const raw = Math.min(4294967295, Math.max(0, Math.floor(Math.exp(high * w) * 4294967296)));
    cuts[h] = signed(raw);
    bestLeftOut = Math.max(bestLeftOut, weightedScore(raw, w));
  });
  return { cuts, bestLeftOut };
}

/** The best `d` of `count` candidates by signed raw hash, ties to the lower host index. */
function bestBySigned(candidates: Int32Array, values: Int32Array, count: number, d: number, ranking: Ranking, at: number): void {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let h0 = -1;
  let h1 = -1;
  let h2 = -1;
  let filled = 0;
  for (let k = 0; k < count; k++) {
    const v = values[k]!;
    // Candidates come in ascending host index, so an equal hash never displaces one kept.
    if (filled === 3 && v <= s2) continue;
    if (filled === 0 || v > s0) {
      s2 = s1;
      h2 = h1;
      s1 = s0;
      h1 = h0;
      s0 = v;
      h0 = candidates[k]!;
    } else if (filled === 1 || v > s1) {
      s2 = s1;
      h2 = h1;
      s1 = v;
      h1 = candidates[k]!;
    } else {
      s2 = v;
      h2 = candidates[k]!;
    }
    if (filled < 3) filled++;
  }
  ranking.hosts[at] = h0;
  ranking.scores[at] = unsigned(s0);
  if (d > 1) {
    ranking.hosts[at + 1] = h1;
    ranking.scores[at + 1] = unsigned(s1);
  }
  if (d > 2) {
    ranking.hosts[at + 2] = h2;
    ranking.scores[at + 2] = unsigned(s2);
  }
}

/** The best `d` of `count` candidates by weighted score (insertion into the ranking row). */
function bestByScore(candidates: Int32Array, scores: Float64Array, count: number, d: number, ranking: Ranking, at: number): void {
  let filled = 0;
  for (let k = 0; k < count; k++) {
    const h = candidates[k]!;
    const s = scores[k]!;
    if (filled === d && !beats(s, h, ranking.scores[at + d - 1]!, ranking.hosts[at + d - 1]!)) continue;
    let i = filled < d ? filled++ : d - 1;
    while (i > 0 && beats(s, h, ranking.scores[at + i - 1]!, ranking.hosts[at + i - 1]!)) {
      ranking.scores[at + i] = ranking.scores[at + i - 1]!;
      ranking.hosts[at + i] = ranking.hosts[at + i - 1]!;
      i--;
    }
    ranking.scores[at + i] = s;
    ranking.hosts[at + i] = h;
  }
}
