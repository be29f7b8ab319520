/**
 * Inputs that hold the pf emulator's ruleset optimizer (test/pf-emulator/optimize.ts) to real
 * pfctl's: hand-written rulesets and random anchors in the shapes pfsteer renders, each loaded
 * with `-a pfsteer` at a level (`-o none`, `-o basic`, or none given), as the real pfctl builds
 * of /work/shared/pfreal print them with `-nv` (FreeBSD with -P). Run as a script, it records
 * the builds' answers into the fixture the differential test uses when the builds are absent:
 *
 *     PFSTEER_PFPARSE=/path/to/pfparse node test/pf/optimize-corpus.ts
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import type { Os } from '../pf-emulator/grammar.ts';
import { blockRule, findPfparse, gate, layoutBlocks, withFile } from './pfparse-corpus.ts';

export interface OptimizeCase {
  name: string;
  os: Os;
  /** The -o argument; undefined loads without one (pfctl's default, basic, or the file's setting). */
  level?: string;
  text: string;
}

/** What `pfctl -nv` printed and its exit status. */
export interface PrintAnswer {
  exit: number;
  stdout: string;
}

export type RecordedOptimizeCase = OptimizeCase & PrintAnswer;

export const OPTIMIZE_FIXTURE = fileURLToPath(new URL('./fixtures/optimize-corpus.json', import.meta.url));

/** The real pfctl build for `os` next to pfparse, if there is one. */
export function findPfctl(os: Os): string | undefined {
  const { path } = findPfparse();
  const bin = path && join(dirname(path), os === 'freebsd' ? 'pfctl-freebsd12' : 'pfctl-openbsd');
  return bin && existsSync(bin) ? bin : undefined;
}

/** The builds read their OS fingerprint file from one fixed place, as pfparse sets it up. */
function fingerprints(bin: string): void {
  const place = '/tmp/pfreal/etc';
  if (existsSync(join(place, 'pf.os.openbsd'))) return;
  mkdirSync(place, { recursive: true });
  for (const os of ['freebsd', 'openbsd']) copyFileSync(join(dirname(bin), `pf.os.${os}`), join(place, `pf.os.${os}`));
}

export function askPfctl(bin: string, c: OptimizeCase): PrintAnswer {
  fingerprints(bin);
  return withFile(c, (file) => {
    const args = ['-nv', ...(c.os === 'freebsd' ? ['-P'] : []), ...(c.level === undefined ? [] : ['-o', c.level]), '-a', 'pfsteer', '-f', file];
    const r = spawnSync(bin, args, { encoding: 'utf8' });
    if (r.status === null) throw new Error(`${bin} ${c.name}: ${r.error?.message ?? r.signal}`);
    return { exit: r.status, stdout: r.stdout };
  });
}

const list = (prefix: string, n: number, from = 1): string => `{ ${Array.from({ length: n }, (_, i) => `${prefix}${from + i}`).join(' ')} }`;
const PASS = (from: string, to: string, port = '80', target = '10.0.1.1'): string => `pass in quick on em0 inet proto tcp from ${from} to ${to} port ${port} rdr-to ${target}`;
const GATE = (port: number, iface = 'em0'): string => gate('openbsd', iface, 'inet', port);

/** One rule per interface given, each to its own address. */
const ON = (ifaces: string[]): string[] => ifaces.map((iface, i) => `pass in quick on ${iface} inet proto tcp from <lb1-v4> to 192.0.2.${i + 1} port 80 rdr-to 10.0.1.1`);

/** Rulesets chosen for one behaviour each; every one at none, basic and no -o. */
export function handCases(): OptimizeCase[] {
  const openbsd: Array<[string, string[]]> = [
    ['seven destinations, one rule', [PASS('<lb1-v4>', list('203.0.113.', 7))]],
    ['five destinations stay five rules', [PASS('<lb1-v4>', list('203.0.113.', 5))]],
    ['six destinations make a table', [PASS('<lb1-v4>', list('203.0.113.', 6))]],
    ['six sources make a table', [PASS(list('198.51.100.', 6), '<ext>')]],
    ['a destination table from two rules of one host', [PASS('<lb1-v4>', list('203.0.113.', 3)), PASS('<lb1-v4>', list('203.0.113.', 3, 4))]],
    ['two hosts with other targets do not combine', [PASS('<lb1-v4>', list('203.0.113.', 3)), PASS('<lb1-v4>', list('203.0.113.', 3, 4), '80', '10.0.1.2')]],
    ['two ports make two tables', [PASS('<lb1-v4>', list('203.0.113.', 6), '{ 80 443 }')]],
    ['identical rules: the first stays', [PASS('<lb1-v4>', '203.0.113.1'), PASS('<lb1-v4>', '203.0.113.2'), PASS('<lb1-v4>', '203.0.113.1')]],
    ['a wider rule after a narrower one removes it', [PASS('<lb1-v4>', '203.0.113.0/25'), PASS('<lb1-v4>', '203.0.113.9'), PASS('<lb1-v4>', '203.0.113.0/24')]],
    ['a prefix among the addresses', [PASS('<lb1-v4>', '{ 203.0.113.1 203.0.113.2 203.0.113.0/24 203.0.113.3 198.51.100.1 198.51.100.2 198.51.100.3 }')]],
    ['a prefix among the sources', [PASS('{ 3.0.0.1 3.0.0.2 3.0.0.0/24 3.0.0.3 3.0.0.4 3.0.0.5 3.0.0.6 3.0.0.7 }', '<e>')]],
    ['gates split superblocks; temporary tables are numbered as made', [PASS('<a>', list('1.1.1.', 2)), GATE(80), PASS('<a>', list('2.1.1.', 6)), GATE(80), PASS('<b>', list('4.1.1.', 6))]],
    ['inet6 destinations', ['pass in quick on em0 inet6 proto tcp from <lb1-v6> to { 2001:db8::1 2001:db8::2 2001:db8::3 2001:db8::4 2001:db8::5 2001:db8::6 2001:db8::7 } port 443 rdr-to 2001:db8:1::11']],
    ['tables of the file stay', ['table <lb1-v4> persist { 10.0.0.0/8 }', GATE(80), PASS('<lb1-v4>', list('203.0.113.', 8))]],
    ['the file says none', ['set ruleset-optimization none', PASS('<lb1-v4>', list('203.0.113.', 7))]],
    ['the file says none twice, then basic', ['set ruleset-optimization none', 'set ruleset-optimization basic', PASS('<lb1-v4>', list('203.0.113.', 7))]],
    ['the file says basic', ['set ruleset-optimization basic', PASS('<lb1-v4>', list('203.0.113.', 7))]],
    ['a negated destination list', [PASS('<lb1-v4>', '{ ! 203.0.113.1 ! 203.0.113.2 ! 203.0.113.3 ! 203.0.113.4 ! 203.0.113.5 ! 203.0.113.6 }')]],
    ['rules of another tag do not combine', [PASS('<lb1-v4>', list('203.0.113.', 3)), `pass in quick on em0 inet proto tcp from <lb1-v4> to ${list('203.0.113.', 3, 4)} port 80 tag x rdr-to 10.0.1.1`]],
    ['rules on another interface do not combine', [PASS('<lb1-v4>', list('203.0.113.', 3)), `pass in quick on em1 inet proto tcp from <lb1-v4> to ${list('203.0.113.', 3, 4)} port 80 rdr-to 10.0.1.1`]],
    ['gates side by side are grouped for skip steps', [GATE(80), GATE(443), GATE(80, 'em1'), GATE(443, 'em1')]],
    ['alternating interfaces are grouped', ON(['em0', 'em1', 'em0', 'em1', 'em0', 'em1', 'em0'])],
    ['two pairs of interfaces are grouped', ON(['em0', 'em1', 'em0', 'em1'])],
    ['a group of three goes before a group of two', ON(['em1', 'em0', 'em1', 'em0', 'em0'])],
  ];
  const freebsd: Array<[string, string[]]> = [
    ['rdr rules are not optimized', [`rdr on em0 inet proto tcp from <lb1-v4> to ${list('203.0.113.', 7)} port 80 -> 10.0.1.1`]],
    ['pass rules are', [`rdr on em0 inet proto tcp from <lb1-v4> to ${list('203.0.113.', 7)} port 80 -> 10.0.1.1`, `pass in quick on em0 inet proto tcp from any to ${list('203.0.113.', 7)} port 80`]],
    ['the gate and its block', ['no rdr on em0 inet proto tcp from any to any port 80 tagged pfsteer-gate', `rdr on em0 inet proto tcp from <lb1-v4> to ${list('203.0.113.', 7)} port 80 -> 10.0.1.1`, `rdr on em0 inet proto tcp from <lb1-v4> to ${list('203.0.113.', 7)} port 80 -> 10.0.1.1`]],
  ];
  const cases: OptimizeCase[] = [];
  for (const [os, set] of [['openbsd', openbsd], ['freebsd', freebsd]] as const) {
    for (const [name, lines] of set) {
      for (const level of ['none', 'basic', undefined]) cases.push({ name: `${name} (${os}, ${level ?? 'no -o'})`, os, ...(level === undefined ? {} : { level }), text: `${lines.join('\n')}\n` });
    }
  }
  return cases;
}

/**
 * Random anchors as renderAnchor writes them: per (interface, family, port) a block opened by its
 * gate, then per host the rule(s) from the host's table to the service's external side (a table,
 * one address or a list of up to 10 addresses and prefixes, some shared between services) and the
 * host's address.
 */
export function layoutCases(count: number, seed: number): OptimizeCase[] {
  const v4 = fc.oneof(
    fc.integer({ min: 1, max: 12 }).map((n) => `203.0.113.${n}`),
    fc.constantFrom('203.0.113.0/28', '198.51.100.0/24', '198.51.100.7'),
  );
  const external = fc.oneof(fc.constant('<ext>'), v4, fc.uniqueArray(v4, { minLength: 2, maxLength: 10 }).map((xs) => `{ ${xs.join(' ')} }`));
  const service = fc.record({
    iface: fc.constantFrom('em0', 'em1'),
    external,
    ports: fc.uniqueArray(fc.constantFrom(80, 443, 8443), { minLength: 1, maxLength: 2 }),
    targetPort: fc.option(fc.constantFrom(8080, 9443), { nil: undefined }),
  });
  const arb = fc.record({
    os: fc.constantFrom<Os>('openbsd', 'openbsd', 'openbsd', 'freebsd'),
    hosts: fc.integer({ min: 1, max: 5 }),
    sharedTarget: fc.boolean(),
    services: fc.array(service, { minLength: 1, maxLength: 3 }),
    level: fc.constantFrom('none', 'basic', undefined),
  });
  return fc.sample(arb, { numRuns: count, seed }).map((g, i) => {
    const lines = Array.from({ length: g.hosts }, (_, h) => `table <lb${h + 1}-v4> persist { 10.${h + 1}.0.0/16 }`);
    const blocks = layoutBlocks(g.services, () => ['inet']);
    for (const b of blocks) {
      lines.push(gate(g.os, b.iface, b.af, b.port));
      for (let h = 0; h < g.hosts; h++) {
        for (const s of b.services) {
          const target = `${g.sharedTarget ? '10.0.1.1' : `10.0.1.${11 + h}`}${s.targetPort === undefined ? '' : ` port ${s.targetPort}`}`;
          lines.push(blockRule(g.os, b, `<lb${h + 1}-v4>`, s.external, target));
        }
      }
    }
    return { name: `layout ${i} (${g.os}, ${g.level ?? 'no -o'}, ${g.hosts} hosts, ${blocks.length} blocks)`, os: g.os, ...(g.level === undefined ? {} : { level: g.level }), text: `${lines.join('\n')}\n` };
  });
}

/**
 * Random runs of filter rules that share some fields and not others (interface, direction,
 * family, protocol, addresses, ports, action), for pfctl's superblocks, covered-rule removal and
 * reordering for skip steps; OpenBSD, where every rule is a filter rule.
 */
export function shuffleCases(count: number, seed: number): OptimizeCase[] {
  const rule = fc.record({
    action: fc.constantFrom('pass in quick', 'pass in quick', 'pass in quick', 'pass out quick', 'pass quick', 'match in', 'pass in'),
    iface: fc.constantFrom('em0', 'em1', 'igb0', ''),
    six: fc.boolean(),
    proto: fc.constantFrom('tcp', 'tcp', 'udp', ''),
    from: fc.constantFrom('any', '<t1>', '<t2>', 'A1', 'A2', 'N1'),
    to: fc.constantFrom('any', '<t1>', 'A1', 'A2', 'A3', 'A4', 'N1', '{ A1 A2 A3 }'),
    port: fc.constantFrom('', '80', '443', '{ 80 443 }'),
  });
  const v4: Record<string, string> = { A1: '192.0.2.1', A2: '192.0.2.2', A3: '192.0.2.3', A4: '198.51.100.4', N1: '192.0.2.0/24' };
  const v6: Record<string, string> = { A1: '2001:db8::1', A2: '2001:db8::2', A3: '2001:db8::3', A4: '2001:db8:1::4', N1: '2001:db8::/64' };
  return fc.sample(fc.record({ rules: fc.array(rule, { minLength: 3, maxLength: 14 }), level: fc.constantFrom('basic', undefined) }), { numRuns: count, seed }).map((g, i) => {
    const lines = g.rules.map((r) => {
      const addr = (x: string): string => x.replace(/A\d|N1/g, (k) => (r.six ? v6 : v4)[k]!);
      const proto = r.proto === '' && r.port !== '' ? 'tcp' : r.proto;
      return [r.action, r.iface && `on ${r.iface}`, r.six ? 'inet6' : 'inet', proto && `proto ${proto}`, `from ${addr(r.from)}`, `to ${addr(r.to)}`, r.port && `port ${r.port}`].filter(Boolean).join(' ');
    });
    return { name: `shuffle ${i} (openbsd, ${g.level ?? 'no -o'}, ${lines.length} lines)`, os: 'openbsd' as const, ...(g.level === undefined ? {} : { level: g.level }), text: `${lines.join('\n')}\n` };
  });
}

export function optimizeCases(): OptimizeCase[] {
  return [...handCases(), ...layoutCases(150, 13), ...shuffleCases(150, 13)];
}

if (import.meta.main) {
  const bins = { freebsd: findPfctl('freebsd'), openbsd: findPfctl('openbsd') };
  if (!bins.freebsd || !bins.openbsd) throw new Error(`pfctl builds not found next to pfparse (looked at ${findPfparse().looked.join(', ')}); set PFSTEER_PFPARSE`);
  const recorded: RecordedOptimizeCase[] = optimizeCases().map((c) => ({ ...c, ...askPfctl(bins[c.os]!, c) }));
  writeFileSync(OPTIMIZE_FIXTURE, `${JSON.stringify(recorded, null, 1)}\n`);
  console.log(`recorded ${recorded.length} answers into ${OPTIMIZE_FIXTURE}`);
}
