/**
 * Inputs that hold the pf emulator's grammar to real pfctl's: the issue's fidelity points and
 * random anchors of pfsteer's layout (per-host persist tables and per-host rules, some broken on
 * purpose), each run as `pfctl -n [-a ANCHOR] -f FILE` through the emulator (in-process, the
 * same `run` its executable calls) and through pfparse, the real pfctl parser built for Linux
 * (/work/shared/pfreal/README.md). Run as a script, it records pfparse's answers into the
 * fixture the differential test checks the emulator against when pfparse is absent:
 *
 *     PFSTEER_PFPARSE=/path/to/pfparse node test/pf/pfparse-corpus.ts
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { runOrUsage } from '../pf-emulator/cli.ts';
import type { Os } from '../pf-emulator/grammar.ts';
import { Store } from '../pf-emulator/store.ts';

export interface ParseCase {
  name: string;
  os: Os;
  anchor?: string;
  text: string;
}

/** What pfctl -n answered: its exit status and stderr, progname and file path normalised. */
export interface ParseAnswer {
  exit: number;
  stderr: string;
}

export type RecordedCase = ParseCase & ParseAnswer;

export const FIXTURE = fileURLToPath(new URL('./fixtures/pfparse-corpus.json', import.meta.url));
const REPO = fileURLToPath(new URL('../../', import.meta.url));

/**
 * pfparse from $PFSTEER_PFPARSE, else next to the repository (`../shared/pfreal/pfparse`, or one
 * level further up for a worktree under /work/wt); undefined when none exists.
 */
export function findPfparse(): { path?: string; looked: string[] } {
  const candidates = [process.env.PFSTEER_PFPARSE, join(REPO, '../shared/pfreal/pfparse'), join(REPO, '../../shared/pfreal/pfparse')].filter((p): p is string => !!p);
  return { ...(candidates.find((p) => existsSync(p)) ? { path: candidates.find((p) => existsSync(p))! } : {}), looked: candidates };
}

function normalise(stderr: string, file: string): string {
  return stderr.replace(/^pfctl-(?:freebsd12|openbsd):/gm, 'pfctl:').replaceAll(file, 'FILE');
}

/** `c.text` in a file of its own for `fn`, removed afterwards. */
export function withFile<T>(c: { text: string }, fn: (file: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'pfsteer-pfparse-'));
  const file = join(dir, 'in.pf');
  writeFileSync(file, c.text);
  try {
    return fn(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function askPfparse(pfparse: string, c: ParseCase): ParseAnswer {
  return withFile(c, (file) => {
    const r = spawnSync(pfparse, [c.os, ...(c.anchor === undefined ? [] : ['-a', c.anchor]), file], { encoding: 'utf8' });
    if (r.status === null) throw new Error(`pfparse ${c.name}: ${r.error?.message ?? r.signal}`);
    return { exit: r.status, stderr: normalise(r.stderr, file) };
  });
}

const stores = new Map<Os, Store>();

/** The emulator's `pfctl -n [-a ANCHOR] -f FILE`, which parses and loads nothing. */
export function askEmulator(c: ParseCase): ParseAnswer {
  let store = stores.get(c.os);
  if (!store) {
    const dir = mkdtempSync(join(tmpdir(), 'pfsteer-pfparse-emu-'));
    writeFileSync(join(dir, 'os'), c.os);
    store = new Store(dir);
    stores.set(c.os, store);
  }
  const s = store;
  return withFile(c, (file) => {
    const r = runOrUsage(['-n', ...(c.anchor === undefined ? [] : ['-a', c.anchor]), '-f', file], () => '', s);
    return { exit: r.code, stderr: normalise(r.stderr, file) };
  });
}

const a = (n: number): string => 'a'.repeat(n);
const LONG_TABLE = 'abcdefghijabcdefghijabcdefghij12';
const RDR = 'rdr on em0 inet proto tcp from any to 192.0.2.10 port 80 -> 10.0.1.11\n';
const PASS = 'pass in quick on em0 inet proto tcp from any to 192.0.2.10 port 80 rdr-to 10.0.1.11\n';

function both(name: string, text: string, anchor?: string): ParseCase[] {
  return (['freebsd', 'openbsd'] as const).map((os) => ({ name: `${name} (${os})`, os, text, ...(anchor === undefined ? {} : { anchor }) }));
}

/** The issue's facts from real pfctl, and the forms the emulator rejected before it followed them. */
export function fidelityCases(): ParseCase[] {
  return [
    ...both('set limit tables in the main ruleset', 'set limit tables 10000\n'),
    ...both('set limit tables in an anchor', 'set limit tables 10000\n', 'pfsteer'),
    ...both('set limit states in an anchor', 'set limit states 10000\n', 'pfsteer'),
    ...both('a set limit block', 'set limit { states 10, table-entries 400000 }\n'),
    ...both('a table name of 32 characters', `table <${LONG_TABLE}> persist { 10.0.0.0/8 }\n`, 'pfsteer'),
    ...both('a table name of 31 characters', `table <${LONG_TABLE.slice(0, 31)}> persist { 10.0.0.0/8 }\n`, 'pfsteer'),
    ...both('a rule naming a table of 32 characters', `pass in from <${LONG_TABLE}> to any\n`, 'pfsteer'),
    ...both('an -a path of 63 characters', 'pass in all\n', a(63)),
    ...both('an -a path of 64 characters', 'pass in all\n', a(64)),
    ...both('an -a path of 64 characters and a syntax error', 'bogus\n', a(64)),
    ...both('an -a path p/ + 62', 'pass in all\n', `p/${a(62)}`),
    ...both('an -a path x/ + 63', 'pass in all\n', `x/${a(63)}`),
    ...both('an -a path of 70 + /y', 'pass in all\n', `${a(70)}/y`),
    ...both('an anchor rule of 64 characters', `anchor "${a(64)}"\n`),
    ...both('an anchor rule x/ + 62', `anchor "x/${a(62)}"\n`),
    ...both('an anchor rule x/ + 63', `anchor "x/${a(63)}"\n`),
    ...both('an anchor rule 63/*', `anchor "${a(63)}/*"\n`),
    ...both('a syntax error before a long anchor rule', `bogus\nanchor "${a(64)}"\nbogus\n`),
    ...both('an inline anchor a/b', 'anchor "a/b" {\n  pass in all\n}\n'),
    ...both('an inline anchor without /', 'anchor "a" in on em0 {\n  pass in all\n  block in all\n}\n'),
    ...both('pass out ... rdr-to', 'pass out on em0 inet proto tcp from any to 192.0.2.10 port 80 rdr-to 10.0.1.11\n'),
    ...both('match out ... rdr-to', 'match out on em0 inet proto tcp from any to 192.0.2.10 port 80 rdr-to 10.0.1.11\n'),
    ...both('match in ... rdr-to', 'match in on em0 inet proto tcp from any to 192.0.2.10 port 80 rdr-to 10.0.1.11\n'),
    ...both('rdr-to <table> source-hash', 'table <pool> { 10.0.1.11 10.0.1.12 }\npass in on em0 inet proto tcp from any to 192.0.2.10 port 80 rdr-to <pool> source-hash\n'),
    ...both('rdr-to a list random', 'pass in on em0 inet proto tcp from any to 192.0.2.10 port 80 rdr-to { 10.0.1.11 10.0.1.12 } random\n'),
    ...both('rdr-to without a direction', 'pass on em0 inet proto tcp from any to 192.0.2.10 port 80 rdr-to 10.0.1.11\n'),
    ...both('block ... rdr-to', 'block in on em0 inet proto tcp from any to 192.0.2.10 port 80 rdr-to 10.0.1.11\n'),
    ...both('rdr-to twice', 'pass in on em0 inet proto tcp from any to 192.0.2.10 port 80 rdr-to 10.0.1.11 rdr-to 10.0.1.12\n'),
    ...both('rdr-to of the other family', 'pass in quick on em0 inet6 proto tcp from any to 2001:db8::1 port 80 rdr-to 10.0.1.11\n'),
    ...both('a /33 table entry', 'table <t> persist { 10.0.0.0/8 10.1.0.0/33 }\n', 'pfsteer'),
    ...both('a /129 table entry', 'table <t> persist { 2001:db8::/129 }\n', 'pfsteer'),
    ...both('a table entry with host bits', 'table <t> persist { 10.1.2.3/16 }\n', 'pfsteer'),
    ...both('a table entry that is no address', 'table <t> { foo }\n', 'pfsteer'),
    ...both('a table option pf does not know', 'table <t> bogus { 10.0.0.0/8 }\n', 'pfsteer'),
    ...both('table flags and commas', 'table <t> const persist counters { 10.0.0.0/8, 10.1.0.0/16 }\n', 'pfsteer'),
    ...both('a table on several lines', 'table <t> {\n 10.0.0.0/8\n !10.1.0.0/16 \\\n 2001:db8::/32 }\n', 'pfsteer'),
    ...both('an empty table', 'table <t> persist {}\ntable <u> persist\n', 'pfsteer'),
    ...both('a table name with punctuation', 'table <lb-1.a_b:c> persist { 10.0.0.0/8 }\n', 'pfsteer'),
    ...both('a table name with a comma', 'table <a,b> persist { 10.0.0.0/8 }\n', 'pfsteer'),
    ...both('rdr', RDR),
    ...both('pass in quick ... rdr-to', PASS),
    ...both('rdr with source-hash to a table', 'table <pool> { 10.0.1.11 10.0.1.12 }\nrdr on em0 inet proto tcp from any to 192.0.2.10 port 80 -> <pool> source-hash\n'),
    ...both('rdr with random to a list', '\n\nrdr on em0 inet proto tcp from any to 192.0.2.10 port 80 -> { 10.0.1.11 10.0.1.12 } random\n'),
    ...both('an rdr-anchor port list', 'rdr-anchor "pfsteer/*" on em0 inet proto tcp from any to any port { 80 443 }\n'),
    ...both('an rdr-anchor port operator', 'rdr-anchor "pfsteer/*" on em0 inet proto tcp from any to any port > 1024\n'),
    ...both('rdr-anchor and anchor hooks', 'rdr-anchor "pfsteer"\nanchor "pfsteer"\n'),
    ...both('rdr in an inline anchor', 'anchor "inline" {\n  rdr on em0 inet proto tcp from any to 192.0.2.10 port 80 -> 10.0.1.11\n}\n'),
    ...both('an unknown keyword', 'table <t> { 10.0.0.0/8 }\nredirect on em0 from any to any -> 10.0.1.11\n'),
    ...both('a port out of range', 'rdr on em0 inet proto tcp from any to 192.0.2.10 port 70000 -> 10.0.1.11\n'),
    ...both('an rdr family mismatch', 'rdr on em0 inet proto tcp from any to 2001:db8::10 port 443 -> 10.0.1.11\n', 'pfsteer'),
    ...both('an rdr target of the other family', 'rdr on em0 inet6 proto tcp from any to 2001:db8::10 port 443 -> 10.0.1.11\n', 'pfsteer'),
    ...both('two syntax errors', 'bogus one\npass in all\nbogus two\n'),
    ...both('an unterminated quote', 'anchor "pfsteer\n'),
    ...both('two bad lines in a row', 'bogus\nbogus\npass in all\nbogus\n'),
    ...both('a bad line inside an inline anchor', 'anchor "x" {\n  bogus\n  pass in all\n}\npass in all\n'),
    ...both('options after rules', 'pass in all\nset limit states 10\n'),
    ...both('translation after filtering', 'pass in all\nrdr-anchor "x"\n'),
    ...both('a table after rules', 'pass in all\ntable <t> { 10.0.0.0/8 }\n'),
    ...both('an unknown limit', 'set limit bogus 10\n'),
    ...both('interfaces as hosts', 'pass in on em0 inet proto tcp from any to em0 port 80\n'),
    ...both('named ports', 'pass in on em0 inet proto tcp from any to 192.0.2.1 port { http https }\n'),
    ...both('an unknown port name', 'pass in on em0 inet proto tcp from any to 192.0.2.1 port nosuch\n'),
    ...both('a /33 in a rule with a port list', 'pass in on em0 inet proto tcp from any to 10.9.0.0/33 port { 80 443 }\n'),
    ...both('rdr-to over a port list to the other family', 'pass in on em0 inet6 proto tcp from any to 2001:db8::1 port { 80 443 } rdr-to 10.0.1.11\n'),
    ...both('block without direction over a port list with rdr-to', 'block on em0 inet proto tcp from any to 192.0.2.10 port { 80 443 } rdr-to 10.0.1.11\n'),
    ...both('rdr without a target', 'rdr on em0 inet proto tcp from any to 192.0.2.1 port 80\n'),
    ...both('anchor without a name or rules', 'anchor\n'),
    ...both('an inline block opened on the next line', 'anchor "x"\n{\npass in all\n}\n'),
    ...both('an inline block on one line', 'anchor "x" { pass in all }\n'),
    ...both('an inline block closed on a rule line', 'anchor "x" {\npass in all }\n'),
    ...both('an address range in a table', 'table <t> { 10.0.0.1 - 10.0.0.5 }\n'),
    ...tagCases(),
    ...optimizationCases(),
  ];
}

/** `set ruleset-optimization`: the words it takes, where it may stand, and a repeat. */
function optimizationCases(): ParseCase[] {
  const so = 'set ruleset-optimization';
  const FILTER = 'pass in quick on em0 inet proto tcp from any to 192.0.2.10 port 80\n';
  return [
    ...both('set ruleset-optimization none, basic', `${so} none\n${so} basic\n${FILTER}`),
    ...both('set ruleset-optimization quoted', `${so} "none"\n${FILTER}`),
    ...both('set ruleset-optimization in an anchor', `${so} basic\n${FILTER}`, 'pfsteer'),
    ...both('set ruleset-optimization of an unknown level', `${so} bogus\n${FILTER}`),
    ...both('set ruleset-optimization in capitals or abbreviated', `${so} NONE\n${so} n\n${FILTER}`),
    ...both('set ruleset-optimization of a number', `${so} 1\n${FILTER}`),
    ...both('set ruleset-optimization without a level', `${so}\n${FILTER}`),
    ...both('set ruleset-optimization of two words', `${so} profile none\n${FILTER}`),
    ...both('set ruleset-optimization after rules', `${FILTER}${so} none\n`),
    ...both('set ruleset-optimization after rdr rules', `${RDR}${so} none\n`),
    ...both('set ruleset-optimization, then an unknown one', `${so} none\n${so} bogus\n`),
    ...both('set ruleset-optimization, then set limit', `${so} none\nset limit states 10\n`),
    ...both('set ruleset-optimization after rules, then set limit', `${FILTER}${so} none\nset limit states 10\n`),
  ];
}

const GATE = 'on em0 inet proto tcp from any to any port 80';
const TAG64 = 'g'.repeat(64);

/** Block gates (`no rdr` on FreeBSD, `match ... tagged` on OpenBSD) and the tag forms around them. */
function tagCases(): ParseCase[] {
  return [
    ...both('the gates of a block', `no rdr ${GATE} tagged pfsteer-gate\nrdr on em0 inet proto tcp from <lb1-v4> to <ext> port 80 -> 10.0.1.11\nrdr on em0 inet proto tcp from <lb1-v4> to <ext> port 80 -> 10.0.1.11 port 8080\n`, 'pfsteer'),
    ...both('an openbsd gate and its block', `match in ${GATE} tagged pfsteer-gate\npass in quick on em0 inet proto tcp from <lb1-v4> to <ext> port 80 rdr-to 10.0.1.11\n`, 'pfsteer'),
    ...both('no rdr with ->', `no rdr ${GATE} tagged pfsteer-gate -> 10.0.1.11\n`),
    ...both('no rdr with -> and a port', `no rdr ${GATE} -> 10.0.1.11 port 8080\n`),
    ...both('no rdr with -> on the last of four lines', 'no rdr on em0 \\\n proto tcp from any to any port 80 \\\n tagged foo \\\n -> 10.0.1.1\n'),
    ...both('no rdr pass', `no rdr pass ${GATE}\n`),
    ...both('no rdr pass log on two lines', 'no rdr pass log \\\n on em0 all\n'),
    ...both('no rdr log, alone and all', 'no rdr log on em0\nno rdr\nno rdr all\n'),
    ...both('no rdr with pool options', `no rdr ${GATE} tagged g source-hash\n`),
    ...both('no rdr of the other family', 'no rdr on em0 inet6 proto tcp from any to 10.0.0.1 port 80\n'),
    ...both('no rdr over a port list', 'no rdr on em0 inet proto tcp from any to any port { 80 443 } tagged pfsteer-gate\n'),
    ...both('no rdr after filter rules', `pass in all\nno rdr ${GATE} tagged ${TAG64}\n`),
    ...both('rdr with a syntax error after filter rules', 'pass in all\nrdr on em0 bogus\n'),
    ...both('no before something else', 'no pass in all\n'),
    ...both('rdr tagged without ->', `rdr ${GATE} tagged pfsteer-gate\n`),
    ...both('rdr tagged with pool options without ->', `rdr ${GATE} tagged g source-hash\n`),
    ...both('rdr tag and ! tagged', `rdr ${GATE} tag foo ! tagged bar -> 10.0.1.11\n`),
    ...both('rdr tagged after ->', `rdr ${GATE} -> 10.0.1.11 tagged bar\n`),
    ...both('rdr tagged before tag', `rdr ${GATE} tagged bar tag foo -> 10.0.1.11\n`),
    ...both('rdr tagged twice', `rdr ${GATE} tagged foo tagged bar -> 10.0.1.11\n`),
    ...both('rdr tagged before from', 'rdr on em0 inet proto tcp tagged foo from any to any -> 10.0.1.11\n'),
    ...both('rdr tagged with no from or to', 'rdr on em0 inet tagged foo -> 10.0.1.11\nrdr tagged foo -> 10.0.1.11\nrdr on em0 all tagged foo -> 10.0.1.11\n'),
    ...both('rdr tagged without a name', `rdr ${GATE} tagged -> 10.0.1.11\nno rdr ${GATE} tagged\n`),
    ...both('rdr tag without a name', `no rdr ${GATE} tag\n`),
    ...both('a tag name of 63 characters', `rdr ${GATE} tagged ${TAG64.slice(1)} -> 10.0.1.11\nno rdr ${GATE} tag ${TAG64.slice(1)}\n`),
    ...both('a tagged name of 64 characters', `rdr ${GATE} tagged ${TAG64} -> 10.0.1.11\n`),
    ...both('a tag name of 64 characters', `rdr ${GATE} tag ${TAG64} -> 10.0.1.11\n`),
    ...both('a long tag name and ->', `no rdr on em0 tagged ${TAG64} -> 10.0.1.1\n`),
    ...both('a long tag name on the last of three lines', `no rdr on em0 \\\n tagged ${TAG64} \\\n \n`),
    ...both('tagged of several words', `rdr ${GATE} tagged foo bar -> 10.0.1.11\nmatch in ${GATE} tagged foo bar baz\n`),
    ...both('tag of two words', `rdr ${GATE} tag foo bar -> 10.0.1.11\nmatch in ${GATE} tag foo bar\n`),
    ...both('tagged a number', `rdr ${GATE} tagged 123 -> 10.0.1.11\n`),
    ...both('tagged a quoted number and other words', `rdr ${GATE} tagged "123" 0x10 1.5 foo-bar.baz:1 -> 10.0.1.11\n`),
    ...both('tagged an empty string', `rdr ${GATE} tagged "" -> 10.0.1.11\nmatch in ${GATE} tagged ""\n`),
    ...both('tagged followed by a keyword', `match in ${GATE} tagged foo inet\n`),
    ...both('a long tagged name followed by a word', `match in ${GATE} tagged ${TAG64} bogus\n`),
    ...both('a long tagged name followed by a keyword', `match in ${GATE} tagged ${TAG64} inet\n`),
    ...both('! ! tagged', `rdr ${GATE} ! ! tagged foo -> 10.0.1.11\n`),
    ...both('tagged ! name', `rdr ${GATE} tagged ! foo -> 10.0.1.11\nmatch in ${GATE} tagged ! foo\n`),
    ...both('!tagged without a space', `rdr ${GATE} !tagged foo -> 10.0.1.11\n`),
    ...both('match tagged without a name', `match in ${GATE} tagged\n`),
    ...both('match tag without a name', `match in ${GATE} tag\n`),
    ...both('match with a long tag name', `match in ${GATE} tag ${TAG64}\n`),
    ...both('pass with two long tag names', `pass in ${GATE} tag ${TAG64} tagged ${TAG64}\n`),
    ...both('match tagged twice and tag twice', `match in ${GATE} tagged a tagged b tag c tag d\n`),
    ...both('match tagged before from', 'match in on em0 inet proto tcp tagged foo from any to any port 80\n'),
    ...both('match tagged with no from or to', 'match in on em0 tagged foo\nmatch tagged foo\n'),
    ...both('tagged after rdr-to and tag after its port', 'pass in quick on em0 inet proto tcp from <t> to <ext> port 80 rdr-to 10.0.1.11 tagged x\npass in quick on em0 inet proto tcp from <t> to <ext> port 80 tagged x rdr-to 10.0.1.11 port 8080 tag y\n'),
    ...both('tagged among flags and keep state', `pass in quick ${GATE} flags S/SA tagged x keep state\npass in ${GATE} tagged x no state\n`),
    ...both('block and pass with tags', 'block in quick on em0 tagged x\npass in on em0 tagged foo\n'),
    ...both('a long tag name and rdr-to without a direction', `pass quick ${GATE} tagged ${TAG64} rdr-to 10.0.1.1\n`),
    ...both('a long tag name and a family mismatch', `pass in on em0 inet6 proto tcp from any to 10.0.0.1 port 80 tagged ${TAG64}\n`),
    ...both('flags forms', 'pass in on em0 proto tcp flags S/SA\npass in on em0 proto tcp flags /SA\npass in on em0 proto tcp flags any\n'),
    ...both('flags wrong', 'pass in on em0 proto tcp flags S\npass in on em0 proto tcp flags S/\npass in all\npass in on em0 proto tcp flags S/QQ\npass in on em0 proto tcp flags S/SA flags any\nbogus\n'),
    ...both('a long tag name in an inline anchor', `anchor "x" {\n pass in on em0 tagged ${TAG64}\n}\n`),
  ];
}

const IFACES = ['em0', 'em1', 'igb0', 'vtnet0', 'ix0'];

/** Ways one rule, table or gate of a rendered anchor can be broken. */
const BREAKS = ['none', 'none', 'none', 'prefix33', 'port', 'family', 'longname', 'nodest', 'badname', 'gate'] as const;

/** A block's gate as each dialect writes it: a rule that never matches and checks the port without a table. */
export function gate(os: Os, iface: string, af: string, port: number): string {
  return `${os === 'freebsd' ? 'no rdr' : 'match in'} on ${iface} ${af} proto tcp from any to any port ${port} tagged pfsteer-gate`;
}

/** A host's rule in a block, as each dialect writes it. */
export function blockRule(os: Os, block: { iface: string; af: string; port: number }, from: string, to: string, target: string): string {
  const match = `on ${block.iface} ${block.af} proto tcp from ${from} to ${to} port ${block.port}`;
  return os === 'freebsd' ? `rdr ${match} -> ${target}` : `pass in quick ${match} rdr-to ${target}`;
}

export interface LayoutBlock<S> {
  iface: string;
  af: string;
  port: number;
  services: S[];
}

/** Services grouped into the blocks of a rendered anchor, one per (interface, family, port), in the order first met. */
export function layoutBlocks<S extends { iface: string; ports: readonly number[] }>(services: readonly S[], families: (s: S) => readonly string[]): Array<LayoutBlock<S>> {
  const blocks = new Map<string, LayoutBlock<S>>();
  for (const s of services) {
    for (const af of families(s)) {
      for (const port of s.ports) {
        const key = `${s.iface} ${af} ${port}`;
        const block = blocks.get(key) ?? { iface: s.iface, af, port, services: [] };
        block.services.push(s);
        blocks.set(key, block);
      }
    }
  }
  return [...blocks.values()];
}

/**
 * Random anchors of the layout: per host a persist table of prefixes per family, then per
 * (interface, family, port) a block, its gate first and then per host the rule(s) for that port,
 * as each dialect writes them.
 */
export function layoutCases(count: number, seed: number): ParseCase[] {
  const v4 = fc.tuple(fc.integer({ min: 1, max: 223 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 16, max: 24 })).map(([x, y, p]) => `${x}.${y}.0.0/${p}`);
  const v6 = fc.integer({ min: 0, max: 0xffff }).map((w) => `2001:db8:${w.toString(16)}::/48`);
  const host = fc.record({
    name: fc.stringMatching(/^[a-z][a-z0-9_-]{0,12}$/),
    inet: fc.array(v4, { minLength: 0, maxLength: 6 }),
    inet6: fc.array(v6, { minLength: 0, maxLength: 3 }),
    last: fc.integer({ min: 1, max: 254 }),
  });
  const service = fc.record({
    iface: fc.constantFrom(...IFACES),
    external: fc.constantFrom('192.0.2.10', '<ext>', '{ 192.0.2.10 192.0.2.11 }'),
    ports: fc.uniqueArray(fc.constantFrom(80, 443, 8080, 25, 993), { minLength: 1, maxLength: 3 }),
    targetPort: fc.option(fc.constantFrom(8080, 8443), { nil: undefined }),
    six: fc.boolean(),
  });
  const arb = fc.record({
    os: fc.constantFrom<Os>('freebsd', 'openbsd'),
    hosts: fc.uniqueArray(host, { minLength: 1, maxLength: 6, selector: (h) => h.name }),
    services: fc.array(service, { minLength: 1, maxLength: 3 }),
    breaks: fc.constantFrom(...BREAKS),
    at: fc.nat(),
  });
  return fc.sample(arb, { numRuns: count, seed }).map((g, i) => {
    const lines: string[] = [];
    for (const h of g.hosts) {
      for (const family of ['4', '6'] as const) lines.push(`table <pfs_${h.name}_${family}> persist { ${[...new Set(family === '4' ? h.inet : h.inet6)].join(' ')} }`);
    }
    const blocks = layoutBlocks(g.services, (s) => (s.six ? ['inet', 'inet6'] : ['inet']));
    const gates: number[] = [];
    for (const b of blocks) {
      gates.push(lines.length);
      lines.push(gate(g.os, b.iface, b.af, b.port));
      g.hosts.forEach((h, n) => {
        const family = b.af === 'inet' ? '4' : '6';
        for (const s of b.services) {
          const ext = family === '4' ? s.external : s.external.replaceAll('192.0.2.', '2001:db8::');
          const target = family === '4' ? `10.0.${n}.${h.last}` : `2001:db8:1::${h.last.toString(16)}`;
          lines.push(blockRule(g.os, b, `<pfs_${h.name}_${family}>`, ext, `${target}${s.targetPort === undefined ? '' : ` port ${s.targetPort}`}`));
        }
      });
    }
    const k = g.breaks === 'gate' ? gates[g.at % gates.length]! : g.at % lines.length;
    const line = lines[k]!;
    const broken: Record<(typeof BREAKS)[number], () => string> = {
      none: () => line,
      prefix33: () => (line.startsWith('table') ? line.replace(/\{ /, '{ 10.9.0.0/33 ') : line.replace(/ to /, ' to 10.9.0.0/33 port 1 to ')),
      port: () => line.replace(/port (\d+|\{)/, 'port 70000 $1'),
      family: () => line.replace(/(->|rdr-to) 10\.0\.\d+\.\d+/, '$1 2001:db8::99').replace(/(->|rdr-to) 2001:db8:1::[0-9a-f]+/, '$1 10.9.9.9'),
      longname: () => line.replace(/<pfs_([^>]+)>/, `<pfs_$1_${'x'.repeat(30)}>`),
      nodest: () => line.replace(/ (->|rdr-to) .*$/, ''),
      badname: () => line.replace(/<pfs_([^>]+)>/, '<pfs,$1>'),
      // A gate with a translation, a tag name past PF_TAG_NAME_SIZE, or no tag name.
      gate: () => [`${line} -> 10.0.1.1`, line.replace('pfsteer-gate', 'pfsteer-gate'.repeat(6)), line.replace(/ pfsteer-gate$/, '')][g.at % 3]!,
    };
    lines[k] = broken[g.breaks]();
    return { name: `layout ${i} (${g.os}, ${g.hosts.length} hosts, ${blocks.length} blocks, ${g.breaks})`, os: g.os, anchor: 'pfsteer', text: `${lines.join('\n')}\n` };
  });
}

/** Every case the corpus holds: the fidelity points and a fixed sample of layouts. */
export function corpusCases(): ParseCase[] {
  return [...fidelityCases(), ...layoutCases(120, 13)];
}

if (import.meta.main) {
  const { path, looked } = findPfparse();
  if (!path) throw new Error(`pfparse not found (looked at ${looked.join(', ')}); set PFSTEER_PFPARSE`);
  const recorded: RecordedCase[] = corpusCases().map((c) => ({ ...c, ...askPfparse(path, c) }));
  writeFileSync(FIXTURE, `${JSON.stringify(recorded, null, 1)}\n`);
  console.log(`recorded ${recorded.length} answers of ${path} into ${FIXTURE}`);
}
