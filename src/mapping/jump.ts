/**
 * Jump consistent hash (Lamping and Veach) over the configured hosts in name order, each
 * repeated by its weight. Jump only supports removing the last slot, so an unhealthy result is
 * remapped by hashing again with an attempt counter, the usual layer for arbitrary removals.
 */
import { xxh32Word } from '../hash/xxh.ts';
import { scoreTable } from './scores.ts';
import type { Algorithm, Owners } from './types.ts';

const MULTIPLIER = 2862933555777941757n;
const MASK = (1n << 64n) - 1n;

export function jumpHash(key: bigint, slots: number): number {
  let b = -1;
  let j = 0;
  let k = key;
  while (j < slots) {
    b = j;
    k = (k * MULTIPLIER + 1n) & MASK;
    j = Math.floor(((b + 1) * 2 ** 31) / (Number(k >> 33n) + 1));
  }
  return b;
}

export const jump: Algorithm = {
  name: 'jump',
  summary: 'jump consistent hash with rehash on unhealthy slots',
  build(input) {
    const table = scoreTable(input);
    const slots: number[] = [];
    table.hosts.forEach((host, index) => {
      for (let i = 0; i < host.weight; i++) slots.push(index);
    });
    const firstChoice = Array.from(table.bucketKeys, (key) => slots[jumpHash(BigInt(key), slots.length)]!);
    return {
      owners(healthy): Owners {
        const up = table.names.map((name) => healthy.has(name));
        if (!up.some(Boolean)) return Array.from(table.bucketKeys, () => null);
        return Array.from(table.bucketKeys, (key, bucket) => {
          let slot = firstChoice[bucket]!;
          for (let attempt = 1; !up[slot]; attempt++) {
            const rehashed = (BigInt(xxh32Word(key, attempt)) << 32n) | BigInt(key);
            slot = slots[jumpHash(rehashed, slots.length)]!;
          }
          return table.names[slot]!;
        });
      },
    };
  },
};
