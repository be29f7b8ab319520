/**
 * Maglev hashing as in IPVS `mh` and Katran: a prime-sized lookup table filled from per-host
 * permutations, hosts in name order; weights as Katran's V2, where a host of weight w places w
 * entries per round. Buckets index the table by their hash. The table is rebuilt from the
 * healthy set alone, the history-free variant.
 */
import { xxh32String } from '../hash/xxh.ts';
import { scoreTable } from './scores.ts';
import type { Algorithm, Owners } from './types.ts';

/** Katran's default ring size, prime. */
export const MAGLEV_TABLE_SIZE = 65537;

export const maglev: Algorithm = {
  name: 'maglev',
  summary: 'Maglev lookup table (65537 entries, Katran V2 weights)',
  build(input) {
    const table = scoreTable(input);
    const M = MAGLEV_TABLE_SIZE;
    const offset = table.names.map((name) => xxh32String(name, input.seed ^ 0x6d61) % M);
    const skip = table.names.map((name) => (xxh32String(name, input.seed ^ 0x736b) % (M - 1)) + 1);
    return {
      owners(healthy): Owners {
        const live = table.names.map((_, index) => index).filter((index) => healthy.has(table.names[index]!));
        if (live.length === 0) return Array.from(table.bucketKeys, () => null);
        const lookup = new Int32Array(M).fill(-1);
        const next = new Int32Array(table.names.length);
        let filled = 0;
        while (filled < M) {
          for (const host of live) {
            for (let turn = 0; turn < table.weights[host]! && filled < M; turn++) {
              let slot: number;
              do {
                slot = (offset[host]! + next[host]! * skip[host]!) % M;
                next[host]! += 1;
              } while (lookup[slot] !== -1);
              lookup[slot] = host;
              filled++;
            }
          }
        }
        return Array.from(table.bucketKeys, (key) => table.names[lookup[key % M]!]!);
      },
    };
  },
};
