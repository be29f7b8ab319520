/**
 * Hostile config texts, built rather than stored: the alias amplifications of issue 16 (a
 * 118 KB file that took 14.7 s to check, 358 KB over 120 s, an invalid 265 KB one 110 s and 2 GB),
 * alias bombs, deep nesting, and a valid base to inject into.
 */

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
