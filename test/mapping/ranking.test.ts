import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { bestHosts } from '../../src/mapping/ranking.ts';
import { combine } from '../../src/hash/combine.ts';
import { beats, beatsByRaw, certainlyBelow, score, scoreTable, weightedScore } from '../../src/mapping/scores.ts';

// Weights that repeat (hosts of one weight are compared by raw hash) and weights that do not
// (every host its own class, compared by bounds or logarithms).
const weight = fc.oneof(fc.constantFrom(1, 2, 4), fc.integer({ min: 1, max: 9 }), fc.double({ min: 0.25, max: 8, noNaN: true }));
const universe = fc.uniqueArray(fc.record({ name: fc.stringMatching(/^[a-z][a-z0-9]{0,5}$/), weight }), {
  minLength: 1,
  maxLength: 80,
  selector: (h) => h.name,
});

function byScore(table: ReturnType<typeof scoreTable>, b: number, hosts: number[]): number[] {
  return [...hosts].sort((x, y) => (beats(score(table, b, x), x, score(table, b, y), y) ? -1 : 1));
}

test('bestHosts gives each bucket exactly its best host and that pair\'s raw hash', () => {
  fc.assert(
    fc.property(universe, fc.boolean(), fc.integer({ min: 0, max: 0xffffffff }), (hosts, equal, seed) => {
      // An odd count, so the last bucket, ranked without a partner, is checked too.
      const table = scoreTable({ hosts: equal ? hosts.map((h) => ({ ...h, weight: 1 })) : hosts, buckets: 97, seed });
      const ranking = bestHosts(table, Int32Array.from({ length: 97 }, (_, b) => b), -1);
      const all = hosts.map((_, h) => h);
      for (let b = 0; b < 97; b++) {
        const best = byScore(table, b, all)[0]!;
        assert.equal(ranking.hosts[b], best, `bucket ${b}`);
        assert.equal(ranking.raws[b], combine(table.bucketKeys[b]!, table.hostKeys[best]!));
      }
    }),
    { numRuns: 60 },
  );
});

test('bestHosts with a host excluded gives the listed buckets their best other host', () => {
  fc.assert(
    fc.property(universe.filter((hosts) => hosts.length > 1), fc.integer({ min: 0, max: 0xffffffff }), fc.nat(), (hosts, seed, pick) => {
      const table = scoreTable({ hosts, buckets: 64, seed });
      const excluded = pick % hosts.length;
      const buckets = Int32Array.from(new Set(Array.from({ length: 21 }, (_, i) => (i * 7 + pick) % 64))).sort();
      const ranking = bestHosts(table, buckets, excluded);
      const others = hosts.map((_, h) => h).filter((h) => h !== excluded);
      buckets.forEach((b, row) => {
        const best = byScore(table, b, others)[0]!;
        assert.equal(ranking.hosts[row], best, `bucket ${b}`);
        assert.equal(ranking.raws[row], combine(table.bucketKeys[b]!, table.hostKeys[best]!));
      });
    }),
    { numRuns: 60 },
  );
});

const raw = fc.oneof(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0xfff00000, max: 0xffffffff }), fc.constantFrom(0, 1, 0x7fffffff, 0xfffffffe, 0xffffffff));
const w = fc.oneof(fc.constantFrom(1, 2, 4), fc.double({ min: 0.01, max: 100, noNaN: true }));

test('certainlyBelow is never wrong, and decides most pairs far apart', () => {
  let decided = 0;
  fc.assert(
    fc.property(raw, w, raw, w, (rawA, weightA, rawB, weightB) => {
      if (!certainlyBelow(rawA, weightA, rawB, weightB)) return;
      decided += 1;
      assert.ok(weightedScore(rawA, weightA) < weightedScore(rawB, weightB));
      assert.ok(!certainlyBelow(rawB, weightB, rawA, weightA));
    }),
    { numRuns: 20000 },
  );
  assert.ok(decided > 2000, `decided ${decided} of 20000`);
});

test('beatsByRaw decides exactly as the scores do, near ties and extremes included', () => {
  fc.assert(
    fc.property(raw, w, raw, w, fc.boolean(), (rawA, weightA, rawB, weightB, aFirst) => {
      const [a, b] = aFirst ? [0, 1] : [1, 0];
      const expected = beats(weightedScore(rawA, weightA), a, weightedScore(rawB, weightB), b);
      assert.equal(beatsByRaw(rawA, weightA, a, rawB, weightB, b), expected);
    }),
    { numRuns: 20000 },
  );
  // Scores that tie or nearly tie across weights: u^2 against u for weights 2 and 1.
  for (let k = 1; k < 2000; k++) {
    const u = 1 - k / 4096;
    const rawB = Math.round(u * 4294967296 - 0.5);
    const rawA = Math.round(((rawB + 0.5) / 4294967296) ** 2 * 4294967296 - 0.5);
    for (const [ra, rb] of [[rawA, rawB], [rawA + 1, rawB], [rawA - 1, rawB]] as const) {
      assert.equal(beatsByRaw(ra, 2, 0, rb, 1, 1), beats(weightedScore(ra, 2), 0, weightedScore(rb, 1), 1), `raw ${ra} vs ${rb}`);
    }
  }
});
