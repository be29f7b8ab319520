/**
 * pfsteer.yaml(5) documents exactly the keys the config loader accepts, where it accepts them.
 * The loader's own lists are read by watching it: every mapping it reads goes through
 * Reader.section(node, path, allowed), so loading a config that sets every key records each
 * mapping's allowed keys under its path. A key added to src/config without its man page entry
 * fails here, and so does a documented key the loader no longer takes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseConfig } from '../src/config/load.ts';
import { Reader } from '../src/config/reader.ts';
import { argumentsOf, lists, sectionLines, type List } from './man-mdoc.ts';

const PAGE = readFileSync(new URL('../src/man/pfsteer.yaml.5', import.meta.url), 'utf8');

/** Sets every key the loader accepts, so that every mapping in it is read; valid as a whole. */
const EVERY_KEY = `
defaults: {interval: 2s, timeout: 1s, rise: 2, fall: 3, fastinter: 1s, downinter: 5s, jitter: 100ms}
buckets: {count: 256, seed: 7, inet_prefix: 16, inet6_prefix: 19}
driver: memory
pf: {anchor: pfsteer, dialect: openbsd, pfctl: /sbin/pfctl, command_prefix: [doas], timeout: 10s, concurrency: 4, table_entries_limit: 200000, tables_limit: 1000}
nft: {nft: /usr/sbin/nft, conntrack: /usr/sbin/conntrack, table: pfsteer, command_prefix: [sudo, -n], timeout: 10s}
policy: {all_down: keep, kill_states_on_down: never}
control: {socket: /var/run/pfsteer.sock, mode: "0660", group: wheel}
metrics: {listen: 127.0.0.1:9742}
daemon: {state_file: /var/db/pfsteer/state.json, drift_interval: 30s, coalesce: 20ms, startup_grace: 10s}
services:
  web: {interface: em0, family: inet, protocol: tcp, external: <web-ext>, ports: [80, 443]}
hosts:
  lb1:
    weight: 2
    drain: false
    addresses: {web: 10.0.1.11}
    checks:
      - {type: exec, name: script, command: [/bin/true], env: {A: b}, cwd: /tmp, kill_after: 1s, max_output: 100,
         interval: 2s, timeout: 1s, rise: 1, fall: 1, fastinter: 1s, downinter: 3s, jitter: 0ms}
      - {type: http, address: 10.0.1.11, port: 80, path: /haproxy_check, host: lb1.example.com, method: HEAD,
         expect_status: [200, 204], expect_body: ok, fresh: false}
      - {type: https, tls_verify: true, ca: /etc/ssl/ca.pem, client_cert: {cert: /etc/ssl/c.pem, key: /etc/ssl/c.key}}
      - {type: tcp, port: 8404, send: "PING\\n", expect: PONG}
    on_up: {command: [/bin/true, up], timeout: 5s, kill_after: 1s, env: {A: b}, cwd: /tmp}
    on_down: {command: [/bin/true, down], timeout: 5s, kill_after: 1s, env: {A: b}, cwd: /tmp}
`;

/** Section path -> keys allowed there, and the keys the fixture set there. */
interface Seen {
  allowed: Map<string, Set<string>>;
  present: Map<string, Set<string>>;
}

/**
 * Paths without what the operator chooses: names under a mapping read with entries() (hosts,
 * services) and list indexes. `hosts.lb1.checks[2].client_cert` -> `hosts.checks.client_cert`.
 */
function generalize(path: string, named: ReadonlySet<string>): string {
  const parts = path.replace(/\[\d+\]/g, '').split('.').filter((part) => part !== '');
  const out: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    out.push(parts[i]!);
    if (named.has(parts.slice(0, i + 1).join('.'))) i++;
  }
  return out.join('.');
}

function watchLoader(text: string): Seen {
  const seen: Seen = { allowed: new Map(), present: new Map() };
  const calls: Array<{ path: string; allowed: readonly string[]; present: string[] }> = [];
  const named = new Set<string>();
  const section = Reader.prototype.section;
  const entries = Reader.prototype.entries;
  Reader.prototype.section = function (this: Reader, node, path, allowed, owner) {
    const result = section.call(this, node, path, allowed, owner);
    calls.push({ path, allowed, present: allowed.filter((key) => result?.has(key)) });
    return result;
  };
  Reader.prototype.entries = function (this: Reader, node, path, owner) {
    named.add(path.replace(/\[\d+\]/g, ''));
    return entries.call(this, node, path, owner);
  };
  try {
    parseConfig(text, 'every-key.yaml');
  } finally {
    Reader.prototype.section = section;
    Reader.prototype.entries = entries;
  }
  for (const call of calls) {
    const path = generalize(call.path, named);
    for (const [map, keys] of [
      [seen.allowed, call.allowed],
      [seen.present, call.present],
    ] as const) {
      const set = map.get(path) ?? new Set<string>();
      for (const key of keys) set.add(key);
      map.set(path, set);
    }
  }
  return seen;
}

/** The documented keys under every path: items whose head is `Ic key ...`, nested by list. */
function documentedKeys(): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  const walk = (list: List, path: string) => {
    for (const item of list.items) {
      if (item.head[0] !== 'Ic') continue;
      const keys = argumentsOf(item.head, 'Ic');
      const set = out.get(path) ?? new Set<string>();
      for (const key of keys) set.add(key);
      out.set(path, set);
      for (const nested of item.lists) for (const key of keys) walk(nested, path === '' ? key : `${path}.${key}`);
    }
  };
  for (const list of lists(sectionLines(PAGE, 'Ss', 'Keys'))) walk(list, '');
  return out;
}

function sorted(map: Map<string, Set<string>>): Record<string, string[]> {
  return Object.fromEntries([...map].sort(([a], [b]) => a.localeCompare(b)).map(([path, keys]) => [path || '(top level)', [...keys].sort()]));
}

const seen = watchLoader(EVERY_KEY);

test('the fixture sets every key the loader accepts, so every mapping in the config was read', () => {
  assert.deepEqual(sorted(seen.present), sorted(seen.allowed));
});

test('pfsteer.yaml(5) documents every key the loader accepts, under its section, and no other', () => {
  assert.deepEqual(sorted(documentedKeys()), sorted(seen.allowed));
});

test('every documented value says its default or that it is required', () => {
  const lines = sectionLines(PAGE, 'Ss', 'Keys');
  // A leaf item's text runs to the next .It or .El; mappings with nested keys are not leaves.
  const starts = lines.flatMap((line, i) => (line.startsWith('.It ') ? [i] : []));
  for (const start of starts) {
    const end = lines.findIndex((line, i) => i > start && (line.startsWith('.It ') || line === '.El' || line.startsWith('.Bl ')));
    if (lines[end]?.startsWith('.Bl ')) continue;
    const text = lines.slice(start, end).join(' ');
    assert.match(text, /Default|Required/, `${lines[start]} says its default or that it is required`);
  }
});
