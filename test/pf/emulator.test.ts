/**
 * The pf emulator is only worth testing against if it is as strict as pfctl: every form below
 * is one pfctl rejects, fed through the emulator executable exactly as the driver would.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { execa } from 'execa';
import { parseAddress } from '../../src/net/address.ts';
import { PfEmulator } from '../pf-emulator/emulator.ts';
import { parseRuleset } from '../pf-emulator/grammar.ts';
import { loadedAnchor } from '../pf-emulator/ruleset.ts';

const emulators: PfEmulator[] = [];
after(() => {
  for (const e of emulators) e.cleanup();
});

function emulator(os: 'freebsd' | 'openbsd' = 'freebsd'): PfEmulator {
  const e = new PfEmulator(os);
  emulators.push(e);
  return e;
}

async function pfctl(e: PfEmulator, args: string[], input?: string) {
  return execa(e.pfctl, args, { reject: false, env: e.env(), ...(input === undefined ? {} : { input }) });
}

const REJECTED: Array<{ what: string; os?: 'freebsd' | 'openbsd'; anchor?: string; text: string; message: RegExp }> = [
  {
    what: 'a table as the redirect target with source-hash',
    text: 'table <pool> { 10.0.1.11 10.0.1.12 }\nrdr on em0 inet proto tcp from any to 192.0.2.10 port 80 -> <pool> source-hash\n',
    message: /^stdin:2: tables are only supported in round-robin redirection pools$/m,
  },
  {
    what: 'an address list as the redirect target with random',
    text: '\n\nrdr on em0 inet proto tcp from any to 192.0.2.10 port 80 -> { 10.0.1.11 10.0.1.12 } random\n',
    message: /^stdin:3: only round-robin valid for multiple redirection addresses$/m,
  },
  {
    what: 'a port list in an rdr-anchor line',
    text: 'rdr-anchor "pfsteer/*" on em0 inet proto tcp from any to any port { 80 443 }\n',
    message: /^stdin:1: destination port list expansion not supported in rdr-anchor$/m,
  },
  {
    what: 'a port operator in an rdr-anchor line',
    text: 'rdr-anchor "pfsteer/*" on em0 inet proto tcp from any to any port > 1024\n',
    message: /^stdin:1: destination port operators not supported in rdr-anchor$/m,
  },
  {
    what: 'rdr inside an inline anchor block',
    text: 'anchor "inline" {\n  rdr on em0 inet proto tcp from any to 192.0.2.10 port 80 -> 10.0.1.11\n}\n',
    message: /^stdin:2: syntax error$/m,
  },
  {
    what: "'/' in an inline anchor name (openbsd)",
    os: 'openbsd',
    text: 'anchor "pfsteer/b0000" {\n  pass in all\n}\n',
    message: /^stdin:3: anchor paths containing '\/' cannot be used for inline anchors\.$/m,
  },
  { what: 'an unknown keyword', text: 'table <t> { 10.0.0.0/8 }\nredirect on em0 from any to any -> 10.0.1.11\n', message: /^stdin:2: syntax error$/m },
  {
    what: 'a malformed address',
    anchor: 'pfsteer/b0001',
    text: 'table <b0001v4> const { 10.0.0.0/16 10.1.0.0/33 }\n',
    message: /^stdin:1: cannot create address buffer: Invalid argument$/m,
  },
  {
    what: 'a rule whose address family disagrees with its addresses',
    anchor: 'pfsteer/b0001',
    text: 'rdr on em0 inet proto tcp from any to 2001:db8::10 port 443 -> 10.0.1.11\n',
    message: /^stdin:1: rule expands to no valid combination$/m,
  },
  {
    what: 'a redirect target of the other address family',
    anchor: 'pfsteer/b0001',
    text: 'rdr on em0 inet6 proto tcp from any to 2001:db8::10 port 443 -> 10.0.1.11\n',
    message: /^stdin:1: no translation address with matching address family found\.$/m,
  },
  { what: 'rdr in the openbsd grammar', os: 'openbsd', text: 'rdr on em0 inet proto tcp from any to 192.0.2.10 port 80 -> 10.0.1.11\n', message: /^stdin:1: syntax error$/m },
  {
    what: 'rdr-to without a direction (openbsd)',
    os: 'openbsd',
    text: 'pass quick on em0 inet proto tcp from any to 192.0.2.10 port 80 rdr-to 10.0.1.11\n',
    message: /^stdin:1: nat-to and rdr-to require a direction\nstdin:1: skipping rule due to errors\nstdin:1: rule expands to no valid combination$/m,
  },
  { what: 'set limit tables (freebsd)', text: 'set limit tables 10000\n', message: /^pfctl: Bad pool name\.\nstdin:1: unable to set limit tables 10000$/m },
  { what: 'a table name of 32 characters', anchor: 'pfsteer', text: `table <${'t'.repeat(32)}> persist { 10.0.0.0/8 }\n`, message: /^stdin:1: table name too long, max 31 chars$/m },
];

for (const c of REJECTED) {
  test(`the emulator rejects ${c.what}, as pfctl does, and loads nothing`, async () => {
    const e = emulator(c.os);
    const r = await pfctl(e, [...(c.anchor ? ['-a', c.anchor] : []), '-f', '-'], c.text);
    assert.equal(r.exitCode, 1);
    assert.match(r.stderr, c.message);
    assert.match(r.stderr, /pfctl: Syntax error in config file: pf rules not loaded$/);
    assert.deepEqual(Object.keys(e.memory().anchors), []);
    assert.equal(e.memory().main, '');
  });
}

test('an anchor path pfctl cannot copy ends pfctl at once, without the syntax error line', async () => {
  const r = await pfctl(emulator(), ['-a', `p/${'a'.repeat(62)}`, '-f', '-'], 'pass in all\n');
  assert.deepEqual([r.exitCode, r.stderr], [1, 'pfctl: pfctl_add_rule: strlcpy']);
});

test('openbsd accepts rdr-to on outbound and match rules and to a table with source-hash', async () => {
  const text = 'table <pool> { 10.0.1.11 10.0.1.12 }\npass out on em0 inet proto tcp from any to 192.0.2.10 port 80 rdr-to 10.0.1.11\nmatch out on em0 inet proto tcp to 192.0.2.10 port 80 rdr-to 10.0.1.11\npass in on em0 inet proto tcp to 192.0.2.10 port 80 rdr-to <pool> source-hash\n';
  const r = await pfctl(emulator('openbsd'), ['-f', '-'], text);
  assert.deepEqual([r.exitCode, r.stderr], [0, '']);
});

test('rdr-anchor with a single port and a plain rdr to one address with source-hash are accepted', async () => {
  const e = emulator();
  const r = await pfctl(e, ['-f', '-'], 'rdr-anchor "x/*" on em0 inet proto tcp from any to any port 80\nrdr on em0 inet proto tcp from any to 192.0.2.10 port 80 -> 10.0.1.11 source-hash\n');
  assert.equal(r.exitCode, 0, r.stderr);
});

test('a load is all or nothing: a bad line leaves the previous anchor in place', async () => {
  const e = emulator();
  const good = 'table <b0000v4> const { 10.0.0.0/8 }\nrdr on em0 inet proto tcp from <b0000v4> to 192.0.2.10 port 80 -> 10.0.1.11\n';
  assert.equal((await pfctl(e, ['-a', 'pfsteer/b0000', '-f', '-'], good)).exitCode, 0);
  const bad = 'table <b0000v4> const { 10.0.0.0/8 }\nrdr on em0 inet proto tcp from <b0000v4> to 192.0.2.10 port 80 -> 10.0.1.12 bogus\n';
  assert.equal((await pfctl(e, ['-a', 'pfsteer/b0000', '-f', '-'], bad)).exitCode, 1);
  assert.equal(e.memory().anchors['pfsteer/b0000']!.source, good);
});

test('loading an anchor replaces it alone: the others keep their rules and counters, a new one comes last', async () => {
  const e = emulator();
  e.loadMain('rdr-anchor "p/*"\n');
  const rules = (net: string, host: string) => `table <t> const { ${net} }\nrdr on em0 inet proto tcp from <t> to 192.0.2.10 port 443 -> ${host}\n`;
  for (const [name, net] of [['p/b0000', '198.51.0.0/16'], ['p/b0001', '203.0.113.0/24'], ['p/b0002', '192.0.2.0/24']] as const) {
    assert.equal((await pfctl(e, ['-a', name, '-f', '-'], rules(net, '10.0.1.11'))).exitCode, 0);
  }
  e.route({ source: parseAddress('198.51.100.7')!, destination: parseAddress('192.0.2.10')!, port: 443 }, { establish: true });
  const before = e.memory();
  assert.equal((await pfctl(e, ['-a', 'p/b0001', '-f', '-'], rules('203.0.113.0/24', '10.0.1.12'))).exitCode, 0);
  assert.equal((await pfctl(e, ['-a', 'p/b0003', '-f', '-'], rules('233.252.0.0/24', '10.0.1.12'))).exitCode, 0);
  const after = e.memory();
  assert.deepEqual(Object.keys(after.anchors), ['p/b0000', 'p/b0001', 'p/b0002', 'p/b0003']);
  assert.deepEqual(after.anchors['p/b0000'], before.anchors['p/b0000']);
  assert.equal(after.anchors['p/b0000']!.counters[0]!.states, 1);
  assert.deepEqual(after.anchors['p/b0002'], before.anchors['p/b0002']);
  assert.equal(after.anchors['p/b0001']!.source, rules('203.0.113.0/24', '10.0.1.12'));
  assert.deepEqual(after.states, before.states);
  assert.equal(e.route({ source: parseAddress('203.0.113.9')!, destination: parseAddress('192.0.2.10')!, port: 443 }).address, '10.0.1.12');
});

test("a load past pf's table limits is refused whole; a replaced anchor counts with its new tables only", async () => {
  const e = emulator();
  e.loadMain('set limit table-entries 6\nrdr-anchor "p/*"\n');
  const table = (...nets: string[]) => `table <t> const { ${nets.join(' ')} }\n`;
  const load = (name: string, text: string) => pfctl(e, ['-a', name, '-f', '-'], text);
  assert.equal((await load('p/a', table('10.0.0.0/24', '10.0.1.0/24', '10.0.2.0/24'))).exitCode, 0);
  assert.equal((await load('p/b', table('10.1.0.0/24', '10.1.1.0/24', '10.1.2.0/24'))).exitCode, 0);
  const refused = await load('p/c', table('10.2.0.0/24'));
  assert.equal(refused.exitCode, 1);
  assert.equal(refused.stderr, 'pfctl: DIOCADDTABLES: Cannot allocate memory\npfctl: Syntax error in config file: pf rules not loaded');
  assert.equal((await load('p/a', table('10.0.9.0/24', '10.0.8.0/24', '10.0.7.0/24'))).exitCode, 0);
  assert.equal((await load('p/a', table('10.0.0.0/24', '10.0.1.0/24', '10.0.2.0/24', '10.0.3.0/24'))).exitCode, 1);
  assert.deepEqual(Object.keys(e.memory().anchors), ['p/a', 'p/b']);
  assert.equal(e.memory().anchors['p/a']!.source, table('10.0.9.0/24', '10.0.8.0/24', '10.0.7.0/24'));
  // pfctl parses `set limit` in an anchor and loads options for the main ruleset only.
  const inAnchor = await load('p/d', 'set limit states 10\n');
  assert.deepEqual([inAnchor.exitCode, inAnchor.stderr], [0, '']);

  const o = emulator('openbsd');
  o.loadMain('set limit tables 2\nanchor "p/*"\n');
  assert.equal((await pfctl(o, ['-a', 'p/a', '-f', '-'], table('10.0.0.0/24'))).exitCode, 0);
  assert.equal((await pfctl(o, ['-a', 'p/b', '-f', '-'], table('10.1.0.0/24'))).exitCode, 0);
  assert.match((await pfctl(o, ['-a', 'p/c', '-f', '-'], table('10.2.0.0/24'))).stderr, /DIOCADDTABLES/);
});

test('routing follows pf order: main rdr-anchor children in byte order of names, first rdr match wins', async () => {
  const e = emulator();
  e.loadMain('table <ext> { 192.0.2.10 }\nrdr-anchor "pfsteer/*"\nrdr on em0 inet proto tcp from any to <ext> port 80 -> 10.0.9.9\n');
  await pfctl(e, ['-a', 'pfsteer/b0001', '-f', '-'], 'table <t> const { 198.51.100.0/24 }\nrdr on em0 inet proto tcp from <t> to <ext> port { 80 443 } -> 10.0.1.12\n');
  await pfctl(e, ['-a', 'pfsteer/b0000', '-f', '-'], 'table <t> const { 198.51.0.0/16 }\nrdr on em0 inet proto tcp from <t> to <ext> port 80 -> 10.0.1.11 port 8080\n');
  const at = (src: string, port: number) => e.route({ source: parseAddress(src)!, destination: parseAddress('192.0.2.10')!, port, interface: 'em0' });
  // b0000 sorts first and its /16 holds the /24 of b0001: it wins for port 80.
  assert.deepEqual([at('198.51.100.7', 80).anchor, at('198.51.100.7', 80).address, at('198.51.100.7', 80).port], ['pfsteer/b0000', '10.0.1.11', 8080]);
  assert.deepEqual([at('198.51.100.7', 443).anchor, at('198.51.100.7', 443).address], ['pfsteer/b0001', '10.0.1.12']);
  // Anchor tables are private: b0001's <t> does not leak into the main ruleset's rule.
  assert.deepEqual([at('203.0.113.5', 80).anchor, at('203.0.113.5', 80).address], ['', '10.0.9.9']);
  assert.equal(at('203.0.113.5', 22).anchor, null);
});

test('fault injection: failing, garbage and hanging calls, only for matching commands', async () => {
  const e = emulator();
  e.faults({ fail: 1, garbage: 1, match: '-s Anchors' });
  const loaded = await pfctl(e, ['-a', 'x/b0000', '-f', '-'], 'table <t> { 10.0.0.0/8 }\n');
  assert.equal(loaded.exitCode, 0);
  const failed = await pfctl(e, ['-a', 'x', '-s', 'Anchors']);
  assert.equal(failed.exitCode, 1);
  const garbage = await pfctl(e, ['-a', 'x', '-s', 'Anchors']);
  assert.equal(garbage.exitCode, 0);
  assert.doesNotMatch(garbage.stdout, /x\/b0000/);
  assert.equal((await pfctl(e, ['-a', 'x', '-s', 'Anchors'])).stdout, '  x/b0000');
  e.faults({ hang: 1 });
  const hung = await execa(e.pfctl, ['-s', 'memory'], { reject: false, env: e.env(), timeout: 700 });
  assert.equal(hung.timedOut, true);
  assert.deepEqual(e.calls().map((c) => c.outcome), ['ok', 'fail', 'garbage', 'ok', 'hang']);
});

test('-s state prints rdr states stack side first; -k nat kills by the host address, -k by the external one', async () => {
  const e = emulator();
  e.loadMain('rdr-anchor "p/*"\n');
  await pfctl(e, ['-a', 'p/b0000', '-f', '-'], 'rdr on em0 inet proto tcp from any to 192.0.2.10 port 443 -> 10.0.1.11\n');
  for (let i = 1; i <= 3; i++) e.route({ source: parseAddress(`198.51.100.${i}`)!, destination: parseAddress('192.0.2.10')!, port: 443 }, { establish: true, clientPort: 50000 + i });
  const shown = await pfctl(e, ['-s', 'state']);
  assert.match(shown.stdout, /^all tcp 10\.0\.1\.11:443 \(192\.0\.2\.10:443\) <- 198\.51\.100\.1:50001 +ESTABLISHED:ESTABLISHED$/m);
  const byWire = await pfctl(e, ['-k', '0.0.0.0/0', '-k', '10.0.1.11']);
  assert.match(byWire.stderr, /killed 0 states/);
  const byNat = await pfctl(e, ['-k', 'nat', '-k', '0.0.0.0/0', '-k', '10.0.1.11']);
  assert.equal(byNat.stderr, 'killed 3 states from 1 sources and 1 destinations');
  assert.equal(e.statesTo(parseAddress('10.0.1.11')!), 0);
});

test('-T add, delete, replace, flush and show on an anchor table print pfctl\'s summaries; -T show lists in radix order', async () => {
  const e = emulator();
  const anchor = 'table <h_lb1_4> persist { 10.1.0.0/16 10.0.0.0/16 }\nrdr on em0 inet proto tcp from <h_lb1_4> to 192.0.2.10 port 443 -> 10.0.1.11\n';
  assert.equal((await pfctl(e, ['-a', 'pfsteer', '-f', '-'], anchor)).exitCode, 0);
  const t = (args: string[], input?: string) => pfctl(e, ['-a', 'pfsteer', '-t', 'h_lb1_4', '-T', ...args], input);
  const added = await t(['add', '-f', '-'], '10.2.0.0/16\n10.3.0.0/16 # moved\n10.0.0.0/16\n');
  assert.deepEqual([added.exitCode, added.stderr], [0, '2/3 addresses added.']);
  const deleted = await t(['delete', '10.3.0.0/16', '10.9.0.0/16']);
  assert.deepEqual([deleted.exitCode, deleted.stderr], [0, '1/2 addresses deleted.']);
  assert.equal((await t(['show'])).stdout, '   10.0.0.0/16\n   10.1.0.0/16\n   10.2.0.0/16');
  const replaced = await t(['replace', '-f', '-'], '10.0.0.0/16 10.7.0.0/16 !10.7.1.0/24');
  assert.equal(replaced.stderr, '2 addresses added.\n2 addresses deleted.');
  assert.equal((await t(['replace', '10.0.0.0/16', '10.7.0.0/16', '!10.7.1.0/24'])).stderr, 'no changes.');
  assert.equal((await t(['show'])).stdout, '   10.0.0.0/16\n   10.7.0.0/16\n  !10.7.1.0/24');
  const verbose = await t(['add', '-v', '10.0.0.0/16', '192.0.2.1', '192.0.2.1']);
  assert.deepEqual([verbose.stdout, verbose.stderr], ['A  192.0.2.1\nX  192.0.2.1', '1/3 addresses added.']);
  assert.equal((await t(['flush'])).stderr, '4 addresses deleted.');
  assert.deepEqual(e.memory().anchors.pfsteer!.tables.h_lb1_4!.entries, []);
});

test('-T add and replace create a missing table persist; the anchor holding only tables exists for -s Tables and -s Anchors', async () => {
  const e = emulator();
  const created = await pfctl(e, ['-a', 'pfsteer/x', '-t', 'h_lb2_6', '-T', 'replace', '2001:db8::/48']);
  assert.deepEqual([created.exitCode, created.stderr], [0, '1 table created.\n1 addresses added.']);
  assert.equal((await pfctl(e, ['-a', 'pfsteer/x', '-s', 'Tables', '-v'])).stdout, '-pa----\th_lb2_6\tpfsteer/x');
  assert.equal((await pfctl(e, ['-a', 'pfsteer', '-s', 'Anchors'])).stdout, '  pfsteer/x');
  assert.equal((await pfctl(e, ['-a', 'pfsteer/x', '-t', 'h_lb2_6', '-T', 'kill'])).stderr, '1 table deleted.');
  assert.equal((await pfctl(e, ['-a', 'pfsteer', '-s', 'Anchors'])).stdout, '', 'an emptied anchor is gone');
  const missing = await pfctl(e, ['-a', 'pfsteer/x', '-s', 'Tables']);
  assert.deepEqual([missing.exitCode, missing.stderr], [1, 'pfctl: Anchor or Ruleset does not exist.']);
});

test('-T refusals: a missing table, a const table, an undecodable address, a name too long, pf out of table entries', async () => {
  const e = emulator();
  e.loadMain('set limit table-entries 3\n');
  await pfctl(e, ['-a', 'pfsteer', '-f', '-'], 'table <c> const { 10.0.0.0/8 }\ntable <p> persist { 10.1.0.0/16 }\n');
  const t = (table: string, ...args: string[]) => pfctl(e, ['-a', 'pfsteer', '-t', table, '-T', ...args]);
  for (const args of [['show'], ['delete', '10.0.0.0/8'], ['flush']]) assert.deepEqual(pick(await t('nope', ...args)), [255, 'pfctl: Table does not exist.']);
  for (const args of [['add', '10.2.0.0/16'], ['delete', '10.0.0.0/8'], ['replace', '10.0.0.0/8'], ['flush']]) assert.deepEqual(pick(await t('c', ...args)), [255, 'pfctl: Operation not permitted.']);
  assert.deepEqual(pick(await t('p', 'add', '10.1.0.0/33')), [255, 'pfctl: cannot decode 10.1.0.0/33: Invalid argument']);
  assert.deepEqual(pick(await pfctl(e, ['-a', 'pfsteer', '-t', 'p', '-T', 'add', '-f', '-'], '10.3.0.0/16\n10.1.0.0/33\n')), [255, 'pfctl: cannot load -: Invalid argument']);
  assert.equal((await t('x'.repeat(32), 'show')).exitCode, 1);
  assert.deepEqual(pick(await t('p', 'add', '10.4.0.0/16', '10.5.0.0/16')), [255, 'pfctl: Cannot allocate memory.']);
  assert.deepEqual(e.memory().anchors.pfsteer!.tables.p!.entries, ['10.1.0.0/16'], 'refused changes change nothing');
  assert.deepEqual(pick(await t('p', 'add', '10.4.0.0/16')), [0, '1/1 addresses added.']);
});

function pick(r: { exitCode?: number; stderr: string }): [number | undefined, string] {
  return [r.exitCode, r.stderr];
}

test('a load replaces the tables it defines and keeps persist ones it does not; -T changes survive until then', async () => {
  const e = emulator();
  const load = (text: string) => pfctl(e, ['-a', 'pfsteer', '-f', '-'], text);
  await load('table <a> persist { 10.0.0.0/16 }\ntable <b> { 10.1.0.0/16 }\ntable <c> { 10.2.0.0/16 }\npass in from <c>\n');
  await pfctl(e, ['-a', 'pfsteer', '-t', 'a', '-T', 'add', '10.9.0.0/16']);
  await load('table <b> persist { 10.5.0.0/16 }\n');
  const tables = e.memory().anchors.pfsteer!.tables;
  assert.deepEqual(Object.keys(tables).sort(), ['a', 'b']);
  assert.deepEqual(tables.a!.entries, ['10.0.0.0/16', '10.9.0.0/16']);
  assert.deepEqual(tables.b!.entries, ['10.5.0.0/16']);
});

test('openbsd: -T add on a name another ruleset holds warns as pfctl does', async () => {
  const e = emulator('openbsd');
  e.loadMain('table <t> persist { 192.0.2.0/24 }\n');
  const r = await pfctl(e, ['-a', 'pfsteer', '-t', 't', '-T', 'add', '10.0.0.0/8']);
  assert.equal(r.stderr, 'pfctl: warning: table <t> already defined in anchor "/"\n1 table created.\n1/1 addresses added.');
});

/** Loads anchors straight into the emulated kernel, as bench/apply.ts does: thousands need no pfctl process each. */
function install(e: PfEmulator, anchors: Record<string, string>): void {
  e.store.update((m) => {
    for (const [name, text] of Object.entries(anchors)) m.anchors[name] = loadedAnchor(text, parseRuleset(text, m.os, name));
  });
}

const ext = parseAddress('192.0.2.10')!;

test('evaluation follows skip steps: a source table that misses skips the rules after it with the same source', () => {
  const e = emulator();
  e.loadMain('rdr-anchor "pfsteer"\n');
  install(e, {
    pfsteer: [
      'table <a> persist { 10.1.0.0/16 }',
      'table <b> persist { 10.2.0.0/16 }',
      'rdr on em0 inet proto tcp from <a> to 192.0.2.10 port { 80 443 } -> 10.0.1.11',
      'rdr on em0 inet proto tcp from <b> to 192.0.2.10 port { 80 443 } -> 10.0.1.12',
      '',
    ].join('\n'),
  });
  const at = (src: string, port: number) => e.evaluate({ source: parseAddress(src)!, destination: ext, port, interface: 'em0' });
  const none = at('10.9.0.1', 443);
  assert.deepEqual([none.answer.anchor, none.tableLookups, none.rulesEvaluated], [null, 2, 3], 'hook, then the first rule of each table');
  assert.deepEqual(none.evaluated.get('pfsteer'), [0, 2]);
  const b443 = at('10.2.0.7', 443);
  // <a> misses (skip to <b> 80), the port misses (skip to <b> 443), which matches.
  assert.deepEqual([b443.answer.address, b443.tableLookups, b443.rulesEvaluated, b443.evaluated.get('pfsteer')], ['10.0.1.12', 3, 4, [0, 2, 3]]);
  const other = e.evaluate({ source: parseAddress('10.2.0.7')!, destination: ext, port: 443, interface: 'em1' });
  assert.deepEqual([other.tableLookups, other.rulesEvaluated], [0, 2], 'the interface skip step jumps over the whole run');
});

test('evaluation counts: the per-bucket layout costs a lookup per bucket, one anchor of per-host tables at most N+2', () => {
  for (const os of ['freebsd', 'openbsd'] as const) {
    const buckets = 256;
    const hosts = 4;
    const rule = (table: string, host: number) =>
      os === 'freebsd'
        ? `rdr on em0 inet proto tcp from <${table}> to <ext> port { 80 443 } -> 10.0.1.${10 + host}`
        : `pass in quick on em0 inet proto tcp from <${table}> to <ext> port { 80 443 } rdr-to 10.0.1.${10 + host}`;
    const main = `table <ext> { 192.0.2.10 }\n${os === 'freebsd' ? 'rdr-anchor' : 'anchor'} "pfsteer${'$'}"\n`;
    const prefix = (b: number) => `10.${b}.0.0/16`;
    const old = emulator(os);
    old.loadMain(main.replace('$', '/*'));
    const perBucket: Record<string, string> = {};
    for (let b = 0; b < buckets; b++) perBucket[`pfsteer/b${String(b).padStart(4, '0')}`] = `table <t> const { ${prefix(b)} }\n${rule('t', b % hosts)}\n`;
    install(old, perBucket);
    const fresh = emulator(os);
    fresh.loadMain(main.replace('$', ''));
    const tables = Array.from({ length: hosts }, (_, h) => `table <h${h}_4> persist { ${Array.from({ length: buckets / hosts }, (_, i) => prefix(i * hosts + h)).join(' ')} }`);
    install(fresh, { pfsteer: [...tables, ...Array.from({ length: hosts }, (_, h) => rule(`h${h}_4`, h)), ''].join('\n') });
    // A steered client stops at its bucket's anchor; any other new connection visits them all.
    for (const [source, bucketsBefore] of [['10.77.1.2', 78], ['172.16.0.1', buckets]] as const) {
      const packet = { source: parseAddress(source)!, destination: ext, port: 443, interface: 'em0' };
      const before = old.evaluate(packet);
      const after = fresh.evaluate(packet);
      assert.equal(after.answer.address, before.answer.address, `${os}: both layouts send ${source} to the same host`);
      assert.ok(before.tableLookups >= bucketsBefore, `${os}: per-bucket anchors cost ${before.tableLookups} lookups for ${source}`);
      assert.ok(after.tableLookups <= hosts + 2, `${os}: one anchor costs ${after.tableLookups} lookups for ${source}`);
    }
  }
});

test('-s Anchors of a missing anchor: FreeBSD names it, OpenBSD reports the ioctl', async () => {
  assert.deepEqual(pick(await pfctl(emulator(), ['-a', 'pfsteer', '-s', 'Anchors'])), [1, "Anchor 'pfsteer' not found."]);
  assert.deepEqual(pick(await pfctl(emulator('openbsd'), ['-a', 'pfsteer', '-s', 'Anchors'])), [1, 'pfctl: DIOCGETRULESETS: Invalid argument']);
});

test('-s nat -v prints per rule what evaluation with skip steps counted, in pfctl\'s counter lines', async () => {
  const e = emulator();
  e.loadMain('rdr-anchor "pfsteer"\n');
  const anchor = 'table <a> persist { 10.1.0.0/16 }\ntable <b> persist { 10.2.0.0/16 }\nrdr on em0 inet proto tcp from <a> to 192.0.2.10 port { 80 443 } -> 10.0.1.11\nrdr on em0 inet proto tcp from <b> to 192.0.2.10 port { 80 443 } -> 10.0.1.12\n';
  assert.equal((await pfctl(e, ['-a', 'pfsteer', '-f', '-'], anchor)).exitCode, 0);
  e.route({ source: parseAddress('10.2.0.7')!, destination: ext, port: 443, interface: 'em0' }, { establish: true });
  e.route({ source: parseAddress('10.9.0.7')!, destination: ext, port: 443, interface: 'em0' });
  const shown = (await pfctl(e, ['-a', 'pfsteer', '-s', 'nat', '-v'])).stdout.split('\n');
  const evaluations = shown.filter((l) => l.includes('Evaluations')).map((l) => Number(/Evaluations: (\d+)/.exec(l)![1]));
  assert.deepEqual(evaluations, [2, 0, 2, 1]);
  assert.equal(shown[10], '  [ Evaluations: 1         Packets: 1         Bytes: 60          States: 1     ]');
  assert.match(shown[11]!, /^ {2}\[ Inserted: uid 0 pid \d+ State Creations: 1 {5}\]$/);
  const main = (await pfctl(e, ['-s', 'nat', '-v'])).stdout.split('\n');
  assert.deepEqual([main[0], /Evaluations: (\d+)/.exec(main[1]!)![1]], ['rdr-anchor "pfsteer" all', '2']);
});
