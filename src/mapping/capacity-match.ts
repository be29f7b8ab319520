/**
 * Capacity-bounded stable matching of buckets to hosts (deferred acceptance, buckets
 * proposing). Buckets rank hosts by rendezvous score and hosts rank buckets by the same score,
 * so the result is the unique stable matching: independent of processing order, and each bucket
 * gets the best host it can under the capacities.
 */
import { combine } from '../hash/combine.ts';
import { score, type ScoreTable } from './scores.ts';

/** `a` beats `b`: higher score, then the lower index (a total order, so no ties). */
export function beats(scoreA: number, indexA: number, scoreB: number, indexB: number): boolean {
  return scoreA > scoreB || (scoreA === scoreB && indexA < indexB);
}

/**
 * Each bucket's best `depth` hosts, best first (the score of scores.ts, inlined here because
 * this loop is the whole cost of a rebuild). Nearly every proposal is served from here, so
 * the full B x N score matrix is computed once and never stored.
 */
export interface Ranking {
  depth: number;
  hosts: Int32Array;
  scores: Float64Array;
}

export function rankHosts(table: ScoreTable, depth: number): Ranking {
  const n = table.names.length;
  const d = Math.min(depth, n);
  const B = table.bucketKeys.length;
  const hosts = new Int32Array(B * d);
  const scores = new Float64Array(B * d);
  const rowHosts = new Int32Array(d);
  const rowScores = new Float64Array(d);
  const { hostKeys, bucketKeys, weights, uniform } = table;
  for (let b = 0; b < B; b++) {
    const key = bucketKeys[b]!;
    let filled = 0;
    let threshold = -Infinity;
    for (let h = 0; h < n; h++) {
      const u = combine(key, hostKeys[h]!);
      const s = uniform ? u : Math.log((u + 0.5) / 4294967296) / weights[h]!;
      // Hosts are visited in index order, so an equal score never beats one already kept.
      if (filled === d && !(s > threshold)) continue;
      let i = filled < d ? filled++ : d - 1;
      while (i > 0 && s > rowScores[i - 1]!) {
        rowScores[i] = rowScores[i - 1]!;
        rowHosts[i] = rowHosts[i - 1]!;
        i--;
      }
      rowScores[i] = s;
      rowHosts[i] = h;
      if (filled === d) threshold = rowScores[d - 1]!;
    }
    scores.set(rowScores, b * d);
    hosts.set(rowHosts, b * d);
  }
  return { depth: d, hosts, scores };
}

/**
 * Assigns each of `buckets` a host, honouring `capacity` (its sum must cover the buckets).
 * `excluded[i]` (or -1) is a host bucket i must not get; hosts with no capacity are skipped.
 */
export function matchWithCapacities(
  table: ScoreTable,
  ranking: Ranking,
  buckets: ArrayLike<number>,
  excluded: ArrayLike<number> | null,
  capacity: Int32Array,
): Int32Array {
  const n = table.names.length;
  const { depth } = ranking;
  const count = buckets.length;
  const assigned = new Int32Array(count).fill(-1);
  // Where each bucket is in its ranking, and past the ranking the last host it proposed to.
  const position = new Int32Array(count);
  const lastHost = new Int32Array(count).fill(-1);
  const lastScore = new Float64Array(count);
  // Per host, the buckets it holds as a heap whose root is the weakest.
  const heaps: number[][] = Array.from({ length: n }, () => []);
  const heapScores: number[][] = Array.from({ length: n }, () => []);
  const free: number[] = [];
  for (let i = count - 1; i >= 0; i--) free.push(i);

  const weaker = (hp: number[], hs: number[], x: number, y: number): boolean =>
    beats(hs[y]!, buckets[hp[y]!]!, hs[x]!, buckets[hp[x]!]!);
  const swap = (hp: number[], hs: number[], x: number, y: number) => {
    const item = hp[x]!;
    hp[x] = hp[y]!;
    hp[y] = item;
    const s = hs[x]!;
    hs[x] = hs[y]!;
    hs[y] = s;
  };
  const push = (h: number, item: number, itemScore: number) => {
    const hp = heaps[h]!;
    const hs = heapScores[h]!;
    hp.push(item);
    hs.push(itemScore);
    for (let i = hp.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (!weaker(hp, hs, i, parent)) break;
      swap(hp, hs, i, parent);
      i = parent;
    }
  };
  const replaceRoot = (h: number, item: number, itemScore: number): void => {
    const hp = heaps[h]!;
    const hs = heapScores[h]!;
    hp[0] = item;
    hs[0] = itemScore;
    for (let i = 0; ; ) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < hp.length && weaker(hp, hs, l, m)) m = l;
      if (r < hp.length && weaker(hp, hs, r, m)) m = r;
      if (m === i) break;
      swap(hp, hs, i, m);
      i = m;
    }
  };

  while (free.length > 0) {
    const item = free.pop()!;
    const bucket = buckets[item]!;
    const skip = excluded ? excluded[item]! : -1;
    let best = -1;
    let bestScore = 0;
    const base = bucket * depth;
    while (position[item]! < depth) {
      const h = ranking.hosts[base + position[item]!]!;
      const s = ranking.scores[base + position[item]!]!;
      position[item]! += 1;
      lastHost[item] = h;
      lastScore[item] = s;
      if (h !== skip && capacity[h]! > 0) {
        best = h;
        bestScore = s;
        break;
      }
    }
    if (best === -1) {
      // Past the ranking: scan every host ranked below the last one proposed to.
      for (let h = 0; h < n; h++) {
        if (h === skip || capacity[h] === 0) continue;
        const s = score(table, bucket, h);
        if (!beats(lastScore[item]!, lastHost[item]!, s, h)) continue;
        if (best === -1 || beats(s, h, bestScore, best)) {
          best = h;
          bestScore = s;
        }
      }
      if (best === -1) throw new Error(`capacity-match: no host has room for bucket ${bucket}`);
      lastHost[item] = best;
      lastScore[item] = bestScore;
      position[item] = depth;
    }
    const held = heaps[best]!;
    if (held.length < capacity[best]!) {
      push(best, item, bestScore);
      assigned[item] = best;
      continue;
    }
    const weakest = held[0]!;
    if (beats(bestScore, bucket, heapScores[best]![0]!, buckets[weakest]!)) {
      replaceRoot(best, item, bestScore);
      assigned[item] = best;
      assigned[weakest] = -1;
      free.push(weakest);
    } else {
      free.push(item);
    }
  }
  return assigned;
}
