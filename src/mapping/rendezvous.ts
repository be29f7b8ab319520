/** Weighted rendezvous (highest random weight), logarithmic method: argmax ln(u)/w. */
import { score, scoreTable } from './scores.ts';
import type { Algorithm, Owners } from './types.ts';

export const rendezvous: Algorithm = {
  name: 'rendezvous',
  summary: 'weighted rendezvous / HRW (logarithmic method)',
  build(input) {
    const table = scoreTable(input);
    return {
      owners(healthy): Owners {
        const up = table.names.map((name) => healthy.has(name));
        return Array.from(table.bucketKeys, (_, bucket) => {
          let best = -1;
          let bestScore = -Infinity;
          for (let h = 0; h < up.length; h++) {
            if (!up[h]) continue;
            const s = score(table, bucket, h);
            if (best === -1 || s > bestScore) {
              best = h;
              bestScore = s;
            }
          }
          return best === -1 ? null : table.names[best]!;
        });
      },
    };
  },
};
