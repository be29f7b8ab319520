import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { execa } from 'execa';
import fc from 'fast-check';
import { buildPartition, bucketTables } from '../../src/buckets/partition.ts';
import { parseConfig } from '../../src/config/load.ts';
import { buildMapper } from '../../src/daemon/daemon.ts';
import { mainRulesetSnippet, renderAnchor, tableName } from '../../src/pf/render.ts';
import { arbSmallConfig, randomOwners } from './arbitrary-anchor.ts';
import { parseRuleset as emulatorParse } from '../pf-emulator/grammar.ts';

/** Real pfctl's parser, built for Linux (see /work/shared/pfreal/README.md); absent on other machines. */
const PFPARSE = '/work/shared/pfreal/pfparse';

const HOSTS = `  lb1: {addresses: {web: 10.0.1.11, alt: "10.0.1.11:9443", six: "2001:db8:1::11"}}
  lb2: {addresses: {web: 10.0.1.12, alt: "10.0.1.12:9443", six: "[2001:db8:1::12]:8443"}}
`;

function config(dialect: string, serviceOrder: 'ab' | 'ba' = 'ab', hosts = HOSTS) {
  const services = {
    a: '  web:\n    interface: em0\n    external: <haproxy-ext-std>\n    ports: [80, 443]\n',
    b: '  alt:\n    interface: em1\n    external: [203.0.113.20, 198.51.100.0/24]\n    ports: [8443]\n  six:\n    interface: em0\n    family: inet6\n    external: [2001:db8:ff::10]\n    ports: [443]\n',
  };
  return parseConfig(
    `buckets: {count: 16, inet_prefix: 6, inet6_prefix: 7}
pf: {dialect: ${dialect}}
services:
${serviceOrder === 'ab' ? services.a + services.b : services.b + services.a}hosts:
${hosts}`,
    'golden.yaml',
  );
}

function renderAll(dialect: string, order: 'ab' | 'ba' = 'ab'): string {
  const c = config(dialect, order);
  const tables = bucketTables(buildPartition(c.buckets));
  // lb1 owns the even buckets, lb2 the odd ones but the last, which is empty (fallthrough).
  const owners = Array.from({ length: 16 }, (_, b) => (b === 15 ? null : b % 2 === 0 ? 'lb1' : 'lb2'));
  return renderAnchor(c, tables, owners) + mainRulesetSnippet(c);
}

for (const dialect of ['freebsd', 'openbsd']) {
  test(`${dialect} anchor matches the golden file`, () => {
    const file = new URL(`golden/${dialect}.pf`, import.meta.url);
    const text = renderAll(dialect);
    if (process.env.UPDATE_GOLDEN) writeFileSync(file, text);
    assert.equal(text, readFileSync(file, 'utf8'));
  });

  test(`${dialect} rendering does not depend on the order of services or hosts in the file`, () => {
    assert.equal(renderAll(dialect, 'ba'), renderAll(dialect, 'ab'));
    const swapped = config(dialect, 'ab', HOSTS.split('\n').reverse().join('\n'));
    const c = config(dialect);
    const owners = buildMapper(c).owners(new Set(['lb1', 'lb2']));
    const tables = bucketTables(buildPartition(c.buckets));
    assert.equal(renderAnchor(swapped, tables, owners), renderAnchor(c, tables, owners));
  });

  test(`${dialect}: real pfctl's parser accepts the rendered anchor and the hook`, { skip: !existsSync(PFPARSE) && 'real pfctl parser not on this machine' }, async () => {
    const anchor = await execa(PFPARSE, [dialect, '-a', 'pfsteer', '-'], { input: renderAll(dialect).split('# pf.conf')[0], reject: false });
    assert.equal(anchor.exitCode, 0, anchor.stderr);
    const main = await execa(PFPARSE, [dialect, '-'], { input: `table <haproxy-ext-std> { 192.0.2.10 }\n${mainRulesetSnippet(config(dialect))}`, reject: false });
    assert.equal(main.exitCode, 0, main.stderr);
  });
}

test('table names come from the host name alone: adding a host renames nothing, every name fits pf', () => {
  fc.assert(
    fc.property(fc.uniqueArray(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,27}$/), { minLength: 2, maxLength: 8 }), (hosts) => {
      const names = hosts.flatMap((h) => [tableName(h, 'inet'), tableName(h, 'inet6')]);
      assert.equal(new Set(names).size, names.length);
      for (const n of names) assert.ok(n.length <= 31, n);
      assert.deepEqual(hosts.slice(1).flatMap((h) => [tableName(h, 'inet'), tableName(h, 'inet6')]), names.slice(2));
    }),
  );
});

test('the emulator accepts the anchor pfsteer renders for random configs and owners, in both dialects', () => {
  fc.assert(
    fc.property(arbSmallConfig, fc.nat(), (config, seed) => {
      const tables = bucketTables(buildPartition(config.buckets));
      for (const dialect of ['freebsd', 'openbsd'] as const) {
        const c = { ...config, pf: { ...config.pf, dialect } };
        emulatorParse(renderAnchor(c, tables, randomOwners(c, seed)), dialect);
      }
    }),
    { numRuns: 100 },
  );
});

test('real pfctl accepts the anchor for random configs in both dialects', { skip: !existsSync(PFPARSE) && 'real pfctl parser not on this machine' }, async () => {
  const samples = fc.sample(fc.tuple(arbSmallConfig, fc.nat()), { numRuns: 15, seed: 13 });
  for (const [config, seed] of samples) {
    const tables = bucketTables(buildPartition(config.buckets));
    for (const dialect of ['freebsd', 'openbsd'] as const) {
      const c = { ...config, pf: { ...config.pf, dialect } };
      // Interfaces real pfctl's parser knows; the rest of the random config stands.
      const known = { ...c, services: c.services.map((s, i) => ({ ...s, interface: ['em0', 'em1', 'igb0'][i % 3]! })) };
      const text = renderAnchor(known, tables, randomOwners(known, seed));
      const r = await execa(PFPARSE, [dialect, '-a', 'pfsteer', '-'], { input: text, reject: false });
      assert.equal(r.exitCode, 0, `${r.stderr}\n${text.slice(0, 2000)}`);
    }
  }
});
