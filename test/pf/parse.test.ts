import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { bucketTables, buildPartition } from '../../src/buckets/partition.ts';
import type { Config } from '../../src/config/model.ts';
import { assignmentFor, sameAssignment } from '../../src/drivers/assignments.ts';
import { formatAddress, formatCidr, parseAddress, parseCidr } from '../../src/net/address.ts';
import { decodeAnchor } from '../../src/pf/decode.ts';
import { isClosing, parseAnchors, parseKilled, parseMemory, parseStates, parseTableNames, parseTableShow } from '../../src/pf/output.ts';
import { renderAnchor, tableName } from '../../src/pf/render.ts';
import { PfParseError, parseRuleset } from '../../src/pf/rules.ts';
import { arbSmallConfig, randomOwners } from './arbitrary-anchor.ts';

function decodeRendered(config: Config, text: string, unseen: (bucket: number) => string | null) {
  const parsed = parseRuleset(text, 'rendered');
  return decodeAnchor(config, bucketTables(buildPartition(config.buckets)), { rules: parsed.rules, tables: new Map(parsed.tables.map((t) => [t.name, t.entries])) }, unseen);
}

test('parse(render(x)) gives back x: decoding a rendered anchor yields every bucket\'s owner with no problems', () => {
  fc.assert(
    fc.property(arbSmallConfig, fc.nat(), (config, seed) => {
      const owners = randomOwners(config, seed);
      // Buckets without prefixes cannot be read back; the driver knows what it loaded.
      const decoded = decodeRendered(config, renderAnchor(config, bucketTables(buildPartition(config.buckets)), owners), (b) => owners[b]!);
      assert.deepEqual(decoded.problems, []);
      assert.deepEqual(decoded.badRules, new Set());
      decoded.buckets.forEach((b, i) => {
        assert.deepEqual(b.problems, [], `bucket ${i}`);
        assert.ok(sameAssignment(b.assignment, assignmentFor(config, i, owners[i]!)), `bucket ${i}: ${b.assignment?.host} vs ${owners[i]}`);
      });
    }),
    { numRuns: 100 },
  );
});

test('decode names every inconsistency: prefix in no table, in two tables, unknown entry, missing/extra rule, rule to the wrong address', () => {
  const config = arbSmallConfig.filter((c) => c.hosts.length >= 2 && c.services.some((s) => s.family === 'inet') && c.services.every((s) => s.family === 'inet'));
  const [c] = fc.sample(config, { numRuns: 1, seed: 5 });
  const partition = bucketTables(buildPartition(c!.buckets));
  const owners = c!.hosts.map((h) => h.name);
  const mapping = Array.from({ length: c!.buckets.count }, (_, b) => owners[b % owners.length]!);
  const parsed = parseRuleset(renderAnchor(c!, partition, mapping), 'rendered');
  const tables = new Map(parsed.tables.map((t) => [t.name, [...t.entries]]));
  const [a, b] = [tableName(owners[0]!, 'inet'), tableName(owners[1]!, 'inet')];
  // A bucket of the first host and one of the second, each with IPv4 prefixes.
  const pick = (k: number): number => partition.findIndex((t, i) => i % owners.length === k && t.inet.length > 0);
  const [x, y] = [pick(0), pick(1)];
  assert.ok(x >= 0 && y >= 0);
  // Bucket x (owner a) also in b's table; bucket y (owner b) dropped from b; an unknown entry in a.
  tables.get(b)!.push(partition[x]!.inet[0]!);
  const dropped = new Set(partition[y]!.inet.map(formatCidr));
  tables.set(b, tables.get(b)!.filter((e) => !dropped.has(formatCidr(e))));
  tables.get(a)!.push(parseCidr('192.0.2.77/32')!);
  // The first gate and the first host rule missing, the second host rule sent elsewhere.
  const gates = parsed.rules.filter((r) => r.kind === 'gate');
  const [, second, ...rest] = parsed.rules.filter((r) => r.kind !== 'gate');
  assert.ok(second);
  const wrong = { ...second, target: parseAddress('10.99.99.99')! };
  const decoded = decodeAnchor(c!, partition, { rules: [...gates.slice(1), wrong, ...rest], tables });
  const all = [...decoded.problems, ...decoded.buckets.flatMap((x) => x.problems.map((p) => `bucket ${x.bucket}: ${p}`))].join('\n');
  assert.match(all, /missing rule for/);
  assert.match(all, /missing rule \(the gate of port \d+ on /);
  assert.match(all, /rule to the wrong address|extra rule/);
  assert.match(all, /no bucket's prefix \(192\.0\.2\.77/);
  assert.match(all, new RegExp(`bucket ${x}: prefix .* is in the tables of`));
  assert.equal(decoded.buckets[y]!.assignment?.host, null, `bucket ${y} is in no table: empty`);
});

test('pfctl -vv output: expanded rules, @numbers and counters are read; counters attach to their rule', () => {
  const text = [
    '@0 rdr on em0 inet proto tcp from <b0001v4> to 192.0.2.10 port = 80 -> 10.0.1.11',
    '  [ Evaluations: 12        Packets: 30        Bytes: 4000        States: 2     ]',
    '  [ Inserted: uid 0 pid 77 State Creations: 2     ]',
    '@1 rdr on em0 inet proto tcp from <b0001v4> to 192.0.2.10 port = https -> 10.0.1.11 port 8443',
    '  [ Evaluations: 1         Packets: 0         Bytes: 0           States: 0     ]',
    '',
  ].join('\n');
  const { rules } = parseRuleset(text, 'pfctl -s nat');
  assert.equal(rules.length, 2);
  assert.deepEqual(rules[0]!.counters, { evaluations: 12, packets: 30, bytes: 4000, states: 2 });
  assert.deepEqual(rules[1]!.ports, [443]);
  assert.equal(rules[1]!.kind !== 'gate' && rules[1]!.targetPort, 8443);
  assert.equal(rules[1]!.line, 4);
});

test('openbsd pass rules with printed default flags are read', () => {
  const { rules } = parseRuleset('@0 pass in quick on em0 inet6 proto tcp from <b0000v6> to 2001:db8::10 port = 443 flags S/SA rdr-to 2001:db8:1::11\n', 'pfctl -s rules');
  assert.equal(rules[0]!.kind, 'pass');
  assert.equal(rules[0]!.kind === 'pass' && formatAddress(rules[0]!.target), '2001:db8:1::11');
});

test('gates as pfctl prints them are read in both dialects, with their tag', () => {
  const { rules } = parseRuleset(
    [
      '@0 no rdr on em0 inet proto tcp from any to any port = 80 tagged pfsteer-gate',
      '  [ Evaluations: 5         Packets: 0         Bytes: 0           States: 0     ]',
      '@1 match in on em1 inet6 proto tcp from any to any port = https tagged pfsteer-gate',
      '',
    ].join('\n'),
    'pfctl -s nat',
  );
  assert.deepEqual(
    rules.map((r) => [r.kind, r.interface, r.family, r.from, r.to, r.ports, r.kind === 'gate' ? r.tag : undefined]),
    [
      ['gate', 'em0', 'inet', ['any'], ['any'], [80], 'pfsteer-gate'],
      ['gate', 'em1', 'inet6', ['any'], ['any'], [443], 'pfsteer-gate'],
    ],
  );
  assert.throws(() => parseRuleset('no rdr on em0 inet proto tcp from any to any port = 80\n', 'x'), (e: unknown) => e instanceof PfParseError && /expected "tagged"/.test(e.message));
});

test('a line that does not parse is an error naming the source and line, never dropped', () => {
  const cases: Array<[string, RegExp]> = [
    ['rdr on em0 inet proto tcp from <t> to 192.0.2.1 port = 80 -> 10.0.1.11\nnat on em0 from any to any -> 1.2.3.4\n', /line 2: "nat" is not a rule/],
    ['rdr on em0 inet proto tcp from <t> to 192.0.2.1 port = 80 -> 10.0.1.300\n', /line 1: "10\.0\.1\.300" is not an address/],
    ['  [ Evaluations: 1 Packets: 0 Bytes: 0 States: 0 ]\n', /line 1: counters without a rule/],
    ['rdr on em0 inet proto tcp from <t> to 192.0.2.1 port = 80 -> 10.0.1.11 round-robin\n', /line 1: unexpected "round-robin"/],
  ];
  for (const [text, expected] of cases) {
    assert.throws(() => parseRuleset(text, 'pfctl -a pfsteer/b0001 -s nat'), (e: unknown) => e instanceof PfParseError && /^pfctl -a pfsteer\/b0001 -s nat, line/.test(e.message) && expected.test(e.message));
  }
});

test('pfctl -s Anchors, -T show, -s memory and -k summaries parse; malformed lines are named', () => {
  assert.deepEqual(parseAnchors('  pfsteer/b0000\n  pfsteer/b0001\n', 'x'), ['pfsteer/b0000', 'pfsteer/b0001']);
  assert.throws(() => parseAnchors('pfsteer/b0000 extra\n', 'pfctl -s Anchors'), /pfctl -s Anchors, line 1/);
  assert.equal(parseTableShow('   10.0.0.0/16\n   2001:db8::/32\n', 'x').length, 2);
  assert.deepEqual(parseTableNames('lb1-v4\nlb1-v6\n', 'x'), ['lb1-v4', 'lb1-v6']);
  assert.throws(() => parseTableNames('lb1-v4\n<odd> name\n', 'pfctl -a pfsteer -s Tables'), /pfctl -a pfsteer -s Tables, line 2/);
  assert.throws(() => parseTableShow('   10.0.0.0/16\n   !10.1.0.0/16\n', 'show'), /show, line 2/);
  const memory = parseMemory('states        hard limit    10000\ntable-entries hard limit   200000\n', 'm');
  assert.equal(memory.get('table-entries'), 200000);
  assert.throws(() => parseMemory('states soft limit 5\n', 'pfctl -s memory'), /line 1/);
  assert.equal(parseKilled('killed 3 states from 0.0.0.0/0 to 10.0.1.11\n'), 3);
  assert.equal(parseKilled('pfctl: something else\n'), undefined);
});

test('pfctl -s state: the stack-side destination is read in both directions and -vv ids attach', () => {
  const text = [
    'all tcp 10.0.1.11:443 (192.0.2.10:443) <- 198.51.100.7:51234       ESTABLISHED:ESTABLISHED',
    '   [1000 + 65535](+1) wscale 6  [2000 + 65535](+1) wscale 6',
    '   id: 00000000000000a1 creatorid: 00000001',
    'all tcp 2001:db8:1::11[443] (2001:db8:ff::10[443]) <- 2001:db8:9::1[40000]       ESTABLISHED:ESTABLISHED',
    'em1 tcp 198.51.100.7:51234 -> 10.0.1.12:443       ESTABLISHED:ESTABLISHED',
    'all tcp 10.0.1.11:443 (192.0.2.10:443) <- 198.51.100.8:51234       TIME_WAIT:TIME_WAIT',
  ].join('\n');
  const states = parseStates(text, 's');
  assert.deepEqual(states.map((s) => formatAddress(s.destination)), ['10.0.1.11', '2001:db8:1::11', '10.0.1.12', '10.0.1.11']);
  assert.deepEqual(states.map((s) => s.translated), [true, true, false, true]);
  assert.deepEqual(states.map(isClosing), [false, false, false, true]);
  assert.equal(states[0]!.id, '00000000000000a1/00000001');
  assert.throws(() => parseStates('garbage here\n', 'pfctl -s state'), /pfctl -s state, line 1/);
});
