/**
 * The example alert rules parse, and every metric and label their expressions name is one our
 * registry exports (or a target label the example scrape config sets): string level, without
 * a Prometheus at hand.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { createMetrics } from '../../src/daemon/metrics.ts';

const dir = new URL('../../examples/prometheus/', import.meta.url);

interface Rule {
  alert: string;
  expr: string;
  for: string;
}

/** Metric name -> label names, from the exposition text. */
function series(text: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? /.exec(line);
    if (!m) continue;
    const labels = out.get(m[1]!) ?? new Set<string>();
    for (const pair of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) labels.add(pair[1]!);
    out.set(m[1]!, labels);
  }
  return out;
}

test('the example alert rules parse and name only metrics and labels the daemon exports', async () => {
  const rules = (parse(await readFile(new URL('pfsteer-alerts.yml', dir), 'utf8')) as { groups: Array<{ name: string; rules: Rule[] }> }).groups.flatMap((g) => g.rules);
  assert.ok(rules.length >= 1);
  const scrape = parse(await readFile(new URL('prometheus.yml', dir), 'utf8')) as { rule_files: string[]; scrape_configs: Array<{ static_configs: Array<{ labels?: Record<string, string> }> }> };
  assert.deepEqual(scrape.rule_files, ['pfsteer-alerts.yml']);
  // Prometheus adds `instance` and `job` to every scraped series; the scrape config adds the rest.
  const targetLabels = new Set(['instance', 'job', ...scrape.scrape_configs.flatMap((c) => c.static_configs.flatMap((s) => Object.keys(s.labels ?? {})))]);
  assert.ok(targetLabels.has('pair'));

  const metrics = createMetrics(() => ({
    digest: '0123456789abcdef',
    hosts: [
      { name: 'lb1', eligible: false, drains: [{ source: 'config', since: Date.now() }], drainStates: 3 },
      { name: 'lb2', eligible: true, drains: [] },
    ],
  }));
  metrics.hostUp.set({ host: 'lb1' }, 1);
  const exported = series(await metrics.registry.metrics());

  const mapping = rules.find((r) => r.alert === 'PfsteerPairMappingsDiffer');
  assert.ok(mapping, 'the rule comparing digests');
  assert.match(mapping.expr, /pfsteer_mapping_info/);
  for (const rule of rules) {
    assert.match(rule.for, /^\d+[smh]$/, `${rule.alert}: a window`);
    const names = [...rule.expr.matchAll(/\b(pfsteer_[a-z_]+)\b/g)].map((m) => m[1]!);
    assert.ok(names.length > 0, `${rule.alert} names a pfsteer metric`);
    const labels = new Set<string>();
    for (const name of names) {
      assert.ok(exported.has(name), `${rule.alert}: ${name} is exported`);
      for (const l of exported.get(name)!) labels.add(l);
    }
    const used = [...rule.expr.matchAll(/\bby \(([^)]*)\)/g)].flatMap((m) => m[1]!.split(',').map((l) => l.trim()));
    used.push(...[...rule.expr.matchAll(/\{([^}]*)\}/g)].flatMap((m) => [...m[1]!.matchAll(/([a-zA-Z_]\w*)\s*[=!~]/g)].map((x) => x[1]!)));
    for (const label of used) assert.ok(labels.has(label) || targetLabels.has(label), `${rule.alert}: label ${label} exists`);
  }
  assert.deepEqual([...exported.get('pfsteer_mapping_info')!], ['digest']);
});
