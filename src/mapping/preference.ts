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
import { type Ranking, rankHosts } from './ranking.ts';
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
  const share = quotas(input.buckets, table.weights);
  const ranking = rankHosts(table);
  const first = matchWithCapacities(table, ranking, null, share);
  return { table, first, second: secondChoices(table, ranking, first, share) };
}

/** Each bucket's second choice, -1 where the universe has a single host. */
export function secondChoices(table: ScoreTable, ranking: Ranking, first: Int32Array, share: Int32Array): Int32Array {
  const B = table.bucketKeys.length;
  if (table.names.length < 2) return new Int32Array(B).fill(-1);
  return matchWithCapacities(table, ranking, first, survivorCapacities(B, table.weights, share));
}

/**
 * Row `down` of the n x n result: how many of host `down`'s buckets each survivor takes so
 * that it ends within one bucket of its exact share of the survivors' total, never giving any
 * of its own away. What is left after the floors goes by largest remainder, ties to the lower
 * index (name order), never past the ceiling.
 */
function survivorCapacities(B: number, weights: Float64Array, share: Int32Array): Int32Array {
  const n = weights.length;
  const out = new Int32Array(n * n);
  const exact = new Float64Array(n);
  const target = new Int32Array(n);
  const remainders = new Float64Array(n);
  for (let down = 0; down < n; down++) {
    // Summed per row, not as the total less one weight: with fractional weights the two round
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
    for (let j = 0; j < n; j++) if (j !== down) out[down * n + j] = target[j]! - share[j]!;
  }
  return out;
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
