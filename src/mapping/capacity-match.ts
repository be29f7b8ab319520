/**
 * Capacity-bounded stable matching of buckets to hosts (deferred acceptance, buckets
 * proposing). Buckets rank hosts by rendezvous score and hosts rank buckets by the same score,
 * so the result is the unique stable matching: independent of processing order, and each bucket
 * gets the best host it can under the capacities.
 */
import { score, type ScoreTable } from './scores.ts';

/** `a` beats `b`: higher score, then the lower index (a total order, so no ties). */
function beats(scoreA: number, indexA: number, scoreB: number, indexB: number): boolean {
  return scoreA > scoreB || (scoreA === scoreB && indexA < indexB);
}

/**
 * Assigns each of `buckets` a host, honouring `capacity` (sum must cover the buckets). Hosts in
 * `excluded` (per bucket, -1 for none) and with zero capacity are never chosen.
 */
export function matchWithCapacities(
  table: ScoreTable,
  buckets: ArrayLike<number>,
  excluded: ArrayLike<number> | null,
  capacity: Int32Array,
): Int32Array {
  const n = table.names.length;
  const count = buckets.length;
  const assigned = new Int32Array(count).fill(-1);
  // The last host each bucket proposed to, and its score there: proposals walk down the ranking.
  const lastHost = new Int32Array(count).fill(-1);
  const lastScore = new Float64Array(count).fill(Infinity);
  // Per host, the buckets it holds as a min-heap on (score, -bucket): the root is the weakest.
  const heaps: number[][] = Array.from({ length: n }, () => []);
  const heapScores: number[][] = Array.from({ length: n }, () => []);
  const free: number[] = [];
  for (let i = count - 1; i >= 0; i--) free.push(i);

  const weaker = (h: number, x: number, y: number): boolean => {
    const s = heapScores[h]!;
    const hp = heaps[h]!;
    return beats(s[y]!, buckets[hp[y]!]!, s[x]!, buckets[hp[x]!]!);
  };
  const swap = (h: number, x: number, y: number) => {
    const hp = heaps[h]!;
    const s = heapScores[h]!;
    [hp[x], hp[y]] = [hp[y]!, hp[x]!];
    [s[x], s[y]] = [s[y]!, s[x]!];
  };
  const push = (h: number, item: number, itemScore: number) => {
    const hp = heaps[h]!;
    hp.push(item);
    heapScores[h]!.push(itemScore);
    for (let i = hp.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (!weaker(h, i, parent)) break;
      swap(h, i, parent);
      i = parent;
    }
  };
  const replaceRoot = (h: number, item: number, itemScore: number): number => {
    const hp = heaps[h]!;
    const out = hp[0]!;
    hp[0] = item;
    heapScores[h]![0] = itemScore;
    for (let i = 0; ; ) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < hp.length && weaker(h, l, m)) m = l;
      if (r < hp.length && weaker(h, r, m)) m = r;
      if (m === i) break;
      swap(h, i, m);
      i = m;
    }
    return out;
  };

  while (free.length > 0) {
    const item = free.pop()!;
    const bucket = buckets[item]!;
    const skip = excluded ? excluded[item]! : -1;
    let best = -1;
    let bestScore = -Infinity;
    for (let h = 0; h < n; h++) {
      if (h === skip || capacity[h] === 0) continue;
      const s = score(table, bucket, h);
      // Only hosts ranked below the last proposal are still open to this bucket.
      if (lastHost[item] !== -1 && !beats(lastScore[item]!, lastHost[item]!, s, h)) continue;
      if (best === -1 || beats(s, h, bestScore, best)) {
        best = h;
        bestScore = s;
      }
    }
    if (best === -1) throw new Error(`capacity-match: no host left for bucket ${bucket}`);
    lastHost[item] = best;
    lastScore[item] = bestScore;
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
