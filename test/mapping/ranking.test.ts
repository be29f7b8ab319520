import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { rankHosts } from '../../src/mapping/ranking.ts';
import { beats, score, scoreTable } from '../../src/mapping/scores.ts';

// Wide enough that the filtered first pass (16 hosts and up) runs, with weights that repeat
// (equal scores inside a class) and weights that do not.
const weight = fc.oneof(fc.constantFrom(1, 2, 4), fc.integer({ min: 1, max: 9 }), fc.double({ min: 0.25, max: 8, noNaN: true }));
const universe = fc.uniqueArray(fc.record({ name: fc.stringMatching(/^[a-z][a-z0-9]{0,5}$/), weight }), {
  minLength: 1,
  maxLength: 80,
  selector: (h) => h.name,
});

test('the ranking is exactly each bucket\'s best hosts in score order, filtered pass or not', () => {
  fc.assert(
    fc.property(universe, fc.boolean(), fc.integer({ min: 0, max: 0xffffffff }), (hosts, equal, seed) => {
      const table = scoreTable({ hosts: equal ? hosts.map((h) => ({ ...h, weight: 1 })) : hosts, buckets: 96, seed });
      const ranking = rankHosts(table);
      const n = hosts.length;
      assert.equal(ranking.depth, Math.min(3, n));
      for (let b = 0; b < 96; b++) {
        const expected = Array.from({ length: n }, (_, h) => h)
          .sort((x, y) => (beats(score(table, b, x), x, score(table, b, y), y) ? -1 : 1))
          .slice(0, ranking.depth);
        const got = Array.from(ranking.hosts.subarray(b * ranking.depth, (b + 1) * ranking.depth));
        assert.deepEqual(got, expected, `bucket ${b}`);
        expected.forEach((h, k) => assert.equal(ranking.scores[b * ranking.depth + k], score(table, b, h)));
      }
    }),
    { numRuns: 60 },
  );
});
