/**
 * Capacity-bounded stable matching of buckets to hosts (deferred acceptance, buckets
 * proposing). Buckets rank hosts by rendezvous score and hosts rank buckets by the same score,
 * so the result is the unique stable matching: independent of processing order, and each bucket
 * gets the best host it can under the capacities.
 */
import { bucketPart, finishPair } from '../hash/combine.ts';
import type { Ranking } from './ranking.ts';
import { beats, type ScoreTable, weightedScore } from './scores.ts';

/**
 * Runs one matching per group in a single pass: bucket b belongs to group `groupOf[b]` (all to
 * group 0 when `groupOf` is null) and may take host h only while the group's capacity
 * `capacity[group * n + h]` has room; with `groupOf` the group is a host, which its buckets may
 * not take (second choices: the group is the bucket's first choice). Groups share nothing, so
 * the result equals separate matchings, while buckets are visited in order.
 * Returns the host per bucket.
 */
export function matchWithCapacities(table: ScoreTable, ranking: Ranking, groupOf: Int32Array | null, capacity: Int32Array): Int32Array {
  const B = table.bucketKeys.length;
  const assigned = new Int32Array(B).fill(-1);
  const candidates = new Candidates(table, ranking, groupOf, capacity);
  const heaps = new HostHeaps(capacity);
  const n = table.names.length;
  const free = new Int32Array(B);
  let freeCount = 0;
  for (let b = B - 1; b >= 0; b--) free[freeCount++] = b;

  while (freeCount > 0) {
    const bucket = free[--freeCount]!;
    candidates.next(bucket);
    const slot = (groupOf === null ? 0 : groupOf[bucket]! * n) + candidates.host;
    const turnedAway = heaps.offer(slot, bucket, candidates.score);
    if (turnedAway === bucket) {
      free[freeCount++] = bucket;
      continue;
    }
    assigned[bucket] = candidates.host;
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
 * Each bucket's hosts in proposal order, skipping its excluded host and hosts its group has no
 * capacity on: first its ranking, then batches found by scanning every host for the best ones
 * below the last proposed.
 */
class Candidates {
  /** The result of `next`, in fields so the proposal loop allocates nothing. */
  host = -1;
  score = 0;
  private readonly table: ScoreTable;
  private readonly ranking: Ranking;
  private readonly groupOf: Int32Array | null;
  private readonly capacity: Int32Array;
  private readonly position: Int32Array;
  /** Where the bucket's current batch starts in the slab; -1 while it is still in its ranking. */
  private readonly batchAt: Int32Array;
  private readonly batchLength: Int32Array;
  private readonly lastHost: Int32Array;
  private readonly lastScore: Float64Array;
  private slabHosts: Int32Array;
  private slabScores: Float64Array;
  private slabUsed = 0;

  constructor(table: ScoreTable, ranking: Ranking, groupOf: Int32Array | null, capacity: Int32Array) {
    this.table = table;
    this.ranking = ranking;
    this.groupOf = groupOf;
    this.capacity = capacity;
    const B = table.bucketKeys.length;
    // About one bucket in ten runs past its ranking; the slab grows if more do.
    this.slabHosts = new Int32Array(SCAN_BATCH * (16 + (B >> 3)));
    this.slabScores = new Float64Array(this.slabHosts.length);
    this.position = new Int32Array(B);
    this.batchAt = new Int32Array(B).fill(-1);
    this.batchLength = new Int32Array(B);
    this.lastHost = new Int32Array(B).fill(-1);
    this.lastScore = new Float64Array(B);
  }

  next(bucket: number): void {
    const { depth } = this.ranking;
    const base = bucket * depth;
    while (this.batchAt[bucket] === -1 && this.position[bucket]! < depth) {
      const h = this.ranking.hosts[base + this.position[bucket]!]!;
      const s = this.ranking.scores[base + this.position[bucket]!]!;
      this.position[bucket]! += 1;
      if (this.offerable(bucket, h, s)) return;
    }
    for (;;) {
      if (this.batchAt[bucket] === -1 || this.position[bucket]! >= this.batchLength[bucket]!) this.scan(bucket);
      const at = this.batchAt[bucket]! + this.position[bucket]!;
      this.position[bucket]! += 1;
      if (this.offerable(bucket, this.slabHosts[at]!, this.slabScores[at]!)) return;
    }
  }

  private eligible(bucket: number, h: number): boolean {
    if (this.groupOf === null) return this.capacity[h]! > 0;
    const group = this.groupOf[bucket]!;
    return h !== group && this.capacity[group * this.table.names.length + h]! > 0;
  }

  private offerable(bucket: number, h: number, s: number): boolean {
    this.lastHost[bucket] = h;
    this.lastScore[bucket] = s;
    if (!this.eligible(bucket, h)) return false;
    this.host = h;
    this.score = s;
    return true;
  }

  /** The best SCAN_BATCH eligible hosts below the bucket's last one become its new batch. */
  private scan(bucket: number): void {
    const { hostKeys, weights, uniform } = this.table;
    const n = this.table.names.length;
    const group = this.groupOf === null ? -1 : this.groupOf[bucket]!;
    const capacityAt = group < 0 ? 0 : group * n;
    const lastScore = this.lastScore[bucket]!;
    const lastHost = this.lastHost[bucket]!;
    const part = bucketPart(this.table.bucketKeys[bucket]!);
    if (this.slabUsed + SCAN_BATCH > this.slabHosts.length) this.growSlab();
    const { slabHosts, slabScores, capacity } = this;
    const at = this.slabUsed;
    let found = 0;
    for (let h = 0; h < n; h++) {
      if (h === group || capacity[capacityAt + h] === 0) continue;
      const u = finishPair(part, hostKeys[h]!);
      const s = uniform ? u : weightedScore(u, weights[h]!);
      // Only hosts ranked below the last one proposed to.
      if (!beats(lastScore, lastHost, s, h)) continue;
      if (found === SCAN_BATCH && !beats(s, h, slabScores[at + found - 1]!, slabHosts[at + found - 1]!)) continue;
      let i = found < SCAN_BATCH ? found++ : found - 1;
      while (i > 0 && beats(s, h, slabScores[at + i - 1]!, slabHosts[at + i - 1]!)) {
        slabScores[at + i] = slabScores[at + i - 1]!;
        slabHosts[at + i] = slabHosts[at + i - 1]!;
        i--;
      }
      slabScores[at + i] = s;
      slabHosts[at + i] = h;
    }
    if (found === 0) throw new Error(`capacity-match: no host has room for bucket ${bucket}`);
    this.slabUsed += found;
    this.batchAt[bucket] = at;
    this.batchLength[bucket] = found;
    this.position[bucket] = 0;
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
 * Per slot (a host, or a group's host), the buckets it holds as a min-heap (root = weakest by
 * score, then bucket), all in one slab sized by the capacities.
 */
class HostHeaps {
  private readonly start: Int32Array;
  private readonly size: Int32Array;
  private readonly capacity: Int32Array;
  private readonly buckets: Int32Array;
  private readonly scores: Float64Array;

  constructor(capacity: Int32Array) {
    this.capacity = capacity;
    this.start = new Int32Array(capacity.length + 1);
    for (let h = 0; h < capacity.length; h++) this.start[h + 1] = this.start[h]! + capacity[h]!;
    this.size = new Int32Array(capacity.length);
    this.buckets = new Int32Array(this.start[capacity.length]!);
    this.scores = new Float64Array(this.start[capacity.length]!);
  }

  /** Slot `slot` considers `bucket`: returns the bucket it turns away (possibly `bucket`), or -1. */
  offer(slot: number, bucket: number, bucketScore: number): number {
    const at = this.start[slot]!;
    const size = this.size[slot]!;
    if (size < this.capacity[slot]!) {
      this.size[slot] = size + 1;
      this.siftUp(at, size, bucket, bucketScore);
      return -1;
    }
    const weakest = this.buckets[at]!;
    if (!beats(bucketScore, bucket, this.scores[at]!, weakest)) return bucket;
    this.siftDown(at, size, bucket, bucketScore);
    return weakest;
  }

  /** Is the entry at slab index `j` weaker than `bucket` with `bucketScore`? */
  private entryWeaker(j: number, bucketScore: number, bucket: number): boolean {
    return beats(bucketScore, bucket, this.scores[j]!, this.buckets[j]!);
  }

  private siftUp(at: number, index: number, bucket: number, bucketScore: number): void {
    let i = index;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.entryWeaker(at + parent, bucketScore, bucket)) break;
      this.buckets[at + i] = this.buckets[at + parent]!;
      this.scores[at + i] = this.scores[at + parent]!;
      i = parent;
    }
    this.buckets[at + i] = bucket;
    this.scores[at + i] = bucketScore;
  }

  /** Replaces the root with `bucket` and restores the heap. */
  private siftDown(at: number, size: number, bucket: number, bucketScore: number): void {
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= size) break;
      let m = l;
      const r = l + 1;
      if (r < size && this.entryWeaker(at + r, this.scores[at + l]!, this.buckets[at + l]!)) m = r;
      if (!this.entryWeaker(at + m, bucketScore, bucket)) break;
      this.buckets[at + i] = this.buckets[at + m]!;
      this.scores[at + i] = this.scores[at + m]!;
      i = m;
    }
    this.buckets[at + i] = bucket;
    this.scores[at + i] = bucketScore;
  }
}
