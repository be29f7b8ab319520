/**
 * The classification of check results (code -> the host could not be reached, answered, or
 * nothing can be told) and the kill decision built on it. The table below is written out again
 * on purpose: a code added to codes.ts, or written in src/health without being listed there,
 * fails here until someone decides what it means.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import type { KillStatesPolicy } from '../../src/config/model.ts';
import { CHECK_CODES } from '../../src/health/codes.ts';
import { decideKill, isClassified, reachability, type FailedCheck, type Reachability } from '../../src/health/reachability.ts';

const TYPES = ['exec', 'tcp', 'http', 'https'] as const;
type Type = (typeof TYPES)[number];

const U: Reachability = 'unreachable';
const A: Reachability = 'answered';
const I: Reachability = 'inconclusive';
const all = (r: Reachability): Record<Type, Reachability> => ({ exec: r, tcp: r, http: r, https: r });

const EXPECTED: Record<string, Record<Type, Reachability>> = {
  ok: all(A),
  refused: all(U),
  reset: all(U),
  unreachable: all(U),
  timeout: { exec: I, tcp: U, http: U, https: U },
  'connect-timeout': all(U),
  'tls-timeout': all(U),
  'response-timeout': all(I),
  'body-timeout': all(I),
  'tls-handshake': all(U),
  'tls-verify': all(A),
  error: all(I),
  'http-status': all(A),
  'http-body': all(A),
  'tcp-expect': all(A),
  'exit-code': all(I),
  'exit-unreachable': all(U),
  escaped: all(A),
  killed: all(I),
  'spawn-failed': all(I),
};

test('every code in codes.ts has an expected meaning here, and nothing here is missing from codes.ts', () => {
  assert.deepEqual(Object.keys(EXPECTED).sort(), [...CHECK_CODES].sort());
});

test('every code, for every check type, is classified as expected', () => {
  for (const code of CHECK_CODES) {
    assert.ok(isClassified(code), code);
    for (const type of TYPES) assert.equal(reachability(type, code), EXPECTED[code]![type], `${type} ${code}`);
  }
});

test('every result code written in src/health is listed in codes.ts (and so classified)', () => {
  const dir = new URL('../../src/health/', import.meta.url).pathname;
  const written = new Set<string>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    const text = readFileSync(join(dir, file), 'utf8');
    // A result is built as done(ok, 'code', ...); networkCode() returns its codes.
    for (const m of text.matchAll(/done\([^,()]+,\s*'([^']+)'/g)) written.add(m[1]!);
    if (file === 'codes.ts') for (const m of text.matchAll(/return '([^']+)'/g)) written.add(m[1]!);
  }
  assert.ok(written.size >= 10, `found only ${[...written].join(', ')}: has the way results are built changed?`);
  assert.deepEqual([...written].filter((code) => !isClassified(code)), [], 'codes emitted but not classified');
});

test('a code nobody classified is inconclusive, so it never kills states', () => {
  assert.equal(isClassified('connect-timeout-new'), false);
  for (const type of TYPES) assert.equal(reachability(type, 'connect-timeout-new'), 'inconclusive');
  assert.deepEqual(decideKill('unreachable', [{ check: 'c', type: 'http', code: 'something-new' }]), { kill: false, reason: 'something-new' });
});

const fail = (code: string, type: Type = 'http', check = `${type}-${code}`): FailedCheck => ({ check, type, code });

test('reasons -> kill or keep under each policy', () => {
  const cases: Array<[KillStatesPolicy, FailedCheck[], boolean, string]> = [
    // haproxy killed: connections refused.
    ['unreachable', [fail('refused')], true, 'refused'],
    // host silent: connect timed out.
    ['unreachable', [fail('timeout', 'tcp')], true, 'timeout'],
    ['unreachable', [fail('timeout', 'https'), fail('tls-handshake', 'https', 'tls')], true, 'timeout+tls-handshake'],
    ['unreachable', [fail('exit-unreachable', 'exec')], true, 'exit-unreachable'],
    // haproxy `monitor fail`: 503, a planned drain.
    ['unreachable', [fail('http-status')], false, 'http-status'],
    ['unreachable', [fail('exit-code', 'exec')], false, 'exit-code'],
    ['unreachable', [fail('timeout', 'exec')], false, 'timeout'],
    // One check got an answer: the host is there.
    ['unreachable', [fail('refused', 'tcp'), fail('http-status')], false, 'http-status+refused'],
    ['unreachable', [], false, 'none'],
    ['always', [fail('http-status')], true, 'always'],
    ['always', [], true, 'always'],
    ['never', [fail('refused')], false, 'never'],
  ];
  for (const [policy, failed, kill, reason] of cases) {
    assert.deepEqual(decideKill(policy, failed), { kill, reason }, `${policy} ${JSON.stringify(failed)}`);
  }
});

const failedChecks = fc.array(
  fc.record({ check: fc.string({ maxLength: 4 }), type: fc.constantFrom(...TYPES), code: fc.oneof(fc.constantFrom(...CHECK_CODES), fc.string({ maxLength: 6 })) }),
  { maxLength: 5 },
);

test('property: `unreachable` kills exactly when every failing check says unreachable; an answering check only ever keeps', () => {
  fc.assert(
    fc.property(failedChecks, fc.constantFrom(...TYPES), fc.constantFrom('ok', 'http-status', 'tcp-expect', 'tls-verify', 'exit-code'), (failed, type, keeping) => {
      const { kill } = decideKill('unreachable', failed);
      assert.equal(kill, failed.length > 0 && failed.every((f) => reachability(f.type, f.code) === 'unreachable'));
      assert.equal(decideKill('unreachable', [...failed, { check: 'x', type, code: keeping }]).kill, false);
      assert.equal(decideKill('always', failed).kill, true);
      assert.equal(decideKill('never', failed).kill, false);
    }),
  );
});
