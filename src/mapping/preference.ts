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
import { matchWithCapacities, rankHosts } from './capacity-match.ts';
import { quotas, score, scoreTable, type ScoreTable } from './scores.ts';
import type { Algorithm, MappingInput, Mapper, Owners } from './types.ts';

export interface PreferenceLists {
  table: ScoreTable;
  first: Int32Array;
  /** -1 where the universe has a single host. */
  second: Int32Array;
}

export function buildPreferenceLists(input: MappingInput): PreferenceLists {
  const table = scoreTable(input);
  const n = table.names.length;
  const B = input.buckets;
  const share = quotas(B, table.weights);
  const ranking = rankHosts(table);
  const all = new Int32Array(B);
  for (let b = 0; b < B; b++) all[b] = b;
  const first = matchWithCapacities(table, ranking, all, -1, share);
  const second = new Int32Array(B).fill(-1);
  if (n < 2) return { table, first, second };

  // Buckets grouped by first choice, ascending within each host.
  const start = new Int32Array(n + 1);
  for (let b = 0; b < B; b++) start[first[b]! + 1]! += 1;
  for (let h = 0; h < n; h++) start[h + 1]! += start[h]!;
  const byFirst = new Int32Array(B);
  const next = start.slice(0, n);
  for (let b = 0; b < B; b++) byFirst[next[first[b]!]!++] = b;
  for (let down = 0; down < n; down++) {
    const own = byFirst.subarray(start[down]!, start[down + 1]!);
    if (own.length === 0) continue;
    const picked = matchWithCapacities(table, ranking, own, down, survivorsExtra(B, table.weights, share, down));
    for (let i = 0; i < own.length; i++) second[own[i]!] = picked[i]!;
  }
  return { table, first, second };
}

/**
 * How many of host `down`'s buckets each survivor takes so that it ends within one bucket of
 * its exact share of the survivors' total, never giving any of its own away.
 */
function survivorsExtra(B: number, weights: Float64Array, share: Int32Array, down: number): Int32Array {
  const n = weights.length;
  let total = 0;
  for (let j = 0; j < n; j++) if (j !== down) total += weights[j]!;
  const target = new Int32Array(n);
  const exact = new Float64Array(n);
  let sum = 0;
  for (let j = 0; j < n; j++) {
    if (j === down) continue;
    exact[j] = (B * weights[j]!) / total;
    target[j] = Math.max(share[j]!, Math.floor(exact[j]!));
    sum += target[j]!;
  }
  // Hand out what is left by largest remainder, never past the ceiling; ties by name order.
  const order = Array.from({ length: n }, (_, j) => j)
    .filter((j) => j !== down)
    .sort((a, b) => exact[b]! - target[b]! - (exact[a]! - target[a]!) || a - b);
  for (let k = 0; sum < B && k < order.length; k++) {
    const j = order[k]!;
    if (target[j]! < Math.ceil(exact[j]!)) {
      target[j]! += 1;
      sum += 1;
    }
  }
  const extra = new Int32Array(n);
  for (let j = 0; j < n; j++) if (j !== down) extra[j] = target[j]! - share[j]!;
  return extra;
}

export function ownersFromLists(lists: PreferenceLists, healthy: ReadonlySet<string>): Owners {
  const { table, first, second } = lists;
  const n = table.names.length;
  const up = table.names.map((name) => healthy.has(name));
  const owners: Owners = new Array(first.length);
  const anyUp = up.some(Boolean);
  for (let b = 0; b < first.length; b++) {
    const f = first[b]!;
    const s = second[b]!;
    if (up[f]) owners[b] = table.names[f]!;
    else if (s >= 0 && up[s]) owners[b] = table.names[s]!;
    else if (!anyUp) owners[b] = null;
    else {
      let best = -1;
      let bestScore = -Infinity;
      for (let h = 0; h < n; h++) {
        if (!up[h] || h === f || h === s) continue;
        const sc = score(table, b, h);
        if (best === -1 || sc > bestScore) {
          best = h;
          bestScore = sc;
        }
      }
      owners[b] = table.names[best]!;
    }
  }
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
