/**
 * Ketama-style consistent hash ring: 160 points per unit of weight, a bucket goes to the first
 * point clockwise from its hash whose host is healthy.
 */
import { xxh32String } from '../hash/xxh.ts';
import { scoreTable } from './scores.ts';
import type { Algorithm, Owners } from './types.ts';

const POINTS_PER_WEIGHT = 160;

export const ring: Algorithm = {
  name: 'ring',
  summary: 'ketama ring, 160 points per host',
  build(input) {
    const table = scoreTable(input);
    const points: Array<[number, number]> = [];
    table.hosts.forEach((host, index) => {
      for (let i = 0; i < POINTS_PER_WEIGHT * host.weight; i++) {
        points.push([xxh32String(`${host.name}-${i}`, input.seed), index]);
      }
    });
    points.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    const positions = Uint32Array.from(points, (p) => p[0]);
    const owners = Int32Array.from(points, (p) => p[1]);
    const firstAtOrAfter = (key: number): number => {
      let lo = 0;
      let hi = positions.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (positions[mid]! < key) lo = mid + 1;
        else hi = mid;
      }
      return lo % positions.length;
    };
    return {
      owners(healthy): Owners {
        const up = table.names.map((name) => healthy.has(name));
        if (!up.some(Boolean)) return Array.from(table.bucketKeys, () => null);
        return Array.from(table.bucketKeys, (key) => {
          let i = firstAtOrAfter(key);
          while (!up[owners[i]!]) i = (i + 1) % owners.length;
          return table.names[owners[i]!]!;
        });
      },
    };
  },
};
