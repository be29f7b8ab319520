/**
 * pfsteer's default mapping: a preference list per bucket, chosen from the configured universe
 * alone. A bucket goes to the first healthy host of its list, so a health change moves exactly
 * the buckets of the host that changed, and the same buckets come back when it returns.
 *
 * The lists are built so that both levels that matter are balanced:
 * - first choices: every host holds its exact weighted share (largest remainder), assigned by
 *   a capacity-bounded stable matching on rendezvous scores;
 * - second choices: for each host, its buckets' second choices are spread over the other hosts
 *   so that after it goes down every survivor holds its exact share of the smaller set.
 * Deeper entries follow rendezvous order; they are used only when two or more hosts are out.
 */
import { matchWithCapacities } from './capacity-match.ts';
import { bestHosts } from './ranking.ts';
import { quotas, score, scoreTable, type ScoreTable } from './scores.ts';
import type { Algorithm, MappingInput, Mapper, Owners } from './types.ts';

/** What a rebuild makes: the first choices. Second choices are made from these on need. */
export interface PreferenceLists {
  table: ScoreTable;
  share: Int32Array;
  first: Int32Array;
}

/**
 * Second choices made so far, per lists object (so a copy with other first choices never
 * reads them): a config change rebuilds only what the healthy set reads.
 */
interface Made {
  /** Host h holds first `byFirstChoice[start[h]]` up to `byFirstChoice[start[h + 1]]`, ascending. */
  start: Int32Array;
  byFirstChoice: Int32Array;
  seconds: (SecondChoices | undefined)[];
}

const made = new WeakMap<PreferenceLists, Made>();

/** The buckets whose first choice is one host, ascending, and each one's second choice. */
export interface SecondChoices {
  buckets: Int32Array;
  /** -1 where the universe has a single host. */
  hosts: Int32Array;
}

export function buildPreferenceLists(input: MappingInput): PreferenceLists {
  const table = scoreTable(input);
  const share = quotas(input.buckets, table.weights);
  const everyBucket = new Int32Array(input.buckets);
  for (let b = 0; b < input.buckets; b++) everyBucket[b] = b;
  const first = matchWithCapacities(table, everyBucket, -1, share, bestHosts(table, everyBucket, -1));
  return { table, share, first };
}

/**
 * The second choices of host `down`'s buckets: a matching of those buckets alone to the other
 * hosts, each taking what lands it on its exact share of the survivors. Each host's matching
 * is independent of every other's, so making them one by one, on need, gives the lists a
 * single pass over all hosts would.
 */
export function secondChoicesOf(lists: PreferenceLists, down: number): SecondChoices {
  const { table, share, first } = lists;
  let memo = made.get(lists);
  if (memo === undefined) {
    memo = { ...groupByFirstChoice(first, table.names.length), seconds: [] };
    made.set(lists, memo);
  }
  const known = memo.seconds[down];
  if (known !== undefined) return known;
  const buckets = memo.byFirstChoice.subarray(memo.start[down], memo.start[down + 1]);
  const hosts =
    table.names.length < 2
      ? new Int32Array(buckets.length).fill(-1)
      : matchWithCapacities(table, buckets, down, survivorCapacities(first.length, table.weights, share, down), bestHosts(table, buckets, down));
  memo.seconds[down] = { buckets, hosts };
  return memo.seconds[down];
}

/** Buckets grouped by first choice (a counting sort, so each group stays ascending). */
function groupByFirstChoice(first: Int32Array, n: number): { start: Int32Array; byFirstChoice: Int32Array } {
  const start = new Int32Array(n + 1);
  for (let b = 0; b < first.length; b++) start[first[b]! + 1]! += 1;
  for (let h = 0; h < n; h++) start[h + 1]! += start[h]!;
  const next = start.slice(0, n);
  const byFirstChoice = new Int32Array(first.length);
  for (let b = 0; b < first.length; b++) byFirstChoice[next[first[b]!]!++] = b;
  return { start, byFirstChoice };
}

/**
 * Every bucket's second choice (-1 where the universe has a single host), every host's made at
 * once: what the golden test pins and the benchmark times; the mapping itself never needs all.
 */
export function allSecondChoices(lists: PreferenceLists): Int32Array {
  const second = new Int32Array(lists.first.length);
  lists.table.names.forEach((_, h) => {
    const { buckets, hosts } = secondChoicesOf(lists, h);
    buckets.forEach((b, i) => (second[b] = hosts[i]!));
  });
  return second;
}

/**
 * How many of host `down`'s buckets each survivor takes so that it ends within one bucket of
 * its exact share of the survivors' total, never giving any of its own away. What is left
 * after the floors goes by largest remainder, ties to the lower index (name order), never past
 * the ceiling.
 */
function survivorCapacities(B: number, weights: Float64Array, share: Int32Array, down: number): Int32Array {
  const n = weights.length;
  const exact = new Float64Array(n);
  const target = new Int32Array(n);
  const remainders = new Float64Array(n);
  // Summed here, not as the total less one weight: with fractional weights the two round
  // differently and can move a remainder tie.
  let total = 0;
  for (let j = 0; j < n; j++) if (j !== down) total += weights[j]!;
  let left = B;
  for (let j = 0; j < n; j++) {
    if (j === down) continue;
    exact[j] = (B * weights[j]!) / total;
    target[j] = Math.max(share[j]!, Math.floor(exact[j]!));
    left -= target[j]!;
  }
  // A survivor can take one more exactly when its remainder is positive (it is below 1).
  let eligible = 0;
  for (let j = 0; j < n; j++) if (j !== down && exact[j]! - target[j]! > 0) remainders[eligible++] = exact[j]! - target[j]!;
  if (left > 0) {
    // Everyone above the left-th largest remainder gets one, then ties at it by index.
    const sorted = remainders.subarray(0, eligible).sort();
    const cut = left >= eligible ? 0 : sorted[eligible - left]!;
    for (let j = 0; j < n; j++) {
      if (j === down || !(exact[j]! - target[j]! > cut)) continue;
      target[j]! += 1;
      left -= 1;
    }
    if (cut > 0) {
      for (let j = 0; j < n && left > 0; j++) {
        if (j === down || exact[j]! - target[j]! !== cut) continue;
        target[j]! += 1;
        left -= 1;
      }
    }
  }
  const capacity = new Int32Array(n);
  for (let j = 0; j < n; j++) if (j !== down) capacity[j] = target[j]! - share[j]!;
  return capacity;
}

/**
 * A bucket goes to its first choice if up, else its second if up, else the best-scoring host
 * up (two or more hosts out). Only the second choices of hosts that are down are read.
 */
export function ownersFromLists(lists: PreferenceLists, healthy: ReadonlySet<string>): Owners {
  const { table, first } = lists;
  const n = table.names.length;
  const up = table.names.map((name) => healthy.has(name));
  const anyUp = up.some(Boolean);
  const owners: Owners = new Array(first.length);
  for (let b = 0; b < first.length; b++) owners[b] = up[first[b]!] ? table.names[first[b]!]! : null;
  if (!anyUp) return owners;
  up.forEach((isUp, down) => {
    if (isUp) return;
    const { buckets, hosts } = secondChoicesOf(lists, down);
    buckets.forEach((b, i) => {
      const s = hosts[i]!;
      if (s >= 0 && up[s]) {
        owners[b] = table.names[s]!;
        return;
      }
      let best = -1;
      let bestScore = -Infinity;
      for (let h = 0; h < n; h++) {
        if (!up[h]) continue;
        const sc = score(table, b, h);
        if (best === -1 || sc > bestScore) {
          best = h;
          bestScore = sc;
        }
      }
      owners[b] = table.names[best]!;
    });
  });
  return owners;
}

export const preference: Algorithm = {
  name: 'preference',
  summary: 'balanced preference lists (default): exact shares, minimal movement on health changes',
  build(input: MappingInput): Mapper {
    const lists = buildPreferenceLists(input);
    return { owners: (healthy) => ownersFromLists(lists, healthy) };
  },
};
