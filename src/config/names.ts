import { NFT_KEYWORDS } from './nft-keywords.ts';

/**
 * What a name may be. Every name can end up inside a pf rule, a table or anchor path, a log line
 * or a command's environment, so only characters that need no quoting anywhere are allowed.
 */

export type NameKind = 'host' | 'service' | 'check' | 'anchor' | 'table' | 'interface' | 'nft table' | 'group';

/**
 * pf keeps table names and anchor path components in PF_TABLE_NAME_SIZE / anchor buffers of 32
 * bytes with a terminating NUL; interfaces in IFNAMSIZ (16). Hosts, services and checks share
 * the pf limit so they can name tables and labels later without truncation.
 */
export const NAME_LIMITS: Readonly<Record<NameKind, number>> = {
  host: 31,
  service: 31,
  check: 31,
  anchor: 31,
  table: 31,
  interface: 15,
  'nft table': 31,
  group: 32,
};

/** Starts with a letter or digit so a name is never read as an option (`-x`) or a path (`.`). */
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
/** OpenBSD daemon groups start with an underscore (`_pfsteer`). */
const GROUP = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
/** nft reads a word that starts with a digit as a number (`0`) or junk (`1x`), not a name. */
const NFT_TABLE = /^[A-Za-z][A-Za-z0-9_.-]*$/;

/** Why `text` is not a valid name of this kind, or undefined when it is. */
export function nameProblem(kind: NameKind, text: string): string | undefined {
  const limit = NAME_LIMITS[kind];
  const a = /^[aeiou]/.test(kind) ? 'an' : 'a';
  if (text.length === 0) return `expected ${a} ${kind} name, got an empty string`;
  if (text.length > limit) return `expected ${a} ${kind} name of at most ${limit} characters, got ${text.length} characters`;
  const pattern = kind === 'group' ? GROUP : kind === 'nft table' ? NFT_TABLE : NAME;
  if (!pattern.test(text)) {
    const start = kind === 'group' ? 'not starting with . or -' : kind === 'nft table' ? 'starting with a letter' : 'starting with a letter or digit';
    return `expected ${a} ${kind} name of letters, digits, '_', '.' and '-' (${start}), got ${JSON.stringify(text)}`;
  }
  if (kind === 'nft table' && NFT_KEYWORDS.has(text)) return `expected an nft table name that is not an nft keyword, got ${JSON.stringify(text)}; nft would read it as the keyword`;
  return undefined;
}
