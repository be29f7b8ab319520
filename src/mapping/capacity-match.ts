/**
 * Capacity-bounded stable matching of buckets to hosts (deferred acceptance, buckets
 * proposing). Buckets rank hosts by rendezvous score and hosts rank buckets by the same score,
 * so the result is the unique stable matching: independent of processing order, and each bucket
 * gets the best host it can under the capacities.
 *
 * A host compares buckets by raw pair hash: its weight is the same for all of them, so the raw
 * hash orders them exactly as their scores do, and no logarithm is taken on the host side.
 */
import { bucketPart, finishPair } from '../hash/combine.ts';
import type { HostEntries } from './ranking.ts';
import { beats, certainlyBelow, type ScoreTable, weightedScore } from './scores.ts';

/** Rows per matching at most, so a heap key (raw hash and row, `heapKey`) stays an exact double. */
const ROW_LIMIT = 2 ** 21;

/** Higher is stronger: the raw hash, then the lower row (rows are in bucket order). */
function heapKey(raw: number, row: number): number {
  return raw * ROW_LIMIT + (ROW_LIMIT - 1 - row);
}

function rowOf(key: number): number {
  return ROW_LIMIT - 1 - (key - Math.floor(key / ROW_LIMIT) * ROW_LIMIT);
}

/**
 * One matching: the buckets of `buckets` (ascending) may take any host but `excluded` (-1 for
 * none), host h at most `capacity[h]` of them; row i (bucket buckets[i]) proposes first to
 * `best`'s entry i, its best host. Returns the host per row.
 */
export function matchWithCapacities(table: ScoreTable, buckets: Int32Array, excluded: number, capacity: Int32Array, best: HostEntries): Int32Array {
  const m = buckets.length;
  if (m > ROW_LIMIT) throw new RangeError(`capacity-match: ${m} buckets in one matching, at most ${ROW_LIMIT}`);
  const heaps = new HostHeaps(capacity);
  const candidates = new Candidates(table, buckets, excluded, capacity, best, heaps);
  // Rows waiting to propose, first to last; a row turned away goes back on top.
  const free = new Int32Array(m);
  let freeCount = 0;
  for (let i = m - 1; i >= 0; i--) free[freeCount++] = i;
  while (freeCount > 0) {
    const row = free[--freeCount]!;
    candidates.next(row);
    const turnedAway = heaps.offer(candidates.host, heapKey(candidates.raw, row));
    if (turnedAway !== -1) free[freeCount++] = turnedAway;
  }
  return heaps.holders(m);
}

/** Hosts a scan past the best one collects at once, so a bucket turned away again rarely rescans. */
const SCAN_BATCH = 8;

/** Marks the end of a batch in the slab. */
const BATCH_END = -1;

/** A row's cursor (`Candidates`): its best host is next, a scan is next, or a slab index follows. */
const BEST_DUE = 0;
const SCAN_DUE = 1;
const SLAB_AT = 2;

/**
 * Each row's hosts in proposal order, skipping the excluded host and hosts without capacity:
 * first its best host, then batches found by scanning every host for the best ones below the
 * last proposed that would take the row at the time of the scan.
 */
class Candidates {
  /** The result of `next`, in fields so the proposal loop allocates nothing. */
  host = -1;
  raw = 0;
  private readonly table: ScoreTable;
  private readonly buckets: Int32Array;
  private readonly excluded: number;
  private readonly capacity: Int32Array;
  private readonly best: HostEntries;
  private readonly heaps: HostHeaps;
  /**
   * Per row, its next entry: BEST_DUE for its best host, SCAN_DUE once that is spent, else
   * SLAB_AT + the slab index in its current batch.
   */
  private readonly cursor: Int32Array;
  /** Batches one after another, each closed by a BATCH_END host. */
  private slab: HostEntries;
  private slabScores: Float64Array;
  private slabUsed = 0;

  constructor(table: ScoreTable, buckets: Int32Array, excluded: number, capacity: Int32Array, best: HostEntries, heaps: HostHeaps) {
    this.table = table;
    this.heaps = heaps;
    this.buckets = buckets;
    this.excluded = excluded;
    this.capacity = capacity;
    this.best = best;
    const m = buckets.length;
    // A few rows in a hundred run past their best host (up to about one in twenty for second
    // choices); the slab grows if more do.
    const slabSize = (SCAN_BATCH + 1) * (16 + (m >> 4));
    this.slab = { hosts: new Int32Array(slabSize), raws: new Uint32Array(slabSize) };
    this.slabScores = new Float64Array(slabSize);
    this.cursor = new Int32Array(m);
  }

  next(row: number): void {
    for (;;) {
      const cursor = this.cursor[row]!;
      if (cursor === BEST_DUE) {
        this.cursor[row] = SCAN_DUE;
        if (this.offerable(this.best.hosts[row]!, this.best.raws[row]!)) return;
      } else if (cursor === SCAN_DUE || this.slab.hosts[cursor - SLAB_AT] === BATCH_END) {
        this.scan(row);
      } else {
        this.cursor[row] = cursor + 1;
        const at = cursor - SLAB_AT;
        if (this.offerable(this.slab.hosts[at]!, this.slab.raws[at]!)) return;
      }
    }
  }

  private offerable(h: number, raw: number): boolean {
    if (h === this.excluded || this.capacity[h] === 0) return false;
    this.host = h;
    this.raw = raw;
    return true;
  }

  /** The best SCAN_BATCH eligible hosts below the row's last one become its new batch. */
  private scan(row: number): void {
    const { table, capacity, excluded } = this;
    const { hostKeys, weights, uniform } = table;
    const n = table.names.length;
    const cursor = this.cursor[row]!;
    // The entry proposed to last: the row's best host, or the one before the batch's end.
    const lastEntries = cursor === SCAN_DUE ? this.best : this.slab;
    const lastAt = cursor === SCAN_DUE ? row : cursor - SLAB_AT - 1;
    const lastHost = lastEntries.hosts[lastAt]!;
    const lastRaw = lastEntries.raws[lastAt]!;
    const lastScore = uniform ? lastRaw : weightedScore(lastRaw, weights[lastHost]!);
    const part = bucketPart(table.bucketKeys[this.buckets[row]!]!);
    if (this.slabUsed + SCAN_BATCH + 1 > this.slab.hosts.length) this.growSlab();
    const at = this.slabUsed;
    let found = 0;
    for (let h = 0; h < n; h++) {
      if (h === excluded || capacity[h] === 0) continue;
      const raw = finishPair(part, hostKeys[h]!);
      // A host that would turn the row away now always will (its weakest only gets stronger),
      // so it is left out before any score is taken.
      if (this.heaps.wouldTurnAway(h, heapKey(raw, row))) continue;
      // The batch continues the row's order where it stopped: hosts ranked below the last one.
      const below = uniform
        ? beats(lastRaw, lastHost, raw, h)
        : certainlyBelow(raw, weights[h]!, lastRaw, weights[lastHost]!) || beats(lastScore, lastHost, weightedScore(raw, weights[h]!), h);
      if (below) found = keepBest(table, this.slab, this.slabScores, at, found, SCAN_BATCH, h, raw);
    }
    if (found === 0) throw new Error(`capacity-match: no host has room for bucket ${this.buckets[row]}`);
    this.slab.hosts[at + found] = BATCH_END;
    this.slabUsed += found + 1;
    this.cursor[row] = SLAB_AT + at;
  }

  private growSlab(): void {
    const size = this.slab.hosts.length * 2;
    const hosts = new Int32Array(size);
    hosts.set(this.slab.hosts);
    const raws = new Uint32Array(size);
    raws.set(this.slab.raws);
    this.slab = { hosts, raws };
    const scores = new Float64Array(size);
    scores.set(this.slabScores);
    this.slabScores = scores;
  }
}

/**
 * Per host, the keys (`heapKey`, which carries the row) of the rows it holds as a min-heap
 * (root = weakest), all in one slab sized by the capacities.
 */
class HostHeaps {
  private readonly start: Int32Array;
  private readonly size: Int32Array;
  private readonly capacity: Int32Array;
  private readonly keys: Float64Array;

  constructor(capacity: Int32Array) {
    this.capacity = capacity;
    this.start = new Int32Array(capacity.length + 1);
    for (let h = 0; h < capacity.length; h++) this.start[h + 1] = this.start[h]! + capacity[h]!;
    this.size = new Int32Array(capacity.length);
    this.keys = new Float64Array(this.start[capacity.length]!);
  }

  /** Host `host` is full and holds nothing weaker than `key`. */
  wouldTurnAway(host: number, key: number): boolean {
    const size = this.size[host]!;
    return size > 0 && size === this.capacity[host] && key < this.keys[this.start[host]!]!;
  }

  /** Host `host` considers the row of `key`: returns the row it turns away (possibly that one), or -1. */
  offer(host: number, key: number): number {
    const at = this.start[host]!;
    const size = this.size[host]!;
    if (size < this.capacity[host]!) {
      this.size[host] = size + 1;
      this.siftUp(at, size, key);
      return -1;
    }
    const weakest = this.keys[at]!;
    if (key < weakest) return rowOf(key);
    this.siftDown(at, size, key);
    return rowOf(weakest);
  }

  /** The host holding each of `m` rows. */
  holders(m: number): Int32Array {
    const host = new Int32Array(m).fill(-1);
    for (let h = 0; h < this.size.length; h++) {
      for (let i = this.start[h]!; i < this.start[h]! + this.size[h]!; i++) host[rowOf(this.keys[i]!)] = h;
    }
    return host;
  }

  private siftUp(at: number, index: number, key: number): void {
    let i = index;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.keys[at + parent]! < key) break;
      this.keys[at + i] = this.keys[at + parent]!;
      i = parent;
    }
    this.keys[at + i] = key;
  }

  /** Replaces the root with `key` and restores the heap. */
  private siftDown(at: number, size: number, key: number): void {
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= size) break;
      const r = l + 1;
      const m = r < size && this.keys[at + r]! < this.keys[at + l]! ? r : l;
      if (key < this.keys[at + m]!) break;
      this.keys[at + i] = this.keys[at + m]!;
      i = m;
    }
    this.keys[at + i] = key;
  }
}

/**
 * Inserts host `h` with raw pair hash `raw` into the best-first run of `kept` entries at `at`
 * of `entries` that holds at most `limit`, if it belongs there; `scores` holds the entries'
 * scores at the same indices. Returns the run's new length. A host certainly below a full
 * run's last entry is turned away before its score (a logarithm, when weights differ) is taken.
 */
function keepBest(table: ScoreTable, entries: HostEntries, scores: Float64Array, at: number, kept: number, limit: number, h: number, raw: number): number {
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
