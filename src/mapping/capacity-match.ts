/**
 * Capacity-bounded stable matching of buckets to hosts (deferred acceptance, buckets
 * proposing). Buckets rank hosts by rendezvous score and hosts rank buckets by the same score,
 * so the result is the unique stable matching: independent of processing order, and each bucket
 * gets the best host it can under the capacities.
 */
import { bucketPart, finishPair } from '../hash/combine.ts';
import { keepBest, type Ranking } from './ranking.ts';
import { beats, type ScoreTable, weightedScore } from './scores.ts';

/**
 * One matching: the buckets of `buckets` (ascending) may take any host but `excluded` (-1 for
 * none), host h at most `capacity[h]` of them, ranked first by `ranking` (row i = buckets[i]).
 * Returns the host per row.
 */
export function matchWithCapacities(table: ScoreTable, buckets: Int32Array, excluded: number, capacity: Int32Array, ranking: Ranking): Int32Array {
  const m = buckets.length;
  const assigned = new Int32Array(m).fill(-1);
  const candidates = new Candidates(table, buckets, excluded, capacity, ranking);
  const heaps = new HostHeaps(capacity);
  const free = new Int32Array(m);
  let freeCount = 0;
  for (let i = m - 1; i >= 0; i--) free[freeCount++] = i;

  while (freeCount > 0) {
    const row = free[--freeCount]!;
    candidates.next(row);
    // Rows are in bucket order, so the heaps' tie-break on the row is the one on the bucket.
    const turnedAway = heaps.offer(candidates.host, row, candidates.score);
    if (turnedAway === row) {
      free[freeCount++] = row;
      continue;
    }
    assigned[row] = candidates.host;
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
 * Each row's hosts in proposal order, skipping the excluded host and hosts without capacity:
 * first its ranking, then batches found by scanning every host for the best ones below the
 * last proposed.
 */
class Candidates {
  /** The result of `next`, in fields so the proposal loop allocates nothing. */
  host = -1;
  score = 0;
  private readonly table: ScoreTable;
  private readonly buckets: Int32Array;
  private readonly excluded: number;
  private readonly capacity: Int32Array;
  private readonly ranking: Ranking;
  private readonly position: Int32Array;
  /** Where the row's current batch starts in the slab; -1 while it is still in its ranking. */
  private readonly batchAt: Int32Array;
  private readonly batchLength: Int32Array;
  private readonly lastHost: Int32Array;
  private readonly lastScore: Float64Array;
  private slabHosts: Int32Array;
  private slabScores: Float64Array;
  private slabUsed = 0;

  constructor(table: ScoreTable, buckets: Int32Array, excluded: number, capacity: Int32Array, ranking: Ranking) {
    this.table = table;
    this.buckets = buckets;
    this.excluded = excluded;
    this.capacity = capacity;
    this.ranking = ranking;
    const m = buckets.length;
    // About one row in ten runs past its ranking; the slab grows if more do.
    this.slabHosts = new Int32Array(SCAN_BATCH * (16 + (m >> 3)));
    this.slabScores = new Float64Array(this.slabHosts.length);
    this.position = new Int32Array(m);
    this.batchAt = new Int32Array(m).fill(-1);
    this.batchLength = new Int32Array(m);
    this.lastHost = new Int32Array(m).fill(-1);
    this.lastScore = new Float64Array(m);
  }

  next(row: number): void {
    const { depth } = this.ranking;
    const base = row * depth;
    while (this.batchAt[row] === -1 && this.position[row]! < depth) {
      const h = this.ranking.hosts[base + this.position[row]!]!;
      const s = this.ranking.scores[base + this.position[row]!]!;
      this.position[row]! += 1;
      if (this.offerable(row, h, s)) return;
    }
    for (;;) {
      if (this.batchAt[row] === -1 || this.position[row]! >= this.batchLength[row]!) this.scan(row);
      const at = this.batchAt[row]! + this.position[row]!;
      this.position[row]! += 1;
      if (this.offerable(row, this.slabHosts[at]!, this.slabScores[at]!)) return;
    }
  }

  private offerable(row: number, h: number, s: number): boolean {
    this.lastHost[row] = h;
    this.lastScore[row] = s;
    if (h === this.excluded || this.capacity[h] === 0) return false;
    this.host = h;
    this.score = s;
    return true;
  }

  /** The best SCAN_BATCH eligible hosts below the row's last one become its new batch. */
  private scan(row: number): void {
    const { hostKeys, weights, uniform } = this.table;
    const n = this.table.names.length;
    const lastScore = this.lastScore[row]!;
    const lastHost = this.lastHost[row]!;
    const part = bucketPart(this.table.bucketKeys[this.buckets[row]!]!);
    if (this.slabUsed + SCAN_BATCH > this.slabHosts.length) this.growSlab();
    const { slabHosts, slabScores, capacity, excluded } = this;
    const at = this.slabUsed;
    let found = 0;
    for (let h = 0; h < n; h++) {
      if (h === excluded || capacity[h] === 0) continue;
      const u = finishPair(part, hostKeys[h]!);
      const s = uniform ? u : weightedScore(u, weights[h]!);
      // Only hosts ranked below the last one proposed to.
      if (beats(lastScore, lastHost, s, h)) found = keepBest(slabHosts, slabScores, at, found, SCAN_BATCH, h, s);
    }
    if (found === 0) throw new Error(`capacity-match: no host has room for bucket ${this.buckets[row]}`);
    this.slabUsed += found;
    this.batchAt[row] = at;
    this.batchLength[row] = found;
    this.position[row] = 0;
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
 * Per host, the rows it holds as a min-heap (root = weakest by
 * score, then row), all in one slab sized by the capacities.
 */
class HostHeaps {
  private readonly start: Int32Array;
  private readonly size: Int32Array;
  private readonly capacity: Int32Array;
  private readonly rows: Int32Array;
  private readonly scores: Float64Array;

  constructor(capacity: Int32Array) {
    this.capacity = capacity;
    this.start = new Int32Array(capacity.length + 1);
    for (let h = 0; h < capacity.length; h++) this.start[h + 1] = this.start[h]! + capacity[h]!;
    this.size = new Int32Array(capacity.length);
    this.rows = new Int32Array(this.start[capacity.length]!);
    this.scores = new Float64Array(this.start[capacity.length]!);
  }

  /** Host `host` considers row `row`: returns the row it turns away (possibly `row`), or -1. */
  offer(host: number, row: number, rowScore: number): number {
    const at = this.start[host]!;
    const size = this.size[host]!;
    if (size < this.capacity[host]!) {
      this.size[host] = size + 1;
      this.siftUp(at, size, row, rowScore);
      return -1;
    }
    const weakest = this.rows[at]!;
    if (!beats(rowScore, row, this.scores[at]!, weakest)) return row;
    this.siftDown(at, size, row, rowScore);
    return weakest;
  }

  /** Is the entry at slab index `j` weaker than `row` with `rowScore`? */
  private entryWeaker(j: number, rowScore: number, row: number): boolean {
    return beats(rowScore, row, this.scores[j]!, this.rows[j]!);
  }

  private siftUp(at: number, index: number, row: number, rowScore: number): void {
    let i = index;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.entryWeaker(at + parent, rowScore, row)) break;
      this.rows[at + i] = this.rows[at + parent]!;
      this.scores[at + i] = this.scores[at + parent]!;
      i = parent;
    }
    this.rows[at + i] = row;
    this.scores[at + i] = rowScore;
  }

  /** Replaces the root with `row` and restores the heap. */
  private siftDown(at: number, size: number, row: number, rowScore: number): void {
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= size) break;
      let m = l;
      const r = l + 1;
      if (r < size && this.entryWeaker(at + r, this.scores[at + l]!, this.rows[at + l]!)) m = r;
      if (!this.entryWeaker(at + m, rowScore, row)) break;
      this.rows[at + i] = this.rows[at + m]!;
      this.scores[at + i] = this.scores[at + m]!;
      i = m;
    }
    this.rows[at + i] = row;
    this.scores[at + i] = rowScore;
  }
}
