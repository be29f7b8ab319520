/**
 * What pf's `source-hash` does with an address pool: hash mod N over the hosts that are in the
 * pool right now. Weights repeat a host in the pool, as listing an address twice would.
 */
import { scoreTable } from './scores.ts';
import type { Algorithm, Owners } from './types.ts';

export const modn: Algorithm = {
  name: 'modn',
  summary: 'pf source-hash: hash mod N of the live pool',
  build(input) {
    const table = scoreTable(input);
    return {
      owners(healthy): Owners {
        const pool: string[] = [];
        table.hosts.forEach((host) => {
          if (healthy.has(host.name)) for (let i = 0; i < host.weight; i++) pool.push(host.name);
        });
        return Array.from(table.bucketKeys, (key) => (pool.length === 0 ? null : pool[key % pool.length]!));
      },
    };
  },
};
