/**
 * The emulator on the anchor layout of blocks per (interface, family, port), each opened by a
 * gate that never matches an untagged packet (`no rdr ... tagged pfsteer-gate` on FreeBSD,
 * `match in ... tagged pfsteer-gate` on OpenBSD): printed back as pfctl prints them, and
 * evaluated with pf's skip steps so that a packet for another port jumps over a whole block.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { execa } from 'execa';
import { formatAddress, parseAddress } from '../../src/net/address.ts';
import { PfEmulator } from '../pf-emulator/emulator.ts';
import type { Packet } from '../pf-emulator/evaluate.ts';
import { findPfparse } from './pfparse-corpus.ts';

type Os = 'freebsd' | 'openbsd';

const emulators: PfEmulator[] = [];
after(() => {
  for (const e of emulators) e.cleanup();
});

function emulator(os: Os): PfEmulator {
  const e = new PfEmulator(os);
  emulators.push(e);
  return e;
}

async function pfctl(e: PfEmulator, args: string[], input?: string) {
  return execa(e.pfctl, args, { reject: false, env: e.env(), ...(input === undefined ? {} : { input }) });
}

/**
 * Rules and what `pfctl -nv` (FreeBSD with -P, numeric ports, as the emulator prints them)
 * printed for them with the real pfctl builds of /work/shared/pfreal.
 */
const PRINTED: Record<Os, { text: string; printed: string[] }> = {
  freebsd: {
    text: [
      'no rdr on em0 inet proto tcp from any to any port 80 tagged pfsteer-gate',
      'rdr on em0 inet proto tcp from <lb1-v4> to <ext> port 80 -> 10.0.1.11',
      'rdr on em0 inet proto tcp from <lb1-v4> to <ext> port 80 -> 10.0.1.11 port 8080',
      'rdr on em0 inet proto tcp from any to any port 443 tag foo ! tagged bar -> 10.0.1.11',
      'rdr on em0 inet proto tcp from any to any port 443 tagged foo bar -> 10.0.1.11',
      'no rdr on em0 inet proto tcp from any to any port { 8080 8443 } tagged g',
      'no rdr all',
      '',
    ].join('\n'),
    printed: [
      'no rdr on em0 inet proto tcp from any to any port = 80 tagged pfsteer-gate',
      'rdr on em0 inet proto tcp from <lb1-v4> to <ext> port = 80 -> 10.0.1.11',
      'rdr on em0 inet proto tcp from <lb1-v4> to <ext> port = 80 -> 10.0.1.11 port 8080',
      'rdr on em0 inet proto tcp from any to any port = 443 tag foo ! tagged bar -> 10.0.1.11',
      'rdr on em0 inet proto tcp from any to any port = 443 tagged foo bar -> 10.0.1.11',
      'no rdr on em0 inet proto tcp from any to any port = 8080 tagged g',
      'no rdr on em0 inet proto tcp from any to any port = 8443 tagged g',
      'no rdr all',
    ],
  },
  openbsd: {
    text: [
      'match in on em0 inet proto tcp from any to any port 80 tagged pfsteer-gate',
      'pass in quick on em0 inet proto tcp from <lb1-v4> to <ext> port 80 rdr-to 10.0.1.11',
      'pass in quick on em0 inet proto tcp from <lb1-v4> to <ext> port 443 tagged x tag y rdr-to 10.0.1.11 port 8080',
      'pass in quick on em0 inet proto tcp from <lb1-v4> to <ext> port 8443 ! tagged x rdr-to 10.0.1.11',
      'match in on em0 inet proto tcp from any to any port 8080 tagged "foo bar"',
      'match in on em1 tagged g',
      '',
    ].join('\n'),
    printed: [
      'match in on em0 inet proto tcp from any to any port = 80 tagged pfsteer-gate',
      'pass in quick on em0 inet proto tcp from <lb1-v4> to <ext> port = 80 flags S/SA rdr-to 10.0.1.11',
      'pass in quick on em0 inet proto tcp from <lb1-v4> to <ext> port = 443 flags S/SA tag y tagged x rdr-to 10.0.1.11 port 8080',
      'pass in quick on em0 inet proto tcp from <lb1-v4> to <ext> port = 8443 flags S/SA ! tagged x rdr-to 10.0.1.11',
      'match in on em0 inet proto tcp from any to any port = 8080 tagged foo bar',
      'match in on em1 all tagged g',
    ],
  },
};

for (const os of ['freebsd', 'openbsd'] as const) {
  test(`${os}: gates, tag and tagged print back as pfctl -nv prints them`, async () => {
    const e = emulator(os);
    const { text, printed } = PRINTED[os];
    assert.equal((await pfctl(e, ['-a', 'pfsteer', '-f', '-'], text)).exitCode, 0);
    const shown = await pfctl(e, ['-a', 'pfsteer', '-s', os === 'freebsd' ? 'nat' : 'rules']);
    assert.deepEqual(shown.stdout.split('\n').filter(Boolean), printed);
  });
}

const pfparse = findPfparse();
const real = (os: Os): string | undefined => {
  const path = pfparse.path && join(pfparse.path, '..', os === 'freebsd' ? 'pfctl-freebsd12' : 'pfctl-openbsd');
  return path && existsSync(path) ? path : undefined;
};

test('live: the real pfctl builds still print these rules as recorded above', { skip: real('freebsd') && real('openbsd') ? false : `pfctl builds not found next to pfparse (looked at ${pfparse.looked.join(', ')})` }, () => {
  for (const os of ['freebsd', 'openbsd'] as const) {
    const r = spawnSync(real(os)!, ['-nv', ...(os === 'freebsd' ? ['-P'] : []), '-a', 'pfsteer', '-f', '-'], { input: PRINTED[os].text, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.split('\n').filter(Boolean), PRINTED[os].printed, os);
  }
});

const HOSTS = 4;
const PORTS = [80, 443];

/**
 * Four hosts, each with its /16 (`<h1-v4>` = 10.1.0.0/16 ... `<h4-v4>` = 10.4.0.0/16), and per
 * port a block: its gate, then one rule per host from the host's table to `<ext>` (held in the
 * main ruleset, as pfsteer's rules name it). Counter indexes in the anchor:
 *   0 gate 80, 1-4 h1..h4 port 80, 5 gate 443, 6-9 h1..h4 port 443.
 * Skip steps (pf_calc_skip_steps): the gate at 0 skips on DST_PORT to 5, the gate at 5 to the
 * end (10); a host rule at i skips on SRC_ADDR to i + 1 (the next rule has another table; the
 * last of a block to the next gate, whose source is `any`), and on DST_ADDR to the end of its
 * run of `to <ext>` rules, which the next gate (`to any`) ends: 1-4 to 5, 6-9 to 10.
 */
function blocks(os: Os): { main: string; anchor: string } {
  const tables = Array.from({ length: HOSTS }, (_, h) => `table <h${h + 1}-v4> persist { 10.${h + 1}.0.0/16 }`);
  const rules = PORTS.flatMap((port) => [
    os === 'freebsd' ? `no rdr on em0 inet proto tcp from any to any port ${port} tagged pfsteer-gate` : `match in on em0 inet proto tcp from any to any port ${port} tagged pfsteer-gate`,
    ...Array.from({ length: HOSTS }, (_, h) =>
      os === 'freebsd'
        ? `rdr on em0 inet proto tcp from <h${h + 1}-v4> to <ext> port ${port} -> 10.0.1.${11 + h}`
        : `pass in quick on em0 inet proto tcp from <h${h + 1}-v4> to <ext> port ${port} rdr-to 10.0.1.${11 + h}`,
    ),
  ]);
  return { main: `table <ext> { 192.0.2.10 }\n${os === 'freebsd' ? 'rdr-anchor' : 'anchor'} "pfsteer"\n`, anchor: [...tables, ...rules, ''].join('\n') };
}

async function loaded(os: Os): Promise<PfEmulator> {
  const e = emulator(os);
  const { main, anchor } = blocks(os);
  e.loadMain(main);
  const r = await pfctl(e, ['-a', 'pfsteer', '-f', '-'], anchor);
  assert.equal(r.exitCode, 0, r.stderr);
  return e;
}

const packet = (source: string, port: number, extra: Partial<Packet> = {}): Packet => ({ source: parseAddress(source)!, destination: parseAddress('192.0.2.10')!, port, interface: 'em0', ...extra });

/**
 * Per packet, by hand (the main ruleset's hook counts one rule and no lookup on both systems):
 * - 10.4.0.7 -> :443: gate 0 fails its port (skip to 5); gate 5 passes the port and fails
 *   `tagged` (next: 6); 6, 7, 8 look up their table and miss (skip to the next host); 9 looks up
 *   <h4-v4> (hit) and <ext> (hit): N + 1 = 5 lookups, rules 0 5 6 7 8 9, to 10.0.1.14.
 * - 10.1.0.7 -> :80: gate 0 fails `tagged`; 1 looks up <h1-v4> and <ext>, both hit: 2 lookups.
 * - 10.4.0.7 -> :22: gate 0 skips to gate 5, which skips to the end: 0 lookups, nothing matches.
 * - 172.16.0.1 -> :443 (no host's prefix): 6-9 miss one lookup each: N = 4 lookups.
 * - 10.1.0.7 -> 192.0.2.99:443 (not the service address): 6 hits <h1-v4> and misses <ext>, whose
 *   run (6-9) it skips whole: 2 lookups.
 */
const COSTS: Array<{ packet: Packet; lookups: number; rules: number[]; address: string | null }> = [
  { packet: packet('10.4.0.7', 443), lookups: HOSTS + 1, rules: [0, 5, 6, 7, 8, 9], address: '10.0.1.14' },
  { packet: packet('10.1.0.7', 80), lookups: 2, rules: [0, 1], address: '10.0.1.11' },
  { packet: packet('10.4.0.7', 22), lookups: 0, rules: [0, 5], address: null },
  { packet: packet('172.16.0.1', 443), lookups: HOSTS, rules: [0, 5, 6, 7, 8, 9], address: null },
  { packet: packet('10.1.0.7', 443, { destination: parseAddress('192.0.2.99')! }), lookups: 2, rules: [0, 5, 6], address: null },
];

for (const os of ['freebsd', 'openbsd'] as const) {
  test(`${os}: gates make a packet cost its block's table lookups only, as computed by hand`, async () => {
    const e = await loaded(os);
    for (const c of COSTS) {
      const r = e.evaluate(c.packet);
      const what = `${os}: ${formatAddress(c.packet.source)} -> ${formatAddress(c.packet.destination)}:${c.packet.port}`;
      assert.equal(r.tableLookups, c.lookups, what);
      assert.deepEqual(r.evaluated.get('pfsteer'), c.rules, what);
      assert.equal(r.rulesEvaluated, 1 + c.rules.length, what);
      assert.equal(r.answer.anchor === null ? null : r.answer.address, c.address, what);
    }
  });
}

test('freebsd: a packet carrying the gate tag matches the gate `no rdr`, which decides: not redirected, no state', async () => {
  const e = await loaded('freebsd');
  const tagged = packet('10.1.0.7', 80, { tag: 'pfsteer-gate' });
  const r = e.evaluate(tagged);
  assert.deepEqual([r.answer.anchor, r.answer.rule, r.answer.address, r.answer.port], ['pfsteer', 'no rdr on em0 inet proto tcp from any to any port = 80 tagged pfsteer-gate', '192.0.2.10', 80]);
  assert.deepEqual([r.matched, r.tableLookups, r.evaluated.get('pfsteer')], [{ anchor: 'pfsteer', index: 0, no: true }, 0, [0]]);
  e.route(tagged, { establish: true });
  assert.deepEqual(e.memory().states, []);
  assert.equal(e.memory().anchors.pfsteer!.counters[0]!.evaluations, 1);
  assert.equal(e.memory().anchors.pfsteer!.counters[0]!.packets, 0);
  // Another tag fails `tagged` like no tag at all.
  assert.equal(e.evaluate(packet('10.1.0.7', 80, { tag: 'other' })).answer.address, '10.0.1.11');
});

test('openbsd: a packet carrying the gate tag matches the gate `match`, which changes nothing: the block still redirects it', async () => {
  const e = await loaded('openbsd');
  const r = e.evaluate(packet('10.4.0.7', 443, { tag: 'pfsteer-gate' }));
  assert.deepEqual([r.answer.address, r.tableLookups, r.evaluated.get('pfsteer')], ['10.0.1.14', HOSTS + 1, [0, 5, 6, 7, 8, 9]]);
});

test('a matching rule with `tag` tags the packet for the `tagged` rules after it; `! tagged` matches the others', async () => {
  const e = emulator('openbsd');
  e.loadMain('anchor "pfsteer"\n');
  const text = [
    'match in on em0 inet proto tcp from 10.1.0.0/16 to any tag steered',
    'pass in quick on em0 inet proto tcp from any to any port 443 tagged steered rdr-to 10.0.1.11',
    'pass in quick on em0 inet proto tcp from any to any port 443 ! tagged steered rdr-to 10.0.1.12',
    '',
  ].join('\n');
  assert.equal((await pfctl(e, ['-a', 'pfsteer', '-f', '-'], text)).exitCode, 0);
  assert.equal(e.evaluate(packet('10.1.0.7', 443)).answer.address, '10.0.1.11');
  assert.equal(e.evaluate(packet('10.2.0.7', 443)).answer.address, '10.0.1.12');
});
