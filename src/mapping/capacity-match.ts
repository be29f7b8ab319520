/**
 * Capacity-bounded stable matching of buckets to hosts (deferred acceptance, buckets
 * proposing). Buckets rank hosts by rendezvous score and hosts rank buckets by the same score,
 * so the result is the unique stable matching: independent of processing order, and each bucket
 * gets the best host it can under the capacities.
 */
import { bucketPart, finishPair } from '../hash/combine.ts';
import { type ScoreTable, weightedScore } from './scores.ts';

/** `a` beats `b`: higher score, then the lower index (a total order, so no ties). */
export function beats(scoreA: number, indexA: number, scoreB: number, indexB: number): boolean {
  return scoreA > scoreB || (scoreA === scoreB && indexA < indexB);
}

/**
 * Each bucket's best hosts (at most `RANKING_DEPTH`), best first, in `scores.ts` order. Nearly
 * every proposal is served from here; deeper ones fall back to a scan. The B x N scores are
 * computed once and never stored.
 */
export interface Ranking {
  depth: number;
  hosts: Int32Array;
  scores: Float64Array;
}

export const RANKING_DEPTH = 3;

/**
 * This loop is the whole cost of a rebuild at B = 65536, N = 64, so the score is split: the
 * bucket's half of the hash once per bucket, and for weighted universes the logarithm only for
 * the few hosts that can still make the top: among hosts of equal weight the raw hash already
 * gives the order, so each weight class keeps its best three by raw hash and the classes are
 * merged by the weighted score.
 */
export function rankHosts(table: ScoreTable): Ranking {
  const d = Math.min(RANKING_DEPTH, table.names.length);
  const B = table.bucketKeys.length;
  const ranking: Ranking = { depth: d, hosts: new Int32Array(B * d), scores: new Float64Array(B * d) };
  const classes = weightClasses(table.weights);
  const C = classes.length;
  const rowHosts = new Int32Array(C * RANKING_DEPTH);
  const rowRaw = new Float64Array(C * RANKING_DEPTH);
  const head = new Int32Array(C);
  const headScore = new Float64Array(C);
  const { hostKeys, bucketKeys } = table;
  for (let b = 0; b < B; b++) {
    const part = bucketPart(bucketKeys[b]!);
    for (let c = 0; c < C; c++) bestThreeByRaw(part, hostKeys, classes[c]!.hosts, rowHosts, rowRaw, c * RANKING_DEPTH);
    if (table.uniform) {
      for (let k = 0; k < d; k++) {
        ranking.hosts[b * d + k] = rowHosts[k]!;
        ranking.scores[b * d + k] = rowRaw[k]!;
      }
      continue;
    }
    for (let c = 0; c < C; c++) {
      head[c] = 0;
      headScore[c] = weightedScore(rowRaw[c * RANKING_DEPTH]!, classes[c]!.weight);
    }
    for (let k = 0; k < d; k++) {
      let best = -1;
      for (let c = 0; c < C; c++) {
        if (head[c]! >= classes[c]!.top) continue;
        if (best === -1 || beats(headScore[c]!, rowHosts[c * RANKING_DEPTH + head[c]!]!, headScore[best]!, rowHosts[best * RANKING_DEPTH + head[best]!]!)) best = c;
      }
      const at = best * RANKING_DEPTH + head[best]!;
      ranking.hosts[b * d + k] = rowHosts[at]!;
      ranking.scores[b * d + k] = headScore[best]!;
      head[best]! += 1;
      if (head[best]! < classes[best]!.top) headScore[best] = weightedScore(rowRaw[at + 1]!, classes[best]!.weight);
    }
  }
  return ranking;
}

interface WeightClass {
  weight: number;
  /** Host indices in ascending order, so an equal hash keeps the lower index first. */
  hosts: Int32Array;
  /** How many of them a bucket's row holds. */
  top: number;
}

function weightClasses(weights: Float64Array): WeightClass[] {
  const byWeight = new Map<number, number[]>();
  weights.forEach((w, h) => {
    const members = byWeight.get(w);
    if (members) members.push(h);
    else byWeight.set(w, [h]);
  });
  return [...byWeight].map(([weight, hosts]) => ({ weight, hosts: Int32Array.from(hosts), top: Math.min(RANKING_DEPTH, hosts.length) }));
}

/**
 * Writes the best three of `members` by raw hash at `at`, best first. Kept in locals, not in
 * the row, because this is the innermost loop of a rebuild.
 */
function bestThreeByRaw(part: number, hostKeys: Uint32Array, members: Int32Array, rowHosts: Int32Array, rowRaw: Float64Array, at: number): void {
  let s0 = -1;
  let s1 = -1;
  let s2 = -1;
  let h0 = -1;
  let h1 = -1;
  let h2 = -1;
  for (let m = 0; m < members.length; m++) {
    const h = members[m]!;
    const u = finishPair(part, hostKeys[h]!);
    // Members come in ascending index, so an equal hash never displaces one already kept.
    if (u <= s2) continue;
    if (u > s0) {
      s2 = s1;
      h2 = h1;
      s1 = s0;
      h1 = h0;
      s0 = u;
      h0 = h;
    } else if (u > s1) {
      s2 = s1;
      h2 = h1;
      s1 = u;
      h1 = h;
    } else {
      s2 = u;
      h2 = h;
    }
  }
  rowHosts[at] = h0;
  rowHosts[at + 1] = h1;
  rowHosts[at + 2] = h2;
  rowRaw[at] = s0;
  rowRaw[at + 1] = s1;
  rowRaw[at + 2] = s2;
}

/**
 * Assigns each of `buckets` a host, honouring `capacity` (its sum must cover the buckets) and
 * never giving any of them host `excluded` (-1: none). Returns the host per bucket, by position.
 */
export function matchWithCapacities(table: ScoreTable, ranking: Ranking, buckets: ArrayLike<number>, excluded: number, capacity: Int32Array): Int32Array {
  const count = buckets.length;
  const assigned = new Int32Array(count).fill(-1);
  const candidates = new Candidates(table, ranking, buckets, excluded, capacity);
  const heaps = new HostHeaps(capacity, buckets);
  const free = new Int32Array(count);
  let freeCount = 0;
  for (let i = count - 1; i >= 0; i--) free[freeCount++] = i;

  while (freeCount > 0) {
    const item = free[--freeCount]!;
    candidates.next(item);
    const turnedAway = heaps.offer(candidates.host, item, candidates.score);
    if (turnedAway === item) {
      free[freeCount++] = item;
      continue;
    }
    assigned[item] = candidates.host;
    if (turnedAway !== -1) {
      assigned[turnedAway] = -1;
      free[freeCount++] = turnedAway;
    }
  }
  return assigned;
}

/** Hosts a scan past the ranking collects at once, so a bucket turned away again rarely rescans. */
const SCAN_BATCH = 8;

/**
 * Each item's hosts in proposal order, skipping the excluded host and hosts without capacity:
 * first its ranking, then batches found by scanning every host for the best ones below the
 * last proposed.
 */
class Candidates {
  /** The result of `next`. */
  host = -1;
  score = 0;
  private readonly position: Int32Array;
  /** Where the item's current batch starts in the slab; -1 while it is still in its ranking. */
  private readonly batchAt: Int32Array;
  private readonly batchLength: Int32Array;
  private readonly lastHost: Int32Array;
  private readonly lastScore: Float64Array;
  private slabHosts: Int32Array;
  private slabScores: Float64Array;
  private slabUsed = 0;

  private readonly table: ScoreTable;
  private readonly ranking: Ranking;
  private readonly buckets: ArrayLike<number>;
  private readonly excluded: number;
  private readonly capacity: Int32Array;

  constructor(table: ScoreTable, ranking: Ranking, buckets: ArrayLike<number>, excluded: number, capacity: Int32Array) {
    this.table = table;
    this.ranking = ranking;
    this.buckets = buckets;
    this.excluded = excluded;
    this.capacity = capacity;
    const count = buckets.length;
    // About one bucket in ten runs past its ranking; the slab grows if more do.
    this.slabHosts = new Int32Array(SCAN_BATCH * (16 + (count >> 3)));
    this.slabScores = new Float64Array(this.slabHosts.length);
    this.position = new Int32Array(count);
    this.batchAt = new Int32Array(count).fill(-1);
    this.batchLength = new Int32Array(count);
    this.lastHost = new Int32Array(count).fill(-1);
    this.lastScore = new Float64Array(count);
  }

  next(item: number): void {
    const { depth } = this.ranking;
    const base = this.buckets[item]! * depth;
    while (this.batchAt[item] === -1 && this.position[item]! < depth) {
      const h = this.ranking.hosts[base + this.position[item]!]!;
      const s = this.ranking.scores[base + this.position[item]!]!;
      this.position[item]! += 1;
      if (this.offerable(item, h, s)) return;
    }
    for (;;) {
      if (this.batchAt[item] === -1 || this.position[item]! >= this.batchLength[item]!) this.scan(item);
      const at = this.batchAt[item]! + this.position[item]!;
      this.position[item]! += 1;
      if (this.offerable(item, this.slabHosts[at]!, this.slabScores[at]!)) return;
    }
  }

  private offerable(item: number, h: number, s: number): boolean {
    this.lastHost[item] = h;
    this.lastScore[item] = s;
    if (h === this.excluded || this.capacity[h]! === 0) return false;
    this.host = h;
    this.score = s;
    return true;
  }

  /** The best SCAN_BATCH eligible hosts below the item's last one become its new batch. */
  private scan(item: number): void {
    const { table } = this;
    const bucket = this.buckets[item]!;
    const part = bucketPart(table.bucketKeys[bucket]!);
    if (this.slabUsed + SCAN_BATCH > this.slabHosts.length) this.growSlab();
    const at = this.slabUsed;
    let found = 0;
    for (let h = 0; h < table.hostKeys.length; h++) {
      if (h === this.excluded || this.capacity[h] === 0) continue;
      const u = finishPair(part, table.hostKeys[h]!);
      const s = table.uniform ? u : weightedScore(u, table.weights[h]!);
      if (!beats(this.lastScore[item]!, this.lastHost[item]!, s, h)) continue;
      if (found === SCAN_BATCH && !beats(s, h, this.slabScores[at + found - 1]!, this.slabHosts[at + found - 1]!)) continue;
      let i = found < SCAN_BATCH ? found++ : found - 1;
      while (i > 0 && beats(s, h, this.slabScores[at + i - 1]!, this.slabHosts[at + i - 1]!)) {
        this.slabScores[at + i] = this.slabScores[at + i - 1]!;
        this.slabHosts[at + i] = this.slabHosts[at + i - 1]!;
        i--;
      }
      this.slabScores[at + i] = s;
      this.slabHosts[at + i] = h;
    }
    if (found === 0) throw new Error(`capacity-match: no host has room for bucket ${bucket}`);
    this.slabUsed += found;
    this.batchAt[item] = at;
    this.batchLength[item] = found;
    this.position[item] = 0;
  }

  private growSlab(): void {
    const hosts = new Int32Array(this.slabHosts.length * 2);
    hosts.set(this.slabHosts);
    this.slabHosts = hosts;
    const scores = new Float64Array(this.slabScores.length * 2);
    scores.set(this.slabScores);
    this.slabScores = scores;
  }
}

/**
 * Per host, the items it holds as a min-heap (root = weakest by score, then bucket), all in
 * one slab sized by the capacities.
 */
class HostHeaps {
  private readonly start: Int32Array;
  private readonly size: Int32Array;
  private readonly capacity: Int32Array;
  private readonly items: Int32Array;
  private readonly scores: Float64Array;
  private readonly buckets: ArrayLike<number>;

  constructor(capacity: Int32Array, buckets: ArrayLike<number>) {
    this.capacity = capacity;
    this.buckets = buckets;
    this.start = new Int32Array(capacity.length + 1);
    for (let h = 0; h < capacity.length; h++) this.start[h + 1] = this.start[h]! + capacity[h]!;
    this.size = new Int32Array(capacity.length);
    this.items = new Int32Array(this.start[capacity.length]!);
    this.scores = new Float64Array(this.start[capacity.length]!);
  }

  /** Host `h` considers `item`: returns the item it turns away (possibly `item`), or -1. */
  offer(h: number, item: number, itemScore: number): number {
    const at = this.start[h]!;
    const size = this.size[h]!;
    if (size < this.capacity[h]!) {
      this.size[h] = size + 1;
      this.siftUp(at, size, item, itemScore);
      return -1;
    }
    const weakest = this.items[at]!;
    if (!beats(itemScore, this.buckets[item]!, this.scores[at]!, this.buckets[weakest]!)) return item;
    this.siftDown(at, size, item, itemScore);
    return weakest;
  }

  /** Bucket of slab entry `j` and its score, against `item` with `itemScore`: is `j` weaker? */
  private entryWeaker(j: number, itemScore: number, item: number): boolean {
    return beats(itemScore, this.buckets[item]!, this.scores[j]!, this.buckets[this.items[j]!]!);
  }

  private siftUp(at: number, index: number, item: number, itemScore: number): void {
    let i = index;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.entryWeaker(at + parent, itemScore, item)) break;
      this.items[at + i] = this.items[at + parent]!;
      this.scores[at + i] = this.scores[at + parent]!;
      i = parent;
    }
    this.items[at + i] = item;
    this.scores[at + i] = itemScore;
  }

  /** Replaces the root with `item` and restores the heap. */
  private siftDown(at: number, size: number, item: number, itemScore: number): void {
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= size) break;
      let m = l;
      const r = l + 1;
      if (r < size && this.entryWeaker(at + r, this.scores[at + l]!, this.items[at + l]!)) m = r;
      if (!this.entryWeaker(at + m, itemScore, item)) break;
      this.items[at + i] = this.items[at + m]!;
      this.scores[at + i] = this.scores[at + m]!;
      i = m;
    }
    this.items[at + i] = item;
    this.scores[at + i] = itemScore;
  }
}
