import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { allSecondChoices, buildPreferenceLists, ownersFromLists, secondChoicesOf } from '../../src/mapping/preference.ts';
import { beats, quotas, score, scoreTable, type ScoreTable } from '../../src/mapping/scores.ts';

// Small universes, checked against the definitions rather than another fast implementation:
// weights that repeat, that do not, and tiny ones that leave a host no share at all.
const weight = fc.oneof(fc.constantFrom(1, 2, 4), fc.double({ min: 0.25, max: 8, noNaN: true }), fc.constantFrom(1e-6));
const universe = fc.uniqueArray(fc.record({ name: fc.stringMatching(/^[a-z][a-z0-9]{0,4}$/), weight }), {
  minLength: 1,
  maxLength: 8,
  selector: (h) => h.name,
});
const input = fc.record({ hosts: universe, buckets: fc.integer({ min: 1, max: 48 }), seed: fc.integer({ min: 0, max: 0xffffffff }) });

/**
 * Both sides rank by the same pair score, so a capacity-filling assignment is the one stable
 * matching exactly when no bucket prefers a host that would rather hold it than one it holds.
 */
function assertStable(table: ScoreTable, buckets: number[], assigned: number[], capacity: ArrayLike<number>, excluded: number, what: string): void {
  const held = Array.from({ length: table.names.length }, () => [] as number[]);
  buckets.forEach((b, i) => held[assigned[i]!]!.push(b));
  held.forEach((list, h) => assert.ok(list.length <= capacity[h]!, `${what}: host ${h} holds ${list.length} > ${capacity[h]}`));
  buckets.forEach((b, i) => {
    const mine = assigned[i]!;
    assert.notEqual(mine, excluded, `${what}: bucket ${b} went to the excluded host`);
    for (let h = 0; h < table.names.length; h++) {
      if (h === excluded || h === mine || !beats(score(table, b, h), h, score(table, b, mine), mine)) continue;
      const full = held[h]!.length === capacity[h];
      const allStronger = held[h]!.every((other) => beats(score(table, other, h), other, score(table, b, h), b));
      assert.ok(full && allStronger, `${what}: bucket ${b} and host ${h} block (bucket holds ${mine})`);
    }
  });
}

test('first choices are the stable matching under exact shares', () => {
  fc.assert(
    fc.property(input, (inp) => {
      const lists = buildPreferenceLists(inp);
      const buckets = Array.from({ length: inp.buckets }, (_, b) => b);
      const share = quotas(inp.buckets, lists.table.weights);
      assertStable(lists.table, buckets, Array.from(lists.first), share, -1, 'first');
      share.forEach((s, h) => assert.equal(lists.first.filter((f) => f === h).length, s, `host ${h} holds its share`));
    }),
    { numRuns: 300 },
  );
});

test('each host\'s second choices are the stable matching of its buckets to the others', () => {
  fc.assert(
    fc.property(input.filter((inp) => inp.hosts.length > 1), (inp) => {
      const lists = buildPreferenceLists(inp);
      const table = scoreTable(inp);
      table.names.forEach((_, down) => {
        const { buckets, hosts } = secondChoicesOf(lists, down);
        assert.deepEqual(Array.from(buckets), Array.from(lists.first.keys()).filter((b) => lists.first[b] === down));
        const taken = table.names.map((__, h) => Array.from(hosts).filter((s) => s === h).length);
        assertStable(table, Array.from(buckets), Array.from(hosts), taken, down, `second of ${down}`);
      });
    }),
    { numRuns: 300 },
  );
});

test('second choices do not depend on which hosts were seen down first', () => {
  fc.assert(
    fc.property(input, fc.array(fc.nat(), { maxLength: 12 }), (inp, picks) => {
      const lazy = buildPreferenceLists(inp);
      const n = lazy.table.names.length;
      for (const pick of picks) secondChoicesOf(lazy, pick % n);
      assert.deepEqual(allSecondChoices(lazy), allSecondChoices(buildPreferenceLists(inp)));
    }),
    { numRuns: 200 },
  );
});

test('owners: first choice if up, else second if up, else the best-scoring host up', () => {
  fc.assert(
    fc.property(input, fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }), (inp, upFlags) => {
      const lists = buildPreferenceLists(inp);
      const { table } = lists;
      const second = allSecondChoices(buildPreferenceLists(inp));
      const healthy = new Set(table.names.filter((_, h) => upFlags[h]));
      const owners = ownersFromLists(lists, healthy);
      for (let b = 0; b < inp.buckets; b++) {
        const up = table.names.map((name) => healthy.has(name));
        let expected: number;
        if (up[lists.first[b]!]) expected = lists.first[b]!;
        else if (second[b]! >= 0 && up[second[b]!]) expected = second[b]!;
        else {
          expected = -1;
          for (let h = 0; h < up.length; h++) {
            if (up[h] && (expected === -1 || beats(score(table, b, h), h, score(table, b, expected), expected))) expected = h;
          }
        }
        assert.equal(owners[b], expected === -1 ? null : table.names[expected], `bucket ${b}`);
      }
    }),
    { numRuns: 300 },
  );
});

test('a weight that is not a finite number above 0 is refused when the lists are built', () => {
  for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
    assert.throws(() => buildPreferenceLists({ hosts: [{ name: 'a', weight: 1 }, { name: 'b', weight: bad }], buckets: 16, seed: 1 }), /host b: weight must be a finite number above 0/);
  }
});
