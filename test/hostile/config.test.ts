/**
 * Hostile configs: pf and nft syntax pushed through every string field (scripted and
 * property-based), alias amplification, nesting, repeated keys and sheer size. Every case ends
 * in one of two ways, within a bound: a ConfigError whose every problem has a position, or a
 * valid config whose pf anchors (both dialects), pf.conf snippet and nft batch carry the
 * injected text only as one plain word, never as syntax.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { aliasBomb, aliasedChecks, baseTree, deepDashes, deepFlow, describeField, FIELDS, judge, manyKeys, MARK, PAYLOADS, withValue } from './config-cases.ts';

test('scripted: pf and nft syntax through every string field is refused at its place or stays one plain word', () => {
  const counts = { rejected: 0, accepted: 0 };
  for (const field of FIELDS) {
    for (const payload of PAYLOADS) {
      const what = `${describeField(field)} = ${JSON.stringify(payload.slice(0, 60))}`;
      counts[judge(stringify(withValue(field, payload)), what)]++;
    }
  }
  assert.equal(counts.rejected + counts.accepted, FIELDS.length * PAYLOADS.length);
  // A payload with a space, a brace or a newline is never a name; plain words may be accepted.
  assert.ok(counts.rejected > counts.accepted, `${counts.rejected} rejected, ${counts.accepted} accepted`);
});

test('scripted: a payload written into the YAML text unquoted, at every field, is refused or plain', () => {
  const base = stringify(baseTree());
  for (const value of ['em0', 'pfsteer', 'wheel', 'lb1', '/haproxy_check', '10.0.1.11']) {
    for (const payload of PAYLOADS) judge(base.replaceAll(value, payload), `raw ${value} -> ${JSON.stringify(payload.slice(0, 60))}`);
  }
});

/** Strings built from the characters that mean something to YAML, pf, nft or a shell. */
const hostileString = fc
  .array(fc.oneof(fc.constantFrom('{', '}', '[', ']', '<', '>', ';', '#', '"', "'", '\n', '\r', '\t', ' ', '\\', '$', '`', '|', '&', '*', '!', ':', ',', '-', '/', '.', '\u0000', 'é', 'rdr ', 'pass ', 'quick ', '-> ', 'flush ', 'table ', 'add ', 'any', '0/0'), fc.string({ maxLength: 4 })), { maxLength: 12 })
  .map((parts) => `${parts.join('')}${MARK}`);

test('property: any hostile string in any field is refused at its place or stays one plain word', () => {
  fc.assert(
    fc.property(fc.constantFrom(...FIELDS), hostileString, (field, payload) => {
      judge(stringify(withValue(field, payload)), `${describeField(field)} = ${JSON.stringify(payload)}`);
    }),
    { numRuns: 200 },
  );
});

test('property: aliases, nesting, repeated keys and size are refused with a position in bounded time', () => {
  const shaped = fc.oneof(
    fc.record({ hosts: fc.integer({ min: 1, max: 1500 }), checks: fc.integer({ min: 1, max: 80 }), invalid: fc.boolean() }).map(({ hosts, checks, invalid }) => aliasedChecks(hosts, checks, invalid)),
    fc.integer({ min: 1, max: 14 }).map(aliasBomb),
    fc.integer({ min: 1, max: 3000 }).map(deepFlow),
    fc.integer({ min: 1, max: 3000 }).map(deepDashes),
    fc.integer({ min: 1, max: 3000 }).map(manyKeys),
    fc.record({ host: fc.constantFrom('lb1', 'lb2'), times: fc.integer({ min: 2, max: 50 }) }).map(({ host, times }) => {
      const text = stringify(baseTree());
      const line = text.split('\n').find((l) => l.startsWith(`  ${host}:`))!;
      return text.replace(line, Array.from({ length: times }, () => line).join('\n'));
    }),
  );
  fc.assert(
    fc.property(shaped, (text) => {
      judge(text, `${text.length} bytes: ${JSON.stringify(text.slice(0, 80))}`, false);
    }),
    { numRuns: 60 },
  );
});
