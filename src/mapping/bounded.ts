/**
 * Consistent hashing with bounded loads on rendezvous order: buckets in index order each take
 * their best healthy host that is below its capacity ceil(B * w / W).
 */
import { score, scoreTable } from './scores.ts';
import type { Algorithm, Owners } from './types.ts';

export const bounded: Algorithm = {
  name: 'bounded',
  summary: 'rendezvous with bounded loads, capacity ceil(B/N), fixed order',
  build(input) {
    const table = scoreTable(input);
    return {
      owners(healthy): Owners {
        const up = table.names.map((name) => healthy.has(name));
        let total = 0;
        table.weights.forEach((w, h) => {
          if (up[h]) total += w;
        });
        const capacity = Array.from(table.weights, (w, h) => (up[h] ? Math.ceil((input.buckets * w) / total) : 0));
        const load = new Int32Array(up.length);
        return Array.from(table.bucketKeys, (_, bucket) => {
          let best = -1;
          let bestScore = -Infinity;
          for (let h = 0; h < up.length; h++) {
            if (load[h]! >= capacity[h]!) continue;
            const s = score(table, bucket, h);
            if (best === -1 || s > bestScore) {
              best = h;
              bestScore = s;
            }
          }
          if (best === -1) return null;
          load[best]! += 1;
          return table.names[best]!;
        });
      },
    };
  },
};
