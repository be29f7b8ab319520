/**
 * Reads the rule text pfsteer deals in, in both shapes it meets: the pf.conf source it renders
 * (`port { 80 443 }`, comments, `table` lines) and what `pfctl -vv -s nat` / `-s rules` prints
 * back (lists expanded to one rule each, `port = 80`, `@N` numbers, counter lines). Only the rule
 * forms pfsteer renders are understood; anything else is an error naming its line, never
 * dropped, because a rule we cannot read is a rule we cannot vouch for.
 */
import type { Cidr, IpAddress } from '../net/address.ts';
import { parseAddress, parseCidr } from '../net/address.ts';
import { PfsteerError } from '../errors.ts';

export class PfParseError extends PfsteerError {
  readonly line: number;
  readonly text: string;

  constructor(what: string, line: number, text: string, reason: string) {
    super('pf-parse', `${what}, line ${line}: ${reason}: ${text.trim()}`);
    this.line = line;
    this.text = text;
  }
}

export interface RuleCounters {
  evaluations: number;
  packets: number;
  bytes: number;
  states: number;
}

interface RuleMatch {
  interface: string;
  family: 'inet' | 'inet6';
  protocol: string;
  /** Host tokens as written: `any`, `<table>`, an address or a network. */
  from: string[];
  to: string[];
  ports: number[];
  counters?: RuleCounters;
  /** 1-based line the rule came from. */
  line: number;
}

export interface PfRedirectRule extends RuleMatch {
  /** `rdr` (freebsd dialect) or `pass` (openbsd `pass in quick ... rdr-to`). */
  kind: 'rdr' | 'pass';
  target: IpAddress;
  targetPort?: number;
}

/** A block's gate: freebsd `no rdr ... tagged T`, openbsd `match in ... tagged T`. */
export interface PfGateRule extends RuleMatch {
  kind: 'gate';
  tag: string;
}

export type PfRule = PfRedirectRule | PfGateRule;

export interface PfTable {
  name: string;
  entries: Cidr[];
  line: number;
}

export interface PfRuleset {
  tables: PfTable[];
  rules: PfRule[];
}

/** pf's own names for the ports pfctl prints without -P; pfsteer asks for numbers but reads both. */
const SERVICE_PORTS: Readonly<Record<string, number>> = { http: 80, https: 443, 'http-alt': 8080, 'pcsync-https': 8443, domain: 53, smtp: 25, imaps: 993, pop3s: 995, submission: 587 };

function tokenize(line: string): string[] {
  return line.replace(/([{},])/g, ' $1 ').split(/\s+/).filter((t) => t !== '' && t !== ',');
}

class Cursor {
  private at = 0;
  private readonly tokens: string[];
  private readonly fail: (reason: string) => never;

  constructor(tokens: string[], fail: (reason: string) => never) {
    this.tokens = tokens;
    this.fail = fail;
  }

  peek(): string | undefined {
    return this.tokens[this.at];
  }

  next(what: string): string {
    const t = this.tokens[this.at++];
    if (t === undefined) this.fail(`expected ${what} at the end of the rule`);
    return t;
  }

  expect(word: string): void {
    const t = this.next(`"${word}"`);
    if (t !== word) this.fail(`expected "${word}", found "${t}"`);
  }

  accept(word: string): boolean {
    if (this.tokens[this.at] !== word) return false;
    this.at++;
    return true;
  }

  /** One token or a `{ a b }` list. */
  list(what: string): string[] {
    if (!this.accept('{')) return [this.next(what)];
    const items: string[] = [];
    for (;;) {
      const t = this.next(`"}" closing the ${what} list`);
      if (t === '}') break;
      items.push(t);
    }
    if (items.length === 0) this.fail(`empty ${what} list`);
    return items;
  }

  done(): boolean {
    return this.at >= this.tokens.length;
  }
}

function portNumber(token: string, fail: (reason: string) => never): number {
  const named = SERVICE_PORTS[token];
  if (named !== undefined) return named;
  if (!/^[1-9][0-9]{0,4}$/.test(token) || Number(token) > 65535) fail(`"${token}" is not a port`);
  return Number(token);
}

function hostToken(token: string, fail: (reason: string) => never): string {
  if (token === 'any' || /^<[A-Za-z0-9_.-]+>$/.test(token)) return token;
  if (!parseCidr(token)) fail(`"${token}" is not any, a table, an address or a network`);
  return token;
}

function parseRule(text: string, line: number, fail: (reason: string) => never): PfRule {
  const c = new Cursor(tokenize(text.replace(/^@\d+\s+/, '')), fail);
  const first = c.next('a rule');
  let kind: PfRule['kind'];
  if (first === 'rdr') kind = 'rdr';
  else if (first === 'pass') {
    kind = 'pass';
    c.expect('in');
    c.expect('quick');
  } else if (first === 'no') {
    kind = 'gate';
    c.expect('rdr');
  } else if (first === 'match') {
    kind = 'gate';
    c.expect('in');
  } else fail(`"${first}" is not a rule pfsteer writes`);
  c.expect('on');
  const iface = c.next('an interface');
  const family = c.next('inet or inet6');
  if (family !== 'inet' && family !== 'inet6') fail(`expected inet or inet6, found "${family}"`);
  c.expect('proto');
  const protocol = c.next('a protocol');
  c.expect('from');
  const from = c.list('source').map((t) => hostToken(t, fail));
  c.expect('to');
  const to = c.list('destination').map((t) => hostToken(t, fail));
  c.expect('port');
  const ports = c.accept('=') ? [portNumber(c.next('a port'), fail)] : c.list('port').map((t) => portNumber(t, fail));
  const match: RuleMatch = { interface: iface, family, protocol, from, to, ports, line };
  if (kind === 'gate') {
    c.expect('tagged');
    const tag = c.next('a tag');
    if (!c.done()) fail(`unexpected "${c.peek()}"`);
    return { kind, ...match, tag };
  }
  if (kind === 'rdr') c.expect('->');
  else {
    // OpenBSD prints the default TCP flags of a stateful pass rule.
    if (c.accept('flags')) c.next('a flag set');
    c.expect('rdr-to');
  }
  const targetText = c.next('a redirect address');
  const target = parseAddress(targetText);
  if (!target) fail(`"${targetText}" is not an address`);
  let targetPort: number | undefined;
  if (c.accept('port')) targetPort = portNumber(c.next('a port'), fail);
  if (!c.done()) fail(`unexpected "${c.peek()}"`);
  return { kind, ...match, target, ...(targetPort === undefined ? {} : { targetPort }) };
}

const COUNTERS = /^\[\s*Evaluations:\s*(\d+)\s+Packets:\s*(\d+)\s+Bytes:\s*(\d+)\s+States:\s*(\d+)\s*\]$/;
const INSERTED = /^\[\s*Inserted:\s*uid\s+\d+\s+pid\s+\d+(?:\s+State Creations:\s*\d+)?\s*\]$/;
const TABLE = /^table\s+<([A-Za-z0-9_.-]+)>((?:\s+(?:const|persist|counters))*)\s*(?:\{([^}]*)\})?$/;

/**
 * Rules (and, in rendered text, tables) of one anchor. `what` names the source in errors, e.g.
 * `pfctl -a pfsteer -s nat`.
 */
export function parseRuleset(text: string, what: string): PfRuleset {
  const out: PfRuleset = { tables: [], rules: [] };
  const lines = text.split('\n');
  // Counter lines belong to the rule just above them (and its other counter lines).
  let last: PfRule | undefined;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const line = raw.trim();
    const fail = (reason: string): never => {
      throw new PfParseError(what, i + 1, raw, reason);
    };
    if (line === '') continue;
    if (line.startsWith('[')) {
      if (!last) return fail('counters without a rule before them');
      const m = COUNTERS.exec(line);
      if (m) last.counters = { evaluations: Number(m[1]), packets: Number(m[2]), bytes: Number(m[3]), states: Number(m[4]) };
      else if (!INSERTED.test(line)) fail('unrecognised counter line');
      continue;
    }
    last = undefined;
    if (line.startsWith('#')) continue;
    if (line.startsWith('table')) {
      const m = TABLE.exec(line);
      if (!m) return fail('malformed table definition');
      const entries = tokenize(m[3] ?? '').map((t) => parseCidr(t) ?? fail(`"${t}" is not an address or network`));
      out.tables.push({ name: m[1]!, entries, line: i + 1 });
      continue;
    }
    last = parseRule(line, i + 1, fail);
    out.rules.push(last);
  }
  return out;
}
