/**
 * The pf emulator's own reading of pf.conf(5), independent of pfsteer's parser so that a bug in
 * one is not hidden by the same bug in the other. It covers the statements pfsteer and its
 * operators write (tables, rdr / pass ... rdr-to rules, anchors, set limit) and rejects what
 * pfctl rejects for them, with pfctl's `file:line: message` form.
 */
import type { Cidr } from '../../src/net/address.ts';
import { parseCidr } from '../../src/net/address.ts';

export type Os = 'freebsd' | 'openbsd';

export class PfSyntaxError extends Error {
  readonly line: number;
  constructor(line: number, message: string) {
    super(message);
    this.line = line;
  }
}

export type HostSpec = { kind: 'any'; negate: boolean } | { kind: 'table'; name: string; negate: boolean } | { kind: 'net'; text: string; cidr: Cidr; negate: boolean };

export interface PortOp {
  op: '=' | '!=' | '<' | '<=' | '>' | '>=' | ':' | '><' | '<>';
  a: number;
  b?: number;
}

export interface Redirect {
  hosts: HostSpec[];
  port?: number;
  pool?: string;
}

export interface Rule {
  line: number;
  action: 'rdr' | 'pass' | 'block' | 'rdr-anchor' | 'anchor';
  direction?: 'in' | 'out';
  quick: boolean;
  interface?: string;
  family?: 'inet' | 'inet6';
  protocols: string[];
  from: HostSpec[];
  fromPorts: PortOp[];
  to: HostSpec[];
  toPorts: PortOp[];
  redirect?: Redirect;
  anchor?: string;
  inline?: Rule[];
  flags?: string;
}

export interface TableDef {
  name: string;
  line: number;
  flags: Array<'const' | 'persist' | 'counters'>;
  entries: Array<{ cidr: Cidr; negate: boolean }>;
}

export interface Ruleset {
  tables: TableDef[];
  rules: Rule[];
  limits: Record<string, number>;
}

interface Token {
  text: string;
  line: number;
  quoted?: boolean;
}

const NAMED_PORTS: Record<string, number> = { http: 80, https: 443, ssh: 22, domain: 53, smtp: 25, 'http-alt': 8080, 'pcsync-https': 8443 };

function lex(text: string): Token[] {
  const tokens: Token[] = [];
  let line = 1;
  const re = /\\\n|\n|#[^\n]*|"[^"\n]*"|<[A-Za-z0-9_.-]+>|->|!=|<=|>=|<>|><|[{},!=<>()]|[^\s{},!=<>()"#]+|[ \t\r]+|"/g;
  for (const m of text.matchAll(re)) {
    const t = m[0];
    if (t === '\\\n') {
      line++;
      continue;
    }
    if (t === '\n') {
      tokens.push({ text: '\n', line });
      line++;
      continue;
    }
    if (t.startsWith('#') || /^[ \t\r]+$/.test(t)) continue;
    if (t === '"') throw new PfSyntaxError(line, 'unterminated quote');
    if (t.startsWith('"')) tokens.push({ text: t.slice(1, -1), line, quoted: true });
    else tokens.push({ text: t, line });
  }
  tokens.push({ text: '\n', line });
  return tokens;
}

class Parser {
  private at = 0;
  private readonly tokens: Token[];
  private readonly os: Os;
  constructor(tokens: Token[], os: Os) {
    this.tokens = tokens;
    this.os = os;
  }

  private peek(offset = 0): Token {
    return this.tokens[Math.min(this.at + offset, this.tokens.length - 1)]!;
  }
  /** The next token; running past the end of the text inside a statement is a syntax error. */
  private take(): Token {
    if (this.at >= this.tokens.length - 1) this.syntax();
    return this.tokens[this.at++]!;
  }
  private syntax(): never {
    throw new PfSyntaxError(this.peek().line, 'syntax error');
  }
  private accept(word: string): boolean {
    if (this.peek().text !== word || this.peek().quoted) return false;
    this.at++;
    return true;
  }
  private expect(word: string): void {
    if (!this.accept(word)) this.syntax();
  }
  private skipNewlines(): void {
    while (this.at < this.tokens.length - 1 && this.peek().text === '\n') this.at++;
  }
  private endOfStatement(): void {
    const t = this.peek();
    if (t.text === '\n' || t.text === '}') return;
    this.syntax();
  }
  private atEnd(): boolean {
    return this.at >= this.tokens.length - 1;
  }

  parse(): Ruleset {
    const out: Ruleset = { tables: [], rules: [], limits: {} };
    for (;;) {
      this.skipNewlines();
      if (this.atEnd()) return out;
      this.statement(out, false);
    }
  }

  private statement(out: Ruleset, inline: boolean): void {
    const t = this.peek();
    if (t.quoted) this.syntax();
    switch (t.text) {
      case 'table':
        if (inline) this.syntax();
        out.tables.push(this.table());
        break;
      case 'set':
        if (inline) this.syntax();
        this.set(out);
        break;
      case 'rdr':
        // Inline anchor blocks hold filter rules only; OpenBSD has no rdr rules at all.
        if (inline || this.os === 'openbsd') this.syntax();
        out.rules.push(this.rdr());
        break;
      case 'rdr-anchor':
        if (inline || this.os === 'openbsd') this.syntax();
        out.rules.push(this.rdrAnchor());
        break;
      case 'anchor':
        out.rules.push(this.anchor());
        break;
      case 'pass':
      case 'block':
        out.rules.push(this.filter());
        break;
      default:
        this.syntax();
    }
    this.endOfStatement();
  }

  private table(): TableDef {
    const line = this.take().line;
    const name = this.take();
    if (!/^<[A-Za-z0-9_.-]+>$/.test(name.text)) this.syntax();
    const flags: TableDef['flags'] = [];
    while (['const', 'persist', 'counters'].includes(this.peek().text)) flags.push(this.take().text as TableDef['flags'][number]);
    const entries: TableDef['entries'] = [];
    if (this.accept('{')) {
      for (;;) {
        this.skipNewlines();
        if (this.accept('}')) break;
        const negate = this.accept('!');
        const tok = this.take();
        const cidr = parseHost(tok.text);
        if (!cidr) throw new PfSyntaxError(tok.line, `cannot parse host specification "${tok.text}"`);
        entries.push({ cidr, negate });
      }
    }
    return { name: name.text.slice(1, -1), line, flags, entries };
  }

  private set(out: Ruleset): void {
    this.take();
    if (!this.accept('limit')) this.syntax();
    const one = (): void => {
      const key = this.take().text;
      const value = this.take().text;
      if (!['states', 'src-nodes', 'frags', 'tables', 'table-entries'].includes(key) || !/^\d+$/.test(value)) this.syntax();
      out.limits[key] = Number(value);
    };
    if (this.accept('{')) {
      for (;;) {
        this.skipNewlines();
        if (this.accept('}')) break;
        one();
        this.accept(',');
      }
    } else one();
  }

  private common(rule: Rule): void {
    if (this.accept('on')) rule.interface = this.take().text;
    if (this.peek().text === 'inet' || this.peek().text === 'inet6') rule.family = this.take().text as 'inet' | 'inet6';
    if (this.accept('proto')) rule.protocols = this.list((t) => t.text);
    if (this.accept('all')) return;
    if (this.accept('from')) {
      rule.from = this.hosts();
      if (this.accept('port')) rule.fromPorts = this.ports();
    }
    if (this.accept('to')) {
      rule.to = this.hosts();
      if (this.accept('port')) rule.toPorts = this.ports();
    }
  }

  private list<T>(item: (t: Token) => T): T[] {
    if (!this.accept('{')) return [item(this.take())];
    const items: T[] = [];
    for (;;) {
      this.skipNewlines();
      if (this.accept('}')) break;
      if (this.accept(',')) continue;
      items.push(item(this.take()));
    }
    if (items.length === 0) this.syntax();
    return items;
  }

  private host(t: Token, negate: boolean): HostSpec {
    if (t.text === 'any') return { kind: 'any', negate };
    if (/^<[A-Za-z0-9_.-]+>$/.test(t.text)) return { kind: 'table', name: t.text.slice(1, -1), negate };
    const cidr = parseHost(t.text);
    if (!cidr) throw new PfSyntaxError(t.line, `cannot parse host specification "${t.text}"`);
    return { kind: 'net', text: t.text, cidr, negate };
  }

  private hosts(): HostSpec[] {
    if (this.accept('{')) {
      const items: HostSpec[] = [];
      for (;;) {
        this.skipNewlines();
        if (this.accept('}')) break;
        if (this.accept(',')) continue;
        const negate = this.accept('!');
        items.push(this.host(this.take(), negate));
      }
      if (items.length === 0) this.syntax();
      return items;
    }
    const negate = this.accept('!');
    return [this.host(this.take(), negate)];
  }

  private portNumber(t: Token): number {
    const named = NAMED_PORTS[t.text];
    if (named !== undefined) return named;
    if (!/^\d+$/.test(t.text) || Number(t.text) > 65535 || Number(t.text) < 0) throw new PfSyntaxError(t.line, `illegal port value ${t.text}`);
    return Number(t.text);
  }

  private portOp(): PortOp {
    const ops = ['=', '!=', '<', '<=', '>', '>='] as const;
    const op = ops.find((o) => this.peek().text === o);
    if (op) {
      this.take();
      return { op, a: this.portNumber(this.take()) };
    }
    const t = this.take();
    const range = /^(\w+):(\w+)$/.exec(t.text);
    if (range) return { op: ':', a: this.portNumber({ ...t, text: range[1]! }), b: this.portNumber({ ...t, text: range[2]! }) };
    const a = this.portNumber(t);
    if (this.peek().text === '><' || this.peek().text === '<>') {
      const o = this.take().text as '><' | '<>';
      return { op: o, a, b: this.portNumber(this.take()) };
    }
    return { op: '=', a };
  }

  private ports(): PortOp[] {
    if (!this.accept('{')) return [this.portOp()];
    const items: PortOp[] = [];
    for (;;) {
      this.skipNewlines();
      if (this.accept('}')) break;
      if (this.accept(',')) continue;
      items.push(this.portOp());
    }
    if (items.length === 0) this.syntax();
    return items;
  }

  private blank(action: Rule['action'], line: number): Rule {
    return { line, action, quick: false, protocols: [], from: [{ kind: 'any', negate: false }], fromPorts: [], to: [{ kind: 'any', negate: false }], toPorts: [] };
  }

  private redirect(line: number): Redirect {
    const hosts = this.hosts();
    const r: Redirect = { hosts };
    if (this.accept('port')) {
      const t = this.take();
      const spec = /^(\d+)(?::\*)?$/.exec(t.text);
      if (!spec) throw new PfSyntaxError(t.line, `illegal port value ${t.text}`);
      r.port = this.portNumber({ ...t, text: spec[1]! });
    }
    const pools = ['round-robin', 'random', 'source-hash', 'bitmask', 'least-states'];
    if (pools.includes(this.peek().text)) {
      r.pool = this.take().text;
      // source-hash takes an optional key.
      if (r.pool === 'source-hash' && /^0x[0-9a-fA-F]+$/.test(this.peek().text)) this.take();
    }
    this.accept('sticky-address');
    const roundRobin = r.pool === undefined || r.pool === 'round-robin';
    if (!roundRobin && hosts.some((h) => h.kind === 'table')) throw new PfSyntaxError(line, 'tables are only supported in round-robin redirection pools');
    if (!roundRobin && hosts.length > 1) throw new PfSyntaxError(line, 'only round-robin valid for multiple redirection addresses');
    return r;
  }

  private rdr(): Rule {
    const rule = this.blank('rdr', this.take().line);
    this.accept('pass');
    this.accept('log');
    this.common(rule);
    if (this.accept('->')) rule.redirect = this.redirect(rule.line);
    else this.syntax();
    checkFamilies(rule);
    return rule;
  }

  private rdrAnchor(): Rule {
    const rule = this.blank('rdr-anchor', this.take().line);
    const name = this.take();
    if (!name.quoted) this.syntax();
    rule.anchor = name.text;
    this.common(rule);
    if (rule.fromPorts.length > 0) throw new PfSyntaxError(rule.line, 'source port parameter not supported in rdr-anchor');
    if (rule.toPorts.length > 1) throw new PfSyntaxError(rule.line, 'destination port list expansion not supported in rdr-anchor');
    if (rule.toPorts.length === 1 && rule.toPorts[0]!.op !== '=') throw new PfSyntaxError(rule.line, 'destination port operators not supported in rdr-anchor');
    checkFamilies(rule);
    return rule;
  }

  private anchor(): Rule {
    const rule = this.blank('anchor', this.take().line);
    const name = this.peek().quoted ? this.take().text : undefined;
    rule.anchor = name ?? '';
    if (this.peek().text === 'in' || this.peek().text === 'out') rule.direction = this.take().text as 'in' | 'out';
    this.common(rule);
    if (this.accept('{')) {
      if (name !== undefined && name.includes('/')) throw new PfSyntaxError(rule.line, `anchor "${name}": '/' not allowed in an inline anchor name`);
      const inner: Ruleset = { tables: [], rules: [], limits: {} };
      for (;;) {
        this.skipNewlines();
        if (this.accept('}')) break;
        if (this.atEnd()) this.syntax();
        this.statement(inner, true);
      }
      rule.inline = inner.rules;
    }
    checkFamilies(rule);
    return rule;
  }

  private filter(): Rule {
    const action = this.take();
    const rule = this.blank(action.text as 'pass' | 'block', action.line);
    if (this.peek().text === 'in' || this.peek().text === 'out') rule.direction = this.take().text as 'in' | 'out';
    this.accept('log');
    rule.quick = this.accept('quick');
    this.common(rule);
    for (;;) {
      if (this.accept('flags')) rule.flags = this.take().text;
      else if (this.accept('keep') || this.accept('modulate')) this.expect('state');
      else if (this.peek().text === 'rdr-to') {
        if (this.os !== 'openbsd') this.syntax();
        this.take();
        if (rule.direction !== 'in') throw new PfSyntaxError(rule.line, 'rdr-to can only be used with inbound rules');
        if (action.text !== 'pass') throw new PfSyntaxError(rule.line, 'rdr-to can only be used with pass or match rules');
        rule.redirect = this.redirect(rule.line);
      } else break;
    }
    checkFamilies(rule);
    return rule;
  }
}

/** Stricter than pf, which masks host bits of a network: pfsteer never writes them set. */
function parseHost(text: string): Cidr | undefined {
  return parseCidr(text);
}

function familyOf(spec: HostSpec): 'inet' | 'inet6' | undefined {
  return spec.kind === 'net' ? (spec.cidr.address.family === 4 ? 'inet' : 'inet6') : undefined;
}

/** pfctl drops expansions whose families disagree; a rule left with none is an error. */
function checkFamilies(rule: Rule): void {
  const families = rule.family ? [rule.family] : (['inet', 'inet6'] as const);
  const fits = (specs: HostSpec[], af: string): boolean => specs.some((s) => familyOf(s) === undefined || familyOf(s) === af);
  const valid = families.filter((af) => fits(rule.from, af) && fits(rule.to, af));
  if (valid.length === 0) throw new PfSyntaxError(rule.line, 'rule expands to no valid combination');
  if (rule.redirect && !valid.some((af) => rule.redirect!.hosts.some((h) => familyOf(h) === undefined || familyOf(h) === af))) {
    throw new PfSyntaxError(rule.line, 'no translation address with matching address family found.');
  }
}

/** `anchor` is the path given with -a (empty for the main ruleset). */
export function parseRuleset(text: string, os: Os, _anchor = ''): Ruleset {
  return new Parser(lex(text), os).parse();
}
