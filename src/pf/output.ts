/**
 * Parsers for the non-rule output of pfctl that pfsteer reads: `-s Anchors`, `-t T -T show`,
 * `-s memory`, `-s state [-vv]` and the "killed N states" summary of `-k`. Pure; a line that
 * does not parse is an error naming it.
 */
import type { Cidr, IpAddress } from '../net/address.ts';
import { parseAddress, parseCidr } from '../net/address.ts';
import { PfParseError } from './rules.ts';

function lines(text: string): Array<{ n: number; raw: string }> {
  return text.split('\n').map((raw, i) => ({ n: i + 1, raw })).filter(({ raw }) => raw.trim() !== '');
}

/** `pfctl -a X -s Anchors`: one indented anchor path per line. */
export function parseAnchors(text: string, what: string): string[] {
  return lines(text).map(({ n, raw }) => {
    const m = /^\s+(\S+)$/.exec(raw);
    if (!m) throw new PfParseError(what, n, raw, 'expected one indented anchor path');
    return m[1]!;
  });
}

/** `pfctl -a X -s Tables`: one table name per line. */
export function parseTableNames(text: string, what: string): string[] {
  return lines(text).map(({ n, raw }) => {
    const name = raw.trim();
    if (!/^[A-Za-z0-9_.:@+-]+$/.test(name)) throw new PfParseError(what, n, raw, 'expected one table name');
    return name;
  });
}

/** `pfctl -a X -t T -T show`: one address or network per line. */
export function parseTableShow(text: string, what: string): Cidr[] {
  return lines(text).map(({ n, raw }) => {
    const cidr = parseCidr(raw.trim());
    if (!cidr) throw new PfParseError(what, n, raw, 'expected an address or network');
    return cidr;
  });
}

/** `pfctl -s memory`: `name hard limit N` per pool. */
export function parseMemory(text: string, what: string): Map<string, number> {
  const limits = new Map<string, number>();
  for (const { n, raw } of lines(text)) {
    const m = /^(\S+)\s+hard limit\s+(\d+)$/.exec(raw.trim());
    if (!m) throw new PfParseError(what, n, raw, 'expected "<pool> hard limit <number>"');
    limits.set(m[1]!, Number(m[2]));
  }
  return limits;
}

export interface PfState {
  interface: string;
  protocol: string;
  direction: 'in' | 'out';
  /**
   * The destination after translation (the stack side): for an rdr'd inbound state, the haproxy
   * host's internal address, whatever external address the client dialled.
   */
  destination: IpAddress;
  /** The state was translated: pf printed the other side's address in parentheses. */
  translated: boolean;
  /** Both peers' TCP states, e.g. `ESTABLISHED:ESTABLISHED`. */
  state: string;
  /** `-vv` only: the id `pfctl -k id -k <id>` takes. */
  id?: string;
}

const CLOSING = new Set(['FIN_WAIT_2', 'TIME_WAIT', 'CLOSED']);

/** Both peers have finished: pf keeps such a state for a while, but it carries no connection. */
export function isClosing(state: PfState): boolean {
  return state.state.split(':').every((side) => CLOSING.has(side));
}

/** `10.0.1.11:443`, `2001:db8::1[443]`, or a bare address (protocols without ports). */
function hostOf(text: string): IpAddress | undefined {
  const v6 = /^(.+)\[\d+\]$/.exec(text);
  if (v6) return parseAddress(v6[1]!);
  const v4 = /^(\d+\.\d+\.\d+\.\d+):\d+$/.exec(text);
  return parseAddress(v4 ? v4[1]! : text);
}

const STATE = /^(\S+)\s+(\S+)\s+(\S+)(?:\s+\((\S+)\))?\s+(<-|->)\s+(\S+)(?:\s+\((\S+)\))?\s+(\S+)$/;

/**
 * `pfctl -s state [-vv]`. Inbound lines print the stack side first (`host (wire) <- client`),
 * outbound lines print it last (`client -> host`). Indented detail lines of `-vv` vary between
 * pf versions; only their `id:` is read.
 */
export function parseStates(text: string, what: string): PfState[] {
  const states: PfState[] = [];
  for (const { n, raw } of lines(text)) {
    if (/^\s/.test(raw)) {
      const id = /^\s+id:\s+([0-9a-f]+)\s+creatorid:\s+([0-9a-f]+)/.exec(raw);
      const last = states.at(-1);
      if (!last) throw new PfParseError(what, n, raw, 'state detail without a state line before it');
      if (id) last.id = `${id[1]}/${id[2]}`;
      continue;
    }
    const m = STATE.exec(raw);
    if (!m) throw new PfParseError(what, n, raw, 'expected "<if> <proto> <addr> <- | -> <addr> <state>"');
    const direction = m[5] === '<-' ? 'in' : 'out';
    const destText = direction === 'in' ? m[3]! : m[6]!;
    const destination = hostOf(destText);
    if (!destination) throw new PfParseError(what, n, raw, `"${destText}" is not an address`);
    const translated = direction === 'in' ? m[4] !== undefined : m[7] !== undefined;
    states.push({ interface: m[1]!, protocol: m[2]!, direction, destination, translated, state: m[8]! });
  }
  return states;
}

/** pfctl -k reports on stderr: `killed 3 states from 0.0.0.0/0 to 10.0.1.11`. */
export function parseKilled(stderr: string): number | undefined {
  let total: number | undefined;
  for (const m of stderr.matchAll(/killed (\d+) states?/g)) total = (total ?? 0) + Number(m[1]);
  return total;
}
