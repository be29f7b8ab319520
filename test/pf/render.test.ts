import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { buildPartition, bucketTables } from '../../src/buckets/partition.ts';
import { parseConfig } from '../../src/config/load.ts';
import { assignmentFor } from '../../src/drivers/assignments.ts';
import { anchorName, mainRulesetSnippet, renderAnchor } from '../../src/pf/render.ts';

function config(dialect: string, serviceOrder: 'ab' | 'ba' = 'ab') {
  const services = {
    a: '  web:\n    interface: em0\n    external: <haproxy-ext-std>\n    ports: [80, 443]\n',
    b: '  alt:\n    interface: em1\n    external: [203.0.113.20, 198.51.100.0/24]\n    ports: [8443]\n  six:\n    interface: em0\n    family: inet6\n    external: [2001:db8:ff::10]\n    ports: [443]\n',
  };
  return parseConfig(
    `buckets: {count: 16, inet_prefix: 8, inet6_prefix: 8}
pf: {dialect: ${dialect}}
services:
${serviceOrder === 'ab' ? services.a + services.b : services.b + services.a}hosts:
  lb1: {addresses: {web: 10.0.1.11, alt: "10.0.1.11:9443", six: "2001:db8:1::11"}}
  lb2: {addresses: {web: 10.0.1.12, alt: "10.0.1.12:9443", six: "[2001:db8:1::12]:8443"}}
`,
    'golden.yaml',
  );
}

function renderAll(dialect: string, order: 'ab' | 'ba' = 'ab'): string {
  const c = config(dialect, order);
  const tables = bucketTables(buildPartition(c.buckets));
  const owners = ['lb1', 'lb2', null] as const;
  return [0, 1, 2].map((b) => `## ${anchorName(c, b)}\n${renderAnchor(c, tables[b]!, assignmentFor(c, b, owners[b]!))}`).join('') + mainRulesetSnippet(c);
}

for (const dialect of ['freebsd', 'openbsd']) {
  test(`${dialect} anchors match the golden file`, () => {
    const file = new URL(`golden/${dialect}.pf`, import.meta.url);
    const text = renderAll(dialect);
    if (process.env.UPDATE_GOLDEN) writeFileSync(file, text);
    assert.equal(text, readFileSync(file, 'utf8'));
  });

  test(`${dialect} rendering does not depend on the order of services in the file`, () => {
    assert.equal(renderAll(dialect, 'ba'), renderAll(dialect, 'ab'));
  });
}
