import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { allSecondChoices, buildPreferenceLists } from '../../src/mapping/preference.ts';

// Two firewalls running different builds must still write the same anchors, so the lists may
// change only on purpose. These digests were taken from the implementation before the rebuild
// was made faster (commit 3b88139) and still hold: first and second choices, decimal joined.
const GOLDEN = [
  { buckets: 16, seed: 1, weights: [1], digest: '102423639fcd941e660c2152' },
  { buckets: 256, seed: 7, weights: [1, 1, 1, 1, 1], digest: 'e44821d5691db689b36ba00a' },
  { buckets: 96, seed: 1, weights: [0.1, 0.5, 0.3], digest: '79f114f9698a2a1e98836d70' },
  { buckets: 1024, seed: 24301, weights: Array.from({ length: 17 }, (_, i) => [1, 1, 2, 4][i % 4]!), digest: 'edd175b103f5a6122e725592' },
  { buckets: 4096, seed: 99, weights: Array.from({ length: 64 }, (_, i) => 1 + ((i * 37) % 9)), digest: '2d2e605f1091035e56f8d02f' },
  { buckets: 65536, seed: 24301, weights: new Array<number>(64).fill(1), digest: '136440e3e40f2136a2884e4e' },
];

test('the preference lists for fixed inputs are the ones earlier builds produced', () => {
  for (const { buckets, seed, weights, digest } of GOLDEN) {
    const lists = buildPreferenceLists({ hosts: weights.map((weight, i) => ({ name: `lb${i + 1}`, weight })), buckets, seed });
    const got = createHash('sha256').update(`${lists.first.join(',')}|${allSecondChoices(lists).join(',')}`).digest('hex').slice(0, 24);
    assert.equal(got, digest, `B=${buckets}, ${weights.length} hosts`);
  }
});
