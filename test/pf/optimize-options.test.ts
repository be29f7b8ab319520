/**
 * pfctl's `-o LEVEL` as the emulator reads it, against what the real builds answered (recorded
 * below, checked live where the builds exist), and the loads the emulator refuses rather than
 * guess what the optimizer would make of them.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parseAddress } from '../../src/net/address.ts';
import { runOrUsage } from '../pf-emulator/cli.ts';
import { PfEmulator } from '../pf-emulator/emulator.ts';
import type { Os } from '../pf-emulator/grammar.ts';
import { usage } from '../pf-emulator/outcome.ts';
import { Store } from '../pf-emulator/store.ts';
import { findPfctl } from './optimize-corpus.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'pfsteer-optimize-opt-'));
  dirs.push(dir);
  return dir;
}

function store(os: Os): Store {
  const dir = scratch();
  writeFileSync(join(dir, 'os'), os);
  return new Store(dir);
}

const SEVEN = '{ 203.0.113.1 203.0.113.2 203.0.113.3 203.0.113.4 203.0.113.5 203.0.113.6 203.0.113.7 }';
const RULES: Record<Os, string> = {
  freebsd: `rdr on em0 inet proto tcp from <lb1-v4> to ${SEVEN} port 80 -> 10.0.1.1\npass in quick on em0 inet proto tcp from any to ${SEVEN} port 80\n`,
  openbsd: `pass in quick on em0 inet proto tcp from <lb1-v4> to ${SEVEN} port 80 rdr-to 10.0.1.1\n`,
};

/** What real `pfctl ARGS -f FILE` printed on stderr and its exit status; `-n` keeps it a dry run. */
const ANSWERS: Array<{ args: string[]; exit: number; stderr: (os: Os) => string }> = [
  ...['none', 'basic', 'n', 'b', 'no', 'bas'].map((level) => ({ args: ['-n', '-o', level], exit: 0, stderr: () => '' })),
  { args: ['-n', '-o', 'basic', '-o', 'none'], exit: 0, stderr: () => '' },
  ...['bogus', '', 'nonex', 'NONE', 'basicx'].map((level) => ({ args: ['-n', '-o', level], exit: 1, stderr: (os: Os) => `pfctl: Unknown optimization '${level}'\n${usage(os).stderr}` })),
  { args: ['-n', '-o', 'bogus', '-o', 'none'], exit: 1, stderr: (os: Os) => `pfctl: Unknown optimization 'bogus'\n${usage(os).stderr}` },
  { args: ['-n', '-o', 'none', '-o', 'bogus'], exit: 1, stderr: (os: Os) => `pfctl: Unknown optimization 'bogus'\n${usage(os).stderr}` },
];

function fileFor(os: Os): string {
  const file = join(scratch(), `${os}.pf`);
  writeFileSync(file, RULES[os]);
  return file;
}

for (const os of ['freebsd', 'openbsd'] as const) {
  test(`${os}: -o takes none, basic and profile or a prefix of one; anything else is pfctl's usage error`, () => {
    const file = fileFor(os);
    for (const a of ANSWERS) {
      const r = runOrUsage([...a.args, '-f', file], () => '', store(os));
      assert.deepEqual({ exit: r.code, stderr: r.stderr }, { exit: a.exit, stderr: a.stderr(os) }, a.args.join(' '));
    }
  });
}

test('live: the real builds answer -o as recorded above', { skip: findPfctl('freebsd') && findPfctl('openbsd') ? false : 'pfctl builds not found next to pfparse' }, () => {
  for (const os of ['freebsd', 'openbsd'] as const) {
    const file = fileFor(os);
    for (const a of ANSWERS) {
      const r = spawnSync(findPfctl(os)!, [...a.args, '-f', file], { encoding: 'utf8' });
      const stderr = r.stderr.replace(/pfctl-(?:freebsd12|openbsd)/g, 'pfctl');
      assert.deepEqual({ exit: r.status, stderr }, { exit: a.exit, stderr: a.stderr(os) }, `${os} ${a.args.join(' ')}`);
    }
  }
});

function load(s: Store, args: string[], text: string): { code: number; stderr: string } {
  const r = runOrUsage([...args, '-f', '-'], () => text, s);
  return { code: r.code, stderr: r.stderr };
}

function shown(s: Store, anchor: string): string {
  return runOrUsage(['-a', anchor, '-s', 'rules'], () => '', s).stdout;
}

test('level profile, optimized inline anchors and an optimized main ruleset are refused, naming what is not emulated; -o none loads them', () => {
  const s = store('openbsd');
  const inline = `anchor "in" {\n${RULES.openbsd}}\n`;
  const refusals: Array<[string[], string, RegExp]> = [
    [['-a', 'pfsteer', '-o', 'profile'], RULES.openbsd, /^pfctl emulator: ruleset-optimization profile .* is not emulated/],
    [['-a', 'pfsteer'], `set ruleset-optimization profile\n${RULES.openbsd}`, /^pfctl emulator: ruleset-optimization profile .* is not emulated/],
    [['-a', 'pfsteer'], inline, /^pfctl emulator: ruleset optimization inside an inline anchor is not emulated/],
    [[], RULES.openbsd, /^pfctl emulator: ruleset optimization of the main ruleset is not emulated/],
  ];
  for (const [args, text, message] of refusals) {
    const r = load(s, args, text);
    assert.equal(r.code, 1, args.join(' '));
    assert.match(r.stderr, message);
    assert.equal(shown(s, 'pfsteer'), '', 'nothing loaded');
  }
  assert.equal(load(s, ['-a', 'pfsteer', '-o', 'none'], inline).code, 0);
  assert.equal(load(s, ['-o', 'none'], RULES.openbsd).code, 0);
  assert.equal(load(s, ['-a', 'pfsteer', '-o', 'none'], RULES.openbsd).code, 0);
  assert.equal(shown(s, 'pfsteer').split('\n').filter(Boolean).length, 7);
});

test('rules the optimizer leaves as they are load at any level, the main ruleset and profile included', () => {
  const s = store('freebsd');
  const rdr = `rdr on em0 inet proto tcp from <lb1-v4> to ${SEVEN} port 80 -> 10.0.1.1\n`;
  assert.equal(load(s, ['-a', 'pfsteer', '-o', 'profile'], rdr).code, 0, 'FreeBSD translation rules are not optimized');
  assert.equal(load(s, [], 'table <ext> { 192.0.2.10 }\nrdr-anchor "pfsteer"\nanchor "pfsteer"\npass in all\n').code, 0);
  assert.equal(runOrUsage(['-a', 'pfsteer', '-s', 'nat'], () => '', s).stdout.split('\n').filter(Boolean).length, 7);
});

test('a packet meets an optimized anchor as pf would: one rule and two table lookups where -o none has seven rules', () => {
  const packet = (destination: string) => ({ source: parseAddress('10.1.2.3')!, destination: parseAddress(destination)!, port: 80, interface: 'em0' });
  const anchor = `table <lb1-v4> persist { 10.1.0.0/16 }\n${RULES.openbsd}`;
  const seen: Record<string, { rules: number; lookups: number; to: string[] }> = {};
  for (const level of ['basic', 'none']) {
    const e = new PfEmulator('openbsd');
    try {
      e.loadMain('anchor "pfsteer"\n');
      assert.equal(load(e.store, ['-a', 'pfsteer', '-o', level], anchor).code, 0);
      const last = e.evaluate(packet('203.0.113.7'));
      seen[level] = { rules: last.rulesEvaluated, lookups: last.tableLookups, to: ['203.0.113.1', '203.0.113.7', '203.0.113.8'].map((d) => e.evaluate(packet(d)).answer.address) };
    } finally {
      e.cleanup();
    }
  }
  // The hook in the main ruleset counts one rule; the anchor one (basic) or seven (none).
  assert.deepEqual(seen, {
    basic: { rules: 2, lookups: 2, to: ['10.0.1.1', '10.0.1.1', '203.0.113.8'] },
    none: { rules: 8, lookups: 7, to: ['10.0.1.1', '10.0.1.1', '203.0.113.8'] },
  });
});
