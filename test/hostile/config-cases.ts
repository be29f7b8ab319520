/**
 * Hostile config texts, built rather than stored: the alias amplifications of issue 16 (a
 * 118 KB file that took 14.7 s to check, 358 KB over 120 s, an invalid 265 KB one 110 s and 2 GB),
 * alias bombs, deep nesting, and a valid base to inject into.
 */
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import { parseConfig } from '../../src/config/load.ts';
import type { Config } from '../../src/config/model.ts';
import { ConfigError } from '../../src/errors.ts';
import { renderSetup } from '../../src/nft/render.ts';
import { nftLayoutOf } from '../../src/nft/layout.ts';
import { mainRulesetSnippet, renderAnchor } from '../../src/pf/render.ts';
import { parseAddress } from '../../src/net/address.ts';

export const SERVICE = ['services:', '  web: {interface: em0, external: <web-ext>, ports: [80, 443]}'];

/**
 * `hosts` hosts whose `checks` are all one aliased list of `checks` checks, defined on a first
 * host `lb`. `invalid` gives every check port 0, so each expanded copy is an error.
 */
export function aliasedChecks(hosts: number, checks: number, invalid = false): string {
  const lines = [...SERVICE, 'hosts:', '  lb:', '    addresses: {web: 10.1.0.1}', '    checks: &c'];
  for (let i = 0; i < checks; i++) lines.push(`      - {type: tcp, name: check-${i}, port: ${invalid ? 0 : 80}, interval: 2s, timeout: 1s}`);
  for (let i = 0; i < hosts; i++) lines.push(`  lb${i}: {addresses: {web: 10.0.${(i >> 8) & 255}.${i & 255}}, checks: *c}`);
  return `${lines.join('\n')}\n`;
}

/** The smallest host count that makes aliasedChecks(hosts, checks) at least `bytes` long. */
export function aliasedChecksOfSize(bytes: number, checks: number, invalid = false): string {
  let hosts = 1;
  while (aliasedChecks(hosts, checks, invalid).length < bytes) hosts *= 2;
  let low = hosts / 2;
  while (low + 1 < hosts) {
    const mid = Math.floor((low + hosts) / 2);
    if (aliasedChecks(mid, checks, invalid).length < bytes) low = mid;
    else hosts = mid;
  }
  return aliasedChecks(hosts, checks, invalid);
}

/** Billion laughs: each level a list of ten aliases of the level before. */
export function aliasBomb(levels: number): string {
  const lines = ['a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
  for (let i = 1; i <= levels; i++) lines.push(`a${i}: &a${i} [${Array.from({ length: 10 }, () => `*a${i - 1}`).join(', ')}]`);
  lines.push(...SERVICE, `hosts: *a${levels}`);
  return `${lines.join('\n')}\n`;
}

/** `depth` nested flow sequences as the value of `hosts`. */
export function deepFlow(depth: number): string {
  return `${SERVICE.join('\n')}\nhosts: ${'['.repeat(depth)}${']'.repeat(depth)}\n`;
}

/** `depth` nested compact block sequences (`- - - x`). */
export function deepDashes(depth: number): string {
  return `${SERVICE.join('\n')}\nhosts:\n  ${'- '.repeat(depth)}x\n`;
}

/** A mapping of `keys` keys, each a new host name: yaml's own duplicate-key check was quadratic. */
export function manyKeys(keys: number): string {
  const lines = [...SERVICE, 'hosts:'];
  for (let i = 0; i < keys; i++) lines.push(`  h${i}: 1`);
  return `${lines.join('\n')}\n`;
}

/** Per case; the loaded CI machine gives a test a fraction of a core. */
export const BOUND_MS = 5000;
export const MARK = 'INJ';

type Tree = Record<string, unknown>;

export function baseTree(): Tree {
  return {
    pf: { anchor: 'pfsteer', pfctl: '/sbin/pfctl', command_prefix: ['doas'] },
    nft: { table: 'pfsteer', nft: '/usr/sbin/nft', conntrack: '/usr/sbin/conntrack', command_prefix: ['sudo', '-n'] },
    control: { socket: '/var/run/pfsteer.sock', mode: '0660', group: 'wheel' },
    metrics: { listen: '127.0.0.1:9742' },
    daemon: { state_file: '/var/db/pfsteer/state.json' },
    defaults: { interval: '2s', timeout: '1s' },
    services: {
      web: { interface: 'em0', external: '<web-ext>', ports: [80, 443] },
      alt: { interface: 'em1', external: ['203.0.113.20', '198.51.100.0/24'], ports: [8080] },
    },
    hosts: {
      lb1: {
        addresses: { web: '10.0.1.11', alt: '10.0.1.11:8080' },
        checks: [
          { type: 'http', name: 'haproxy', path: '/haproxy_check', host: 'lb1.example', method: 'GET', expect_body: 'OK' },
          { type: 'tcp', name: 'port', port: 80, send: 'PING', expect: 'PONG' },
          { type: 'exec', name: 'script', command: ['/usr/local/bin/check', '--host', 'lb1'], env: { MODE: 'strict' }, cwd: '/tmp' },
        ],
        on_up: ['/usr/local/bin/notify', 'up'],
      },
      lb2: { addresses: { web: '10.0.1.12', alt: '10.0.1.12' } },
    },
  };
}

/** Where a string can go: a path of keys and indices into the tree, or a renamed mapping key. */
export type Field = { at: (string | number)[] } | { rename: (string | number)[]; from: string; also?: (string | number)[][] };

export const FIELDS: Field[] = [
  ...[
    ['pf', 'anchor'],
    ['pf', 'pfctl'],
    ['pf', 'command_prefix', 0],
    ['nft', 'table'],
    ['nft', 'nft'],
    ['nft', 'conntrack'],
    ['nft', 'command_prefix', 1],
    ['control', 'socket'],
    ['control', 'mode'],
    ['control', 'group'],
    ['metrics', 'listen'],
    ['daemon', 'state_file'],
    ['defaults', 'interval'],
    ['services', 'web', 'interface'],
    ['services', 'web', 'external'],
    ['services', 'alt', 'external', 0],
    ['hosts', 'lb1', 'addresses', 'web'],
    ['hosts', 'lb1', 'addresses', 'alt'],
    ['hosts', 'lb1', 'checks', 0, 'name'],
    ['hosts', 'lb1', 'checks', 0, 'path'],
    ['hosts', 'lb1', 'checks', 0, 'host'],
    ['hosts', 'lb1', 'checks', 0, 'method'],
    ['hosts', 'lb1', 'checks', 0, 'expect_body'],
    ['hosts', 'lb1', 'checks', 1, 'send'],
    ['hosts', 'lb1', 'checks', 1, 'expect'],
    ['hosts', 'lb1', 'checks', 2, 'command', 0],
    ['hosts', 'lb1', 'checks', 2, 'command', 2],
    ['hosts', 'lb1', 'checks', 2, 'env', 'MODE'],
    ['hosts', 'lb1', 'checks', 2, 'cwd'],
    ['hosts', 'lb1', 'on_up', 1],
  ].map((at) => ({ at })),
  { rename: ['hosts'], from: 'lb1' },
  { rename: ['services'], from: 'web', also: [['hosts', 'lb1', 'addresses'], ['hosts', 'lb2', 'addresses']] },
  { rename: ['hosts', 'lb1', 'checks', 2, 'env'], from: 'MODE' },
];

export function describeField(field: Field): string {
  return 'at' in field ? field.at.join('.') : `key ${[...field.rename, field.from].join('.')}`;
}

function walk(tree: unknown, path: readonly (string | number)[]): Record<string | number, unknown> {
  return path.reduce<unknown>((node, key) => (node as Record<string | number, unknown>)[key], tree) as Record<string | number, unknown>;
}

function renameKey(map: Record<string, unknown>, from: string, to: string): void {
  const entries = Object.entries(map).map(([key, value]) => [key === from ? to : key, value] as const);
  for (const key of Object.keys(map)) delete map[key];
  for (const [key, value] of entries) map[key] = value;
}

export function withValue(field: Field, value: string): Tree {
  const tree = baseTree();
  if ('at' in field) {
    walk(tree, field.at.slice(0, -1))[field.at.at(-1)!] = value;
  } else {
    for (const path of [field.rename, ...(field.also ?? [])]) renameKey(walk(tree, path) as Record<string, unknown>, field.from, value);
  }
  return tree;
}

/** Everything pfsteer writes into the filter for this config: both pf dialects and nft. */
function rendered(config: Config): string[] {
  const out: string[] = [];
  for (const dialect of ['freebsd', 'openbsd'] as const) {
    const pfConfig: Config = { ...config, pf: { ...config.pf, dialect } };
    // One bucket with one prefix, owned by the first host: the tables and every rule appear.
    const tables = [{ inet: [{ address: parseAddress('192.0.2.0')!, prefix: 24 }], inet6: [] }];
    out.push(renderAnchor(pfConfig, tables, [config.hosts[0]!.name]), mainRulesetSnippet(pfConfig));
  }
  out.push(renderSetup(nftLayoutOf(config)));
  return out;
}

const BASE_LINES = rendered(parseConfig(stringify(baseTree()), 'base.yaml')).map((text) => text.split('\n').length);

/**
 * A word of the filter's syntax that carries the injected mark is plain: a name, maybe as the
 * renderer itself frames names: <table>, @map, "interface", pf.conf's "anchor/*".
 */
const PLAIN_WORD = /^(?:<[A-Za-z0-9_.:/-]+>|@[A-Za-z0-9_.-]+|"[A-Za-z0-9_.-]+(?:\/\*)?":?|[A-Za-z0-9_.:/-]+)$/;

export type Verdict = 'rejected' | 'accepted';

/**
 * Loads `text`; a rejection must be located, an acceptance must render no injected syntax (and,
 * for a variant of the base tree, as many lines as the base renders).
 */
export function judge(text: string, what: string, variantOfBase = true): Verdict {
  const started = performance.now();
  let config: Config;
  try {
    config = parseConfig(text, 'hostile.yaml');
  } catch (error) {
    assert.ok(error instanceof ConfigError, `${what}: not a ConfigError: ${String(error)}`);
    assert.ok(error.issues.length > 0, what);
    for (const issue of error.issues) assert.ok(issue.pos || issue.code === 'file-too-large', `${what}: ${issue.code} has no position`);
    assert.ok(performance.now() - started < BOUND_MS, `${what}: rejected after ${performance.now() - started} ms`);
    return 'rejected';
  }
  assert.ok(performance.now() - started < BOUND_MS, `${what}: loaded after ${performance.now() - started} ms`);
  rendered(config).forEach((output, i) => {
    if (variantOfBase) assert.equal(output.split('\n').length, BASE_LINES[i], `${what}: the rendering gained or lost lines:\n${output}`);
    for (const word of output.split(/\s+/)) if (word.includes(MARK)) assert.match(word, PLAIN_WORD, `${what}: injected syntax in\n${output}`);
  });
  return 'accepted';
}



/** pf, nft, shell, YAML and HTTP syntax, each carrying MARK. */
export const PAYLOADS = [
  `x\nrdr pass on em0 from any to any -> 192.0.2.66 # ${MARK}`,
  `x } pass quick all # ${MARK}`,
  `em0 inet proto tcp from any to any -> 192.0.2.66 ${MARK}`,
  `x; flush ruleset; ${MARK}`,
  `pfsteer { type nat hook prerouting priority dstnat; } ${MARK}`,
  `<${MARK}> { 0.0.0.0/0 }`,
  `"${MARK}"`,
  `'${MARK}'`,
  `$(${MARK})`,
  `\`${MARK}\``,
  `x\u0000${MARK}`,
  `${MARK}\r\nx`,
  `-${MARK}`,
  `../../${MARK}`,
  `/${MARK}/../../etc/passwd`,
  `é${MARK}`,
  `${'a'.repeat(5000)}${MARK}`,
  `10.0.1.11 ${MARK}`,
  `10.0.1.11:80 -> 192.0.2.66 ${MARK}`,
  `/haproxy_check HTTP/1.1\r\nX-${MARK}: 1`,
  `lb1.example\r\nX-${MARK}: 1`,
  `*${MARK}`,
  `&${MARK} x`,
  `{${MARK}: 1}`,
  `[${MARK}]`,
  `${MARK}#x`,
  `${MARK}`,
  `ok-${MARK}.name_1`,
];
