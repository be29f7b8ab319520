/**
 * pf's tables as the kernel keeps them (pf_table.c) and pfctl's `-t T -T command` on them
 * (pfctl_table.c): entries kept as `[!]address/prefix` text, each command's counts, feedback
 * and errno, and pfctl's own summary lines (`2/3 addresses added.`, never pluralised, on stderr).
 */
import type { Cidr } from '../../src/net/address.ts';
import { compareAddress, formatAddress, formatCidr, maxPrefix, networkOf, parseAddress } from '../../src/net/address.ts';
import type { Os } from './grammar.ts';

export type TableFlag = 'const' | 'persist' | 'counters';

export interface KTable {
  flags: TableFlag[];
  /** `[!]address/prefix`, network bits only, no duplicates, in insertion order. */
  entries: string[];
  /** When the table's statistics were last cleared (ms since the epoch): `-T show -v` prints it. */
  cleared: number;
}

export interface TableEntry {
  cidr: Cidr;
  negate: boolean;
}

export function entryKey(e: TableEntry): string {
  return `${e.negate ? '!' : ''}${formatCidr(e.cidr)}`;
}

function entryOf(key: string): TableEntry {
  const negate = key.startsWith('!');
  const text = negate ? key.slice(1) : key;
  const slash = text.indexOf('/');
  return { cidr: { address: parseAddress(text.slice(0, slash))!, prefix: Number(text.slice(slash + 1)) }, negate };
}

/** Why pfctl could not read an address: the message host() prints, if any (errno is then 0). */
export class AddressError extends Error {
  readonly printed: string | undefined;
  constructor(printed: string | undefined) {
    super(printed ?? 'Invalid argument');
    this.printed = printed;
  }
}

/**
 * One address as pfctl's append_addr reads it: `!` negates, a prefix may follow, host bits are
 * masked off (pf.conf tables and -T alike; the kernel would refuse them set). The messages are
 * what host() prints before pfctl gives up.
 */
export function parseTableAddress(text: string, os: Os): TableEntry {
  let at = 0;
  let negate = false;
  while (text[at] === '!') {
    negate = !negate;
    at++;
  }
  const body = text.slice(at);
  const slash = body.indexOf('/');
  const address = parseAddress(slash < 0 ? body : body.slice(0, slash));
  if (!address) throw new AddressError(`no IP address found for ${body}`);
  let prefix = maxPrefix(address.family);
  if (slash >= 0) {
    const mask = body.slice(slash);
    const digits = mask.slice(1);
    const bits = /^\d+$/.test(digits) ? Number(digits) : Number.NaN;
    if (Number.isNaN(bits)) {
      throw new AddressError(os === 'freebsd' ? `invalid netmask '${mask}'` : `netmask is invalid: ${mask}`);
    } else if (address.family === 4) {
      if (bits > 32) throw new AddressError(undefined);
    } else if (bits > 128) {
      throw new AddressError(os === 'freebsd' ? `invalid netmask '${mask}'` : `netmask is too large: ${mask}`);
    }
    prefix = bits;
  }
  return { cidr: { address: networkOf({ address, prefix }), prefix }, negate };
}

/** pfr_buf_load: whitespace-separated words, `#` to the end of a line is a comment. */
export function addressWords(text: string): string[] {
  return text.replace(/#[^\n]*/g, ' ').split(/\s+/).filter((w) => w !== '');
}

/** The radix tree's walk order, which `-T show` prints: IPv4 first, by address, longer prefix first. */
export function sortedEntries(table: KTable): TableEntry[] {
  return table.entries.map(entryOf).sort((a, b) => compareAddress(a.cidr.address, b.cidr.address) || b.cidr.prefix - a.cidr.prefix);
}

/** print_addrx: feedback character, negation mark, address, `/prefix` unless a host. */
export function formatEntry(e: TableEntry, feedback = ' '): string {
  const host = e.cidr.prefix === maxPrefix(e.cidr.address.family);
  return `${feedback} ${e.negate ? '!' : ' '}${formatAddress(e.cidr.address)}${host ? '' : `/${e.cidr.prefix}`}`;
}

/** errno of a refused table ioctl, as radix_perror prints it (pfr_strerror). */
export type TableErrno = 'ESRCH' | 'EPERM' | 'ENOMEM' | 'ENOENT';

export const ERRNO_TEXT: Record<TableErrno, string> = {
  ESRCH: 'Table does not exist',
  ENOENT: 'Anchor or Ruleset does not exist',
  EPERM: 'Operation not permitted',
  ENOMEM: 'Cannot allocate memory',
};

export class TableRefused extends Error {
  readonly errno: TableErrno;
  constructor(errno: TableErrno) {
    super(ERRNO_TEXT[errno]);
    this.errno = errno;
  }
}

/** Feedback characters of print_addrx, by pfr_fback. */
export const FEEDBACK = { none: ' ', match: 'M', added: 'A', deleted: 'D', changed: 'C', duplicate: 'X', conflict: 'Y' } as const;

export interface Feedback {
  entry: TableEntry;
  mark: string;
}

export interface AddressChange {
  table: KTable;
  added: number;
  deleted: number;
  changed: number;
  feedback: Feedback[];
}

function writable(table: KTable | undefined): KTable {
  if (!table) throw new TableRefused('ESRCH');
  if (table.flags.includes('const')) throw new TableRefused('EPERM');
  return table;
}

/** The entry's address and prefix without its negation: pf keys the radix tree on them. */
function addressKey(key: string): string {
  return key.startsWith('!') ? key.slice(1) : key;
}

/** pfr_add_addrs: new addresses go in; one already present (either sign) or repeated is not added. */
export function addAddresses(table: KTable | undefined, entries: readonly TableEntry[]): AddressChange {
  const t = writable(table);
  const present = new Map(t.entries.map((k) => [addressKey(k), k]));
  const seen = new Set<string>();
  const added: string[] = [];
  const feedback = entries.map((entry): Feedback => {
    const key = entryKey(entry);
    const bare = addressKey(key);
    const old = present.get(bare);
    let mark: string = FEEDBACK.none;
    if (seen.has(bare)) mark = FEEDBACK.duplicate;
    else if (old === undefined) {
      mark = FEEDBACK.added;
      added.push(key);
    } else if (old !== key) mark = FEEDBACK.conflict;
    seen.add(bare);
    return { entry, mark };
  });
  return { table: { ...t, entries: [...t.entries, ...added] }, added: added.length, deleted: 0, changed: 0, feedback };
}

/** pfr_del_addrs: an address goes only if present with the same sign, once. */
export function deleteAddresses(table: KTable | undefined, entries: readonly TableEntry[]): AddressChange {
  const t = writable(table);
  const present = new Map(t.entries.map((k) => [addressKey(k), k]));
  const gone = new Set<string>();
  const feedback = entries.map((entry): Feedback => {
    const key = entryKey(entry);
    const old = present.get(addressKey(key));
    let mark: string = FEEDBACK.none;
    if (old === undefined) mark = FEEDBACK.none;
    else if (old !== key) mark = FEEDBACK.conflict;
    else if (gone.has(key)) mark = FEEDBACK.duplicate;
    else {
      mark = FEEDBACK.deleted;
      gone.add(key);
    }
    return { entry, mark };
  });
  return { table: { ...t, entries: t.entries.filter((k) => !gone.has(k)) }, added: 0, deleted: gone.size, changed: 0, feedback };
}

/** pfr_set_addrs: the table becomes exactly the list; a sign flip counts as a change. */
export function replaceAddresses(table: KTable | undefined, entries: readonly TableEntry[]): AddressChange {
  const t = writable(table);
  const present = new Map(t.entries.map((k) => [addressKey(k), k]));
  const kept = new Map<string, string>();
  let added = 0;
  let changed = 0;
  const feedback = entries.map((entry): Feedback => {
    const key = entryKey(entry);
    const bare = addressKey(key);
    if (kept.has(bare)) return { entry, mark: FEEDBACK.duplicate };
    kept.set(bare, key);
    const old = present.get(bare);
    if (old === undefined) {
      added++;
      return { entry, mark: FEEDBACK.added };
    }
    if (old !== key) {
      changed++;
      return { entry, mark: FEEDBACK.changed };
    }
    return { entry, mark: FEEDBACK.none };
  });
  const removed = t.entries.filter((k) => !kept.has(addressKey(k)));
  for (const k of removed) feedback.push({ entry: entryOf(k), mark: FEEDBACK.deleted });
  // pf keeps the entries it had in place: order matters only to `-T show`, which sorts.
  const next = [...t.entries.filter((k) => kept.has(addressKey(k))).map((k) => kept.get(addressKey(k))!), ...[...kept.values()].filter((k) => !present.has(addressKey(k)))];
  return { table: { ...t, entries: next }, added, deleted: removed.length, changed, feedback };
}

export function flushAddresses(table: KTable | undefined): AddressChange {
  const t = writable(table);
  return { table: { ...t, entries: [] }, added: 0, deleted: t.entries.length, changed: 0, feedback: [] };
}

/** pfr_tst_addrs: which addresses (hosts only) a lookup in the table matches. */
export function testAddresses(table: KTable | undefined, entries: readonly TableEntry[]): { matched: number; feedback: Feedback[] } {
  if (!table) throw new TableRefused('ESRCH');
  const lookup = tableMatcher(table);
  let matched = 0;
  const feedback = entries.map((entry): Feedback => {
    const hit = lookup(entry.cidr.address);
    if (hit) matched++;
    return { entry, mark: hit ? FEEDBACK.match : FEEDBACK.none };
  });
  return { matched, feedback };
}

const matchers = new WeakMap<KTable, (a: Cidr['address']) => boolean>();

/** An IPv4 address as a number, an IPv6 one as its text: the keys of a table's lookup maps. */
function keyOf(address: Cidr['address'], prefix: number): number | string {
  if (address.family === 4) {
    const b = address.bytes;
    const n = ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
    return prefix === 0 ? 0 : (n & (0xffffffff << (32 - prefix))) >>> 0;
  }
  return formatAddress(networkOf({ address, prefix }));
}

/**
 * pfr_match_addr: the longest prefix holding the address decides; a negated entry there means
 * no match. Built once per table object: routing many packets looks up the same tables.
 */
export function tableMatcher(table: KTable): (a: Cidr['address']) => boolean {
  let fn = matchers.get(table);
  if (fn) return fn;
  const levels: Array<{ family: number; prefix: number; entries: Map<number | string, boolean> }> = [];
  for (const key of table.entries) {
    const e = entryOf(key);
    let level = levels.find((l) => l.family === e.cidr.address.family && l.prefix === e.cidr.prefix);
    if (!level) levels.push((level = { family: e.cidr.address.family, prefix: e.cidr.prefix, entries: new Map() }));
    level.entries.set(keyOf(e.cidr.address, e.cidr.prefix), !e.negate);
  }
  levels.sort((a, b) => b.prefix - a.prefix);
  fn = (address) => {
    for (const level of levels) {
      if (level.family !== address.family) continue;
      const hit = level.entries.get(keyOf(address, level.prefix));
      if (hit !== undefined) return hit;
    }
    return false;
  };
  matchers.set(table, fn);
  return fn;
}
