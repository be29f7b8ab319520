/**
 * Bounds on what a config may make the loader do: alias expansion, nesting, hosts and checks,
 * repeated keys, and settings that would only fail at run time (nft table names, socket paths).
 * Times are generous upper bounds for a loaded machine, not speed targets (see
 * bench/results/hostile.md for the figures).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { parseConfig } from '../../src/config/load.ts';
import { MAX_DEPTH } from '../../src/config/depth.ts';
import { nameProblem } from '../../src/config/names.ts';
import { NFT_KEYWORDS } from '../../src/config/nft-keywords.ts';
import { MAX_CHECKS, MAX_HOSTS } from '../../src/config/validate-hosts.ts';
import { MAX_HOST_CHECKS } from '../../src/config/validate-checks.ts';
import { ConfigError, type ConfigIssue } from '../../src/errors.ts';
import { aliasBomb, aliasedChecks, aliasedChecksOfSize, deepDashes, deepFlow, manyKeys, SERVICE } from '../hostile/config-cases.ts';

// The loaded 2-core CI machine gives a test a fraction of a core; the old loader took minutes.
const BOUND_MS = 10_000;

function rejection(text: string): { issues: readonly ConfigIssue[]; ms: number } {
  const started = performance.now();
  try {
    parseConfig(text, 'hostile.yaml');
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return { issues: error.issues, ms: performance.now() - started };
  }
  assert.fail('the config loaded');
}

function assertLocatedRejection(text: string, codes: readonly string[]): ConfigIssue {
  const { issues, ms } = rejection(text);
  assert.ok(ms < BOUND_MS, `rejected after ${ms.toFixed(0)} ms`);
  const first = issues[0]!;
  assert.ok(codes.includes(first.code), `${first.code}: ${first.message}`);
  assert.ok(first.pos, 'the rejection has a position');
  return first;
}

for (const [name, text] of [
  ['118 KB of hosts aliasing one list of checks', aliasedChecksOfSize(118_000, 20)],
  ['358 KB of hosts aliasing one list of checks', aliasedChecksOfSize(358_000, 60)],
  ['an invalid 265 KB variant (every expanded check wrong)', aliasedChecksOfSize(265_000, 40, true)],
] as const) {
  test(`alias amplification: ${name} is refused at an alias, in bounded time`, () => {
    assert.ok(text.length >= 100_000, `${text.length} bytes`);
    const issue = assertLocatedRejection(text, ['alias-expansion']);
    assert.match(text.split('\n')[issue.pos!.line - 1]!, /\*c/);
  });
}

test('alias bomb: ten levels of ten aliases (10^10 nodes) is refused at once', () => {
  const issue = assertLocatedRejection(aliasBomb(10), ['alias-expansion']);
  assert.ok(issue.pos!.line <= 11, `at line ${issue.pos!.line}`);
});

test('an alias inside the node it names is refused, not followed for ever', () => {
  assertLocatedRejection(`${SERVICE.join('\n')}\nhosts: &h {lb1: *h}\n`, ['alias-cycle']);
});

test('nesting deeper than MAX_DEPTH is refused where it gets too deep, in bounded time', () => {
  for (const [text, line] of [
    [deepFlow(100_000), 3],
    [deepFlow(MAX_DEPTH + 5), 3],
    [deepDashes(200_000), 4],
  ] as const) {
    const issue = assertLocatedRejection(text, ['too-deep']);
    assert.equal(issue.pos!.line, line);
  }
});

test('a mapping of 10 000 keys is read in bounded time (yaml compared every key with every other)', () => {
  assertLocatedRejection(manyKeys(10_000), ['wrong-type', 'too-many-hosts']);
});

test(`at most ${MAX_HOSTS} hosts, ${MAX_HOST_CHECKS} checks per host, ${MAX_CHECKS} checks in all`, () => {
  assert.equal(parseConfig(aliasedChecks(MAX_HOSTS - 1, 4), 'ok.yaml').hosts.length, MAX_HOSTS);
  const hosts = assertLocatedRejection(aliasedChecks(MAX_HOSTS, 1), ['too-many-hosts']);
  // Lines: 2 of services, `hosts:`, host lb in 4 lines, then lb0...: host MAX_HOSTS + 1 is lb(MAX_HOSTS - 1).
  assert.equal(hosts.pos!.line, 6 + 1 + MAX_HOSTS);
  const perHost = assertLocatedRejection(aliasedChecks(1, MAX_HOST_CHECKS + 1), ['too-many-checks']);
  assert.equal(perHost.pos!.line, 6 + MAX_HOST_CHECKS + 1);
  const total = assertLocatedRejection(aliasedChecks(MAX_CHECKS / 8, 8), ['too-many-checks']);
  assert.equal(total.pos!.line, 6 + 8 + MAX_CHECKS / 8);
});

test('a repeated key is reported once per place, however many aliases reach it', () => {
  const text = [...SERVICE, 'x: &bad {type: tcp, port: 80, port: 81}', 'hosts:', ...Array.from({ length: 50 }, (_, i) => `  lb${i}: {addresses: {web: 10.0.0.${i}}, checks: [*bad]}`)].join('\n');
  const { issues } = rejection(text);
  assert.deepEqual(
    issues.filter((i) => i.code === 'duplicate-key').map((i) => `${i.pos?.line}:${i.pos?.col}`),
    ['3:31'],
  );
});

test('nft table names: identifiers only, no digit first, no nft keyword', () => {
  for (const name of ['1x', '0', 'map', 'counter', 'table', 'ip', 'maps', 'rules']) assert.ok(nameProblem('nft table', name), name);
  for (const name of ['pfsteer', 'x1', 'a.b', 'a-b', 'a_b', 'Map']) assert.equal(nameProblem('nft table', name), undefined, name);
  for (const keyword of NFT_KEYWORDS) assert.ok(nameProblem('nft table', keyword), keyword);
});

test('what the config accepts as an nft table name, nft accepts', async (t) => {
  const run = promisify(execFile);
  const nft = await run('nft', ['--version']).then(() => true, () => false);
  if (!nft) return t.skip('nft is not installed');
  const accepted = ['pfsteer', 'x1', 'a.b', 'a-b', 'a_b', 'Map', 'gre', 'vxlan', 'tunnel', 'last', 'destroy'].filter((name) => nameProblem('nft table', name) === undefined);
  for (const name of accepted) {
    for (const command of [`add table inet ${name}`, `list table inet ${name}`]) {
      // -c: parse and check only; a missing table is the one error a parsed command may give.
      const result = await run('nft', ['-c', command]).then(() => '', (error: { stderr: string }) => error.stderr);
      assert.ok(result === '' || /No such file or directory/.test(result), `nft -c '${command}': ${result}`);
    }
  }
});

test('control.socket: at most 103 bytes, the FreeBSD sun_path less its NUL', () => {
  const config = (socket: string) => [...SERVICE, 'hosts:', '  lb1: {addresses: {web: 10.0.1.11}}', 'control:', `  socket: ${socket}`].join('\n');
  const fits = `/var/run/${'p'.repeat(103 - '/var/run/'.length - '.sock'.length)}.sock`;
  assert.equal(Buffer.byteLength(fits), 103);
  assert.equal(parseConfig(config(fits), 'ok.yaml').control.socket, fits);
  const issue = assertLocatedRejection(config(`${fits.slice(0, -5)}p.sock`), ['path-too-long']);
  assert.deepEqual(issue.pos, { line: 6, col: 11 });
  // Bytes, not characters: é is two.
  assertLocatedRejection(config(`${fits.slice(0, -6)}é.sock`), ['path-too-long']);
});
