/**
 * Rendezvous scores shared by the default mapping and the HRW-based references. Hosts are
 * sorted by name first, so no result depends on the order the config lists them in.
 */
import { combine } from '../hash/combine.ts';
import { xxh32String, xxh32Word } from '../hash/xxh.ts';
import type { HostSpec, MappingInput } from './types.ts';

export interface ScoreTable {
  hosts: HostSpec[];
  names: string[];
  weights: Float64Array;
  hostKeys: Uint32Array;
  bucketKeys: Uint32Array;
  /** All weights equal: the raw hash orders hosts exactly as the weighted score would. */
  uniform: boolean;
}

export function sortHosts(hosts: readonly HostSpec[]): HostSpec[] {
  return [...hosts].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export function scoreTable(input: MappingInput): ScoreTable {
  // A weight the scores cannot divide by would surface only later, when a host goes down.
  const bad = input.hosts.find((h) => !(Number.isFinite(h.weight) && h.weight > 0));
  if (bad !== undefined) throw new RangeError(`host ${bad.name}: weight must be a finite number above 0, got ${bad.weight}`);
  const hosts = sortHosts(input.hosts);
  const bucketKeys = new Uint32Array(input.buckets);
  for (let b = 0; b < input.buckets; b++) bucketKeys[b] = xxh32Word(b, input.seed);
  const weights = Float64Array.from(hosts, (h) => h.weight);
  return {
    hosts,
    names: hosts.map((h) => h.name),
    weights,
    hostKeys: Uint32Array.from(hosts, (h) => xxh32String(h.name, input.seed)),
    bucketKeys,
    uniform: weights.every((w) => w === weights[0]),
  };
}

/** `a` beats `b`: higher score, then the lower index (a total order, so no ties). */
export function beats(scoreA: number, indexA: number, scoreB: number, indexB: number): boolean {
  return scoreA > scoreB || (scoreA === scoreB && indexA < indexB);
}

/**
 * Higher is better. Weighted rendezvous in its logarithmic form: ln(u)/w with u uniform in
 * (0,1), so a host's chance to win a bucket is proportional to its weight.
 */
export function score(table: ScoreTable, bucket: number, host: number): number {
  const u = combine(table.bucketKeys[bucket]!, table.hostKeys[host]!);
  return table.uniform ? u : weightedScore(u, table.weights[host]!);
}

/** The score of a raw 32-bit pair hash for a host of `weight` (what `score` returns when weights differ). */
export function weightedScore(raw: number, weight: number): number {
  return Math.log((raw + 0.5) / 4294967296) / weight;
}

/**
 * `beats(weightedScore(rawA, weightA), a, weightedScore(rawB, weightB), b)`, mostly without
 * the logarithms. With x = 1 - u, -ln(u) = x + x^2/2 + x^3/3 + ..., which lies
 * - between x and x(1 + 2x) (for x <= 1/2): enough for most pairs, in a few multiplications;
 * - between the sum of the first four terms and that plus 2x^5/5 (for x <= 1/2).
 * When bounds, divided by the weights (cross-multiplied here, so nothing is divided), keep the
 * two apart by far more than rounding can move them, they decide; otherwise the scores are
 * compared.
 */
export function beatsByRaw(rawA: number, weightA: number, a: number, rawB: number, weightB: number, b: number): boolean {
  const xa = oneMinusU(rawA);
  const xb = oneMinusU(rawB);
  // A score is -(-ln u)/w: the side with the smaller -ln(u)/w wins.
  if (xa <= 0.5 && xb <= 0.5) {
    if (xa * (1 + 2 * xa) * weightB * BOUND_MARGIN < xb * weightA) return true;
    if (xb * (1 + 2 * xb) * weightA * BOUND_MARGIN < xa * weightB) return false;
  }
  const lowA = negLogLow(xa);
  const lowB = negLogLow(xb);
  if (negLogHigh(xa, lowA) * weightB * BOUND_MARGIN < lowB * weightA) return true;
  if (negLogHigh(xb, lowB) * weightA * BOUND_MARGIN < lowA * weightB) return false;
  return beats(weightedScore(rawA, weightA), a, weightedScore(rawB, weightB), b);
}

/**
 * The weighted score of raw hash `rawA` is certainly below that of `rawB`, known without a
 * logarithm: with x = 1 - u, -ln(u) lies between x + x^2/2 and x + x^2/2 + 2x^3/3 (for
 * x <= 1/2), and those bounds, divided by the weights (cross-multiplied here, so nothing is
 * divided), keep the two apart by far more than rounding can move them. False means "not
 * known", not "above".
 */
export function certainlyBelow(rawA: number, weightA: number, rawB: number, weightB: number): boolean {
  const xa = oneMinusU(rawA);
  const xb = oneMinusU(rawB);
  return xb <= 0.5 && xb * (1 + xb * (0.5 + xb * (2 / 3))) * weightA * BOUND_MARGIN < xa * (1 + xa * 0.5) * weightB;
}

function oneMinusU(raw: number): number {
  return (4294967295.5 - raw) * TWO_TO_MINUS_32;
}

const TWO_TO_MINUS_32 = 1 / 4294967296;

/** Far above the few roundings in a bound and in `weightedScore`. */
const BOUND_MARGIN = 1 + 1e-12;

function negLogLow(x: number): number {
  return x * (1 + x * (0.5 + x * (1 / 3 + x * 0.25)));
}

function negLogHigh(x: number, low: number): number {
  const x2 = x * x;
  return x <= 0.5 ? low + 0.4 * x2 * x2 * x : Infinity;
}

/**
 * Exact integer shares of `total` proportional to `weights` (largest remainder; ties go to the
 * lower index, which is name order). Each share is the floor or the ceiling of the exact one.
 */
export function quotas(total: number, weights: ArrayLike<number>, include: (i: number) => boolean = () => true): Int32Array {
  const n = weights.length;
  const out = new Int32Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) if (include(i)) sum += weights[i]!;
  if (sum === 0) return out;
  const remainders: Array<[number, number]> = [];
  let given = 0;
  for (let i = 0; i < n; i++) {
    if (!include(i)) continue;
    const exact = (total * weights[i]!) / sum;
    out[i] = Math.floor(exact);
    given += out[i]!;
    remainders.push([exact - out[i]!, i]);
  }
  remainders.sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (let k = 0; k < total - given; k++) out[remainders[k]![1]]! += 1;
  return out;
}
