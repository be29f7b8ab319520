/**
 * The pf emulator's own reading of pf.conf(5), independent of pfsteer's parser so that a bug in
 * one is not hidden by the same bug in the other. It covers the statements pfsteer and its
 * operators write (tables, rdr / pass|match ... rdr-to rules, anchors, set limit) and accepts and
 * rejects them as real pfctl -n does, with pfctl's messages: a syntax error skips to the end of
 * its line and parsing goes on, as pfctl's yacc grammar recovers, so every error is reported;
 * an `errx` in pfctl (anchor paths too long) ends parsing at once. test/pf/pfparse-corpus.ts
 * holds it to real pfctl's answers.
 */
import type { Cidr } from '../../src/net/address.ts';
import { maxPrefix, networkOf, parseAddress } from '../../src/net/address.ts';

export type Os = 'freebsd' | 'openbsd';

/** One line pfctl prints for a problem: `file:line: text`, or bare text (host() prints those). */
export interface ParseProblem {
  line?: number;
  text: string;
}

export class PfSyntaxError extends Error {
  readonly problems: ParseProblem[];
  /** An errx() message ending pfctl at once (printed as `pfctl: ...`), after the problems. */
  readonly fatal: string | undefined;
  constructor(problems: ParseProblem[], fatal?: string) {
    super(problems.map((p) => p.text).join('; ') || fatal);
    this.problems = problems;
    this.fatal = fatal;
  }
  /** The line of the first located problem. */
  get line(): number {
    return this.problems.find((p) => p.line !== undefined)?.line ?? 0;
  }
}

/** A host pfctl parsed; an IPv4 prefix over 32 is refused only when a rule expands or a table is built. */
export type HostSpec =
  | { kind: 'any'; negate: boolean }
  | { kind: 'table'; name: string; negate: boolean }
  | { kind: 'net'; text: string; cidr: Cidr; negate: boolean; badMask?: number }
  | { kind: 'interface'; name: string; negate: boolean };

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
  action: 'rdr' | 'pass' | 'block' | 'match' | 'rdr-anchor' | 'anchor';
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
  /** `no state` (OpenBSD block rules keep none either). */
  noState?: boolean;
  /** FreeBSD `no rdr`: when it matches, the search ends and the packet is not translated. */
  no?: boolean;
  /** `tag NAME`: a matching rule tags the packet. */
  tag?: string;
  /** `[!] tagged NAME`: the rule matches only packets that carry (or, negated, lack) the tag. */
  tagged?: { name: string; negate: boolean };
}

export interface TableDef {
  name: string;
  line: number;
  /** Where the statement stands in the text, from `table` to its end of line. */
  span: [number, number];
  flags: Array<'const' | 'persist' | 'counters'>;
  entries: Array<{ cidr: Cidr; negate: boolean }>;
}

export interface Ruleset {
  tables: TableDef[];
  rules: Rule[];
  limits: Record<string, number>;
  /** `set ruleset-optimization`: the first one in the file counts, later ones are only checked. */
  optimization?: OptimizationLevel;
}

/** pfctl's ruleset optimizer levels (`-o`, `set ruleset-optimization`), in pfctl's lookup order. */
export const OPTIMIZATION_LEVELS = ['none', 'basic', 'profile'] as const;
export type OptimizationLevel = (typeof OPTIMIZATION_LEVELS)[number];

interface Token {
  text: string;
  line: number;
  /** Offset in the text. */
  at: number;
  quoted?: boolean;
}

const NAMED_PORTS: Record<string, number> = { http: 80, https: 443, ssh: 22, domain: 53, smtp: 25, 'http-alt': 8080, 'pcsync-https': 8443, imaps: 993, pop3s: 995 };
/** Interfaces and groups of the machine pfparse models (its README): valid where a host may be. */
const INTERFACES = new Set(['lo0', 'em0', 'em1', 'igb0', 'igb1', 'vtnet0', 'vtnet1', 'ix0', 'all', 'lo', 'em', 'igb', 'vtnet', 'ix', 'egress']);
const LIMITS: Record<Os, string[]> = {
  freebsd: ['states', 'src-nodes', 'frags', 'table-entries'],
  openbsd: ['states', 'src-nodes', 'frags', 'tables', 'table-entries', 'pktdelay-pkts', 'anchors'],
};
/** PF_TABLE_NAME_SIZE, PF_ANCHOR_NAME_SIZE and PF_TAG_NAME_SIZE, each with its NUL. */
const TABLE_NAME_MAX = 31;
const ANCHOR_NAME_SIZE = 64;
const TAG_NAME_MAX = 63;
/**
 * The words pf's lexer returns as keywords rather than strings, so that a tag name (pf's `string`,
 * a run of string tokens) stops at them: each word of the pfctl binaries that `pass label WORD`
 * refuses as a syntax error there.
 */
const SHARED_KEYWORDS =
  'all allow-opts anchor antispoof any bandwidth bitmask block block-policy code debug divert-reply divert-to drop dup-to file fingerprints flags floating flush for fragment from global group hostid icmp-type icmp6-type if-bound in include inet inet6 keep label limit load log loginterface max max-mss max-src-conn max-src-conn-rate max-src-nodes max-src-states min-ttl modulate no no-df no-route no-sync on optimization os out overload pass port prio probability proto qlimit queue quick random random-id reassemble reply-to return return-icmp return-icmp6 return-rst round-robin route route-to rtable rule ruleset-optimization scrub set skip sloppy source-hash source-track state state-defaults state-policy static-port sticky-address synproxy table tag tagged timeout to tos ttl urpf-failed user';
const KEYWORDS: Record<Os, Set<string>> = {
  freebsd: new Set(`${SHARED_KEYWORDS} altq binat binat-anchor buckets cbq codelq crop drop-ovl fail-policy fairq fastroute hfsc hogs interval linkshare nat nat-anchor priority priq rdr rdr-anchor realtime require-order set-tos target tbrsize upperlimit`.split(' ')),
  openbsd: new Set(`${SHARED_KEYWORDS} af-to binat-to burst default delay divert-packet flows least-states match matches max-pkt-rate min nat-to once parent pflow quantum rdomain rdr-to received-on syncookies weight`.split(' ')),
};

/** A syntax error in one statement: pfctl's yacc skips to the end of the line and goes on. */
class StatementError extends Error {
  readonly problems: ParseProblem[];
  constructor(problems: ParseProblem[]) {
    super(problems.map((p) => p.text).join('; '));
    this.problems = problems;
  }
}

class Fatal extends Error {}

/**
 * pf's lexer: a word starts with a letter, digit, `:` or `_` and runs over letters, digits and
 * punctuation other than `(){}<>!=/#,`; quoted strings; `->`, `!=`, `<=`, `>=`, `<>`, `><` and
 * single characters otherwise.
 */
function lex(text: string, problems: ParseProblem[]): Token[] {
  const tokens: Token[] = [];
  let line = 1;
  const re = /\\\n|\n|#[^\n]*|"[^"]*"?|[A-Za-z0-9:_][^\s(){}<>!=/#,"]*|->|!=|<=|>=|<>|><|[ \t\r]+|[^\s]/g;
  for (const m of text.matchAll(re)) {
    const t = m[0];
    if (t === '\\\n') {
      line++;
      continue;
    }
    if (t === '\n') {
      tokens.push({ text: '\n', line, at: m.index });
      line++;
      continue;
    }
    if (t[0] === '#' || t[0] === ' ' || t[0] === '\t' || t[0] === '\r') continue;
    if (t[0] === '"') {
      if (t.length === 1 || !t.endsWith('"')) {
        problems.push({ line, text: 'reached end of file while parsing quoted string' });
        // The lexer returns end of input here: whatever statement is open is a syntax error.
        tokens.push({ text: '', line, at: m.index });
        break;
      }
      tokens.push({ text: t.slice(1, -1).replaceAll('\n', ''), line, at: m.index, quoted: true });
      line += t.split('\n').length - 1;
      continue;
    }
    tokens.push({ text: t, line, at: m.index });
  }
  tokens.push({ text: '\n', line, at: text.length });
  return tokens;
}

/** The part of an anchor path pfctl copies into a 64-byte name: from the last `/` on, or all. */
function anchorTail(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? path : path.slice(slash);
}

class Parser {
  private at = 0;
  private readonly tokens: Token[];
  private readonly os: Os;
  readonly problems: ParseProblem[];
  /** FreeBSD's order of statements: options, translation, filtering (check_rulestate). */
  private state = 0;
  /** Checks pfctl makes once a rule is reduced, which needs the newline after it: run then. */
  private pending: Array<() => void> = [];
  /**
   * Tokens still to shift before yacc reports a new error: after one it stays silent until
   * three tokens went through, so a stray `}` after a bad line in a block says nothing more.
   */
  private silent = 0;
  constructor(tokens: Token[], os: Os, problems: ParseProblem[]) {
    this.tokens = tokens;
    this.os = os;
    this.problems = problems;
  }

  private peek(offset = 0): Token {
    return this.tokens[Math.min(this.at + offset, this.tokens.length - 1)]!;
  }
  private atEnd(): boolean {
    return this.at >= this.tokens.length - 1;
  }
  /** The next token; running past the end of the text inside a statement is a syntax error. */
  private take(): Token {
    if (this.atEnd()) this.syntax();
    return this.tokens[this.at++]!;
  }
  private fail(text: string, line = this.peek().line): never {
    throw new StatementError([{ line, text }]);
  }
  private syntax(): never {
    this.fail('syntax error');
  }
  private isWord(t: Token, word: string): boolean {
    return t.text === word && !t.quoted;
  }
  private accept(word: string): boolean {
    if (!this.isWord(this.peek(), word)) return false;
    this.at++;
    return true;
  }
  private expect(word: string): void {
    if (!this.accept(word)) this.syntax();
  }
  private skipNewlines(): void {
    while (!this.atEnd() && this.peek().text === '\n') {
      this.at++;
      this.silent = Math.max(0, this.silent - 1);
    }
  }
  /** The line pfctl reports a statement's own checks at: its last token's, the newline after it. */
  private endLine(): number {
    return this.peek().line;
  }

  parse(): Ruleset {
    const out: Ruleset = { tables: [], rules: [], limits: {} };
    for (;;) {
      this.skipNewlines();
      if (this.atEnd()) return out;
      const start = this.at;
      this.pending = [];
      try {
        this.statement(out, false);
        if (this.peek().text !== '\n') this.syntax();
        for (const check of this.pending) check();
        this.silent = 0;
      } catch (error) {
        if (!(error instanceof StatementError)) throw error;
        if (this.at - start >= this.silent) this.problems.push(...error.problems);
        while (!this.atEnd() && this.peek().text !== '\n') this.at++;
        // The newline ends the recovery and is the first token shifted after it.
        this.silent = 2;
        if (!this.atEnd()) this.at++;
      }
    }
  }

  /** FreeBSD refuses a statement of an earlier kind after a later one. */
  private order(state: number): void {
    if (this.os !== 'freebsd') return;
    if (state < this.state) this.fail('Rules must be in order: options, normalization, queueing, translation, filtering');
    this.state = state;
  }

  private statement(out: Ruleset, inline: boolean): void {
    const t = this.peek();
    if (t.quoted) this.syntax();
    switch (t.text) {
      case 'table':
        if (inline) this.syntax();
        out.tables.push(this.table());
        return;
      case 'set':
        if (inline) this.syntax();
        // FreeBSD's check_rulestate is not called for ruleset-optimization: it may follow rules.
        if (!this.isWord(this.peek(1), 'ruleset-optimization')) this.order(0);
        this.set(out);
        return;
      case 'rdr':
      case 'no':
        // Inline anchor blocks hold filter rules only; OpenBSD has no rdr rules at all.
        if (inline || this.os === 'openbsd') this.syntax();
        out.rules.push(this.rdr());
        return;
      case 'rdr-anchor':
        if (inline || this.os === 'openbsd') this.syntax();
        this.order(3);
        out.rules.push(this.rdrAnchor());
        return;
      case 'anchor':
        this.order(4);
        out.rules.push(this.anchor());
        return;
      case 'match':
        if (this.os === 'freebsd') this.syntax();
        out.rules.push(...this.filter());
        return;
      case 'pass':
      case 'block':
        this.order(4);
        out.rules.push(...this.filter());
        return;
      default:
        this.syntax();
    }
  }

  /** `<name>` where a table may stand; the name is a word or a quoted string. */
  private tableName(): string | undefined {
    if (this.peek().text !== '<' || this.peek().quoted) return undefined;
    this.take();
    const name = this.take();
    if (name.text === '\n' || (!name.quoted && !/^[A-Za-z0-9:_]/.test(name.text))) this.syntax();
    if (this.take().text !== '>') this.syntax();
    return name.text;
  }

  private table(): TableDef {
    const { line, at } = this.take();
    const name = this.tableName();
    if (name === undefined) this.syntax();
    if (name.length > TABLE_NAME_MAX) this.fail(`table name too long, max ${TABLE_NAME_MAX} chars`);
    const flags: TableDef['flags'] = [];
    const entries: TableDef['entries'] = [];
    let badEntry = false;
    for (;;) {
      const t = this.peek();
      if (t.text === '\n') break;
      if (this.accept('{')) {
        for (;;) {
          this.skipNewlines();
          if (this.accept('}')) break;
          if (this.accept(',')) continue;
          const negate = this.accept('!');
          const host = this.host(negate);
          if (host.kind === 'table') this.fail('tables cannot contain tables');
          if (host.kind !== 'net') this.fail('dynamic addresses are not permitted inside tables');
          if (this.peek().text === '-') this.fail('address ranges are not permitted inside tables');
          if (host.badMask !== undefined) badEntry = true;
          else entries.push({ cidr: host.cidr, negate });
        }
        continue;
      }
      if (t.quoted || !['const', 'persist', 'counters'].includes(t.text)) {
        if (t.text === 'file') this.fail('pfctl emulator: table files are not emulated');
        if (!t.quoted && /^[A-Za-z0-9:_]/.test(t.text)) this.fail(`invalid table option '${t.text}'`);
        this.syntax();
      }
      flags.push(this.take().text as TableDef['flags'][number]);
    }
    if (badEntry) this.fail('cannot create address buffer: Invalid argument', this.endLine());
    return { name, line, span: [at, this.peek().at], flags, entries };
  }

  private set(out: Ruleset): void {
    this.take();
    if (this.accept('ruleset-optimization')) {
      const value = this.string(true);
      const level = OPTIMIZATION_LEVELS.find((l) => l === value);
      if (level === undefined) this.fail(`unknown ruleset-optimization ${value}`, this.endLine());
      out.optimization ??= level;
      return;
    }
    if (!this.accept('limit')) this.syntax();
    const one = (): void => {
      const key = this.take();
      const value = this.take();
      if (key.quoted || !/^\d+$/.test(value.text)) this.syntax();
      if (!LIMITS[this.os].includes(key.text)) throw new StatementError([{ text: 'pfctl: Bad pool name.' }, { line: value.line, text: `unable to set limit ${key.text} ${value.text}` }]);
      out.limits[key.text] = Number(value.text);
    };
    if (this.accept('{')) {
      for (;;) {
        this.skipNewlines();
        if (this.accept('}')) break;
        if (this.accept(',')) continue;
        one();
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

  /** One host: `any`, `<table>`, an interface, or `address[/bits]`, read as pfctl's host() does. */
  private host(negate: boolean): HostSpec {
    const table = this.tableName();
    if (table !== undefined) {
      if (table.length > TABLE_NAME_MAX) this.fail(`table name '${table}' too long`);
      return { kind: 'table', name: table, negate };
    }
    const t = this.take();
    if (t.quoted || !/^[A-Za-z0-9:_]/.test(t.text)) this.syntax();
    if (t.text === 'any') return { kind: 'any', negate };
    let text = t.text;
    if (this.peek().text === '/') {
      this.take();
      const bits = this.take();
      if (!/^\d+$/.test(bits.text)) this.syntax();
      text = `${t.text}/${bits.text}`;
    }
    const slash = text.indexOf('/');
    const address = parseAddress(slash < 0 ? text : text.slice(0, slash));
    if (!address) {
      if (slash < 0 && INTERFACES.has(text)) return { kind: 'interface', name: text, negate };
      throw new StatementError([{ text: `no IP address found for ${text}` }, { line: t.line, text: 'could not parse host specification' }]);
    }
    const bits = slash < 0 ? maxPrefix(address.family) : Number(text.slice(slash + 1));
    if (address.family === 6 && bits > 128) {
      const mask = `/${bits}`;
      throw new StatementError([{ text: this.os === 'freebsd' ? `invalid netmask '${mask}'` : `netmask is too large: ${mask}` }, { line: t.line, text: 'could not parse host specification' }]);
    }
    if (bits > maxPrefix(address.family)) return { kind: 'net', text, cidr: { address, prefix: 32 }, negate, badMask: bits };
    return { kind: 'net', text, cidr: { address: networkOf({ address, prefix: bits }), prefix: bits }, negate };
  }

  private hosts(): HostSpec[] {
    if (this.accept('{')) {
      const items: HostSpec[] = [];
      for (;;) {
        this.skipNewlines();
        if (this.accept('}')) break;
        if (this.accept(',')) continue;
        items.push(this.host(this.accept('!')));
      }
      if (items.length === 0) this.syntax();
      return items;
    }
    return [this.host(this.accept('!'))];
  }

  private portNumber(t: Token): number {
    const named = NAMED_PORTS[t.text];
    if (named !== undefined) return named;
    if (!/^\d+$/.test(t.text)) this.fail(`unknown port ${t.text}`, t.line);
    if (Number(t.text) > 65535) this.fail(`illegal port value ${t.text}`, t.line);
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

  /** What follows `->` or `rdr-to`: the hosts and their port; pool options come after (poolOptions). */
  private redirect(): Redirect {
    const r: Redirect = { hosts: this.hosts() };
    if (this.accept('port')) {
      const t = this.take();
      const spec = /^(\w+)(?::\*)?$/.exec(t.text);
      if (!spec) this.syntax();
      r.port = this.portNumber({ ...t, text: spec[1]! });
    }
    return r;
  }

  /** The pool type (source-hash with its optional key) and sticky-address; undefined for none. */
  private poolOptions(): string | undefined {
    let pool: string | undefined;
    if (['round-robin', 'random', 'source-hash', 'bitmask', 'least-states'].includes(this.peek().text)) {
      pool = this.take().text;
      if (pool === 'source-hash' && /^0x[0-9a-fA-F]+$/.test(this.peek().text)) this.take();
    }
    this.accept('sticky-address');
    return pool;
  }

  /** FreeBSD's checks of an rdr pool: tables and lists only round-robin. */
  private checkPool(r: Redirect, line: number): void {
    const roundRobin = r.pool === undefined || r.pool === 'round-robin';
    if (!roundRobin && r.hosts.some((h) => h.kind === 'table')) this.fail('tables are only supported in round-robin redirection pools', line);
    if (!roundRobin && r.hosts.length > 1) this.fail('only round-robin valid for multiple redirection addresses', line);
  }

  /** A token pf's lexer returns as a string: quoted, or a word that is neither a keyword nor a number. */
  private isString(t: Token): boolean {
    return t.quoted || (t.text !== '\n' && /^[A-Za-z0-9:_]/.test(t.text) && !/^\d+$/.test(t.text) && !KEYWORDS[this.os].has(t.text));
  }

  /** pf's `string`: one string token; `run` joins a run of them with spaces, as pf's does. */
  private string(run: boolean): string {
    const words: string[] = [];
    while (this.isString(this.peek())) {
      words.push(this.take().text);
      if (!run) break;
    }
    if (words.length === 0) this.syntax();
    return words.join(' ');
  }

  /** `flags any`, `flags SET/MASK` or `flags /MASK`, each of TCP's flag letters. */
  private flags(): string {
    if (this.accept('any')) return 'any';
    const flag = (): string => {
      if (!this.isString(this.peek())) this.syntax();
      const t = this.take();
      if (!/^[FSRPAUEW]*$/.test(t.text)) this.fail(`bad flags ${t.text}`, t.line);
      return t.text;
    };
    const set = this.peek().text === '/' ? '' : flag();
    this.expect('/');
    return `${set}/${flag()}`;
  }

  /** pf keeps tag names in fixed buffers: an empty name is no tag at all, and the last one given wins. */
  private tag(rule: Rule, name: string): void {
    if (name === '') delete rule.tag;
    else rule.tag = name;
  }

  /** `[!] tagged NAME` if it comes next; an empty name is no test at all, as for `tag`. */
  private tagged(rule: Rule): boolean {
    const negate = this.isWord(this.peek(), '!') && this.isWord(this.peek(1), 'tagged');
    if (!negate && !this.isWord(this.peek(), 'tagged')) return false;
    if (negate) this.take();
    this.take();
    const name = this.string(true);
    if (name === '') delete rule.tagged;
    else rule.tagged = { name, negate };
    return true;
  }

  /** pfctl copies tag names into PF_TAG_NAME_SIZE bytes once the rule is read: `tag` first, then `tagged`. */
  private checkTags(rule: Rule): void {
    for (const name of [rule.tag, rule.tagged?.name]) if (name !== undefined && name.length > TAG_NAME_MAX) this.fail(`tag too long, max ${TAG_NAME_MAX} chars`, this.endLine());
  }

  /**
   * FreeBSD's natrule for rdr: `[no] rdr [pass] [log] [on IF] [AF] [proto P] [from ... to ...]
   * [tag NAME] [[!] tagged NAME] [-> hosts [port P]] [pool options]`, `->` required without
   * `no` and refused with it. The checks run once the whole line is read, in pfctl's order.
   */
  private rdr(): Rule {
    const no = this.accept('no');
    const rule = this.blank('rdr', this.peek().line);
    this.expect('rdr');
    if (no) rule.no = true;
    const pass = this.accept('pass');
    this.accept('log');
    if (no && pass) this.fail('"pass" not valid with "no"');
    this.common(rule);
    if (this.accept('tag')) this.tag(rule, this.string(false));
    this.tagged(rule);
    const redirect = this.accept('->') ? this.redirect() : undefined;
    const pool = this.poolOptions();
    if (this.peek().text !== '\n') this.syntax();
    this.order(3);
    this.checkTags(rule);
    if (no && redirect) this.fail("translation rule with 'no' does not need '->'");
    if (!no) {
      if (!redirect) this.fail("translation rule requires '-> address'");
      rule.redirect = { ...redirect, ...(pool === undefined ? {} : { pool }) };
      this.checkPool(rule.redirect, rule.line);
    }
    this.expand(rule);
    return rule;
  }

  private anchorName(): string {
    const name = this.take();
    if (!name.quoted) this.syntax();
    if (anchorTail(name.text).length >= ANCHOR_NAME_SIZE) throw new Fatal(this.os === 'freebsd' ? 'pfctl_add_rule: strlcpy' : 'anchorrule: strlcpy');
    return name.text;
  }

  private rdrAnchor(): Rule {
    const rule = this.blank('rdr-anchor', this.take().line);
    rule.anchor = this.anchorName();
    this.common(rule);
    if (rule.fromPorts.length > 0) this.fail('source port parameter not supported in rdr-anchor', rule.line);
    if (rule.toPorts.length > 1) this.fail('destination port list expansion not supported in rdr-anchor', rule.line);
    if (rule.toPorts.length === 1 && rule.toPorts[0]!.op !== '=') this.fail('destination port operators not supported in rdr-anchor', rule.line);
    this.expand(rule);
    return rule;
  }

  private anchor(): Rule {
    const rule = this.blank('anchor', this.take().line);
    const name = this.peek().quoted ? this.anchorName() : undefined;
    rule.anchor = name ?? '';
    if (this.peek().text === 'in' || this.peek().text === 'out') rule.direction = this.take().text as 'in' | 'out';
    this.common(rule);
    // An inline block opens on the anchor's line and closes on a line of its own.
    if (this.accept('{')) {
      if (this.peek().text !== '\n') this.syntax();
      const inner: Ruleset = { tables: [], rules: [], limits: {} };
      for (;;) {
        this.skipNewlines();
        if (this.accept('}')) break;
        if (this.atEnd()) this.syntax();
        this.statement(inner, true);
        if (this.peek().text !== '\n') this.syntax();
      }
      if (this.os === 'openbsd' && name !== undefined && name.includes('/')) this.fail("anchor paths containing '/' cannot be used for inline anchors.");
      rule.inline = inner.rules;
    } else if (name === undefined) {
      if (this.peek().text !== '\n') this.syntax();
      this.fail('anchors without explicit rules must specify a name');
    }
    this.expand(rule);
    return rule;
  }

  private filter(): Rule[] {
    const action = this.take();
    const rule = this.blank(action.text as 'pass' | 'block' | 'match', action.line);
    if (this.peek().text === 'in' || this.peek().text === 'out') rule.direction = this.take().text as 'in' | 'out';
    this.accept('log');
    rule.quick = this.accept('quick');
    this.common(rule);
    for (;;) {
      if (this.accept('flags')) {
        const flags = this.flags();
        if (rule.flags !== undefined) this.fail('flags cannot be redefined');
        rule.flags = flags;
      }
      else if (this.accept('keep') || this.accept('modulate')) this.expect('state');
      else if (this.accept('no')) {
        this.expect('state');
        rule.noState = true;
      } else if (this.peek().text === 'rdr-to') {
        if (this.os !== 'openbsd') this.syntax();
        this.take();
        if (rule.redirect) this.fail('cannot respecify rdr-to');
        rule.redirect = this.redirect();
        const pool = this.poolOptions();
        if (pool !== undefined) rule.redirect.pool = pool;
      } else if (this.accept('tag')) this.tag(rule, this.string(true));
      else if (!this.tagged(rule)) break;
    }
    if (this.peek().text !== '\n') this.syntax();
    this.checkTags(rule);
    this.expand(rule);
    return [rule];
  }

  private expand(rule: Rule): void {
    const line = this.endLine();
    this.pending.push(() => this.expansion(rule, line));
  }

  /**
   * expand_rule: every combination of protocol, source and destination (and port) is one rule.
   * A combination whose families disagree is dropped silently; one with a bad netmask or, on
   * OpenBSD, an rdr-to that cannot be (no direction, no state, other family) prints its reasons
   * and "skipping rule due to errors"; a rule left with no combination is an error of its own.
   */
  private expansion(rule: Rule, line: number): void {
    const families = rule.family ? [rule.family] : (['inet', 'inet6'] as const);
    const hostFamily = (h: HostSpec): string | undefined => (h.kind === 'net' ? (h.cidr.address.family === 4 ? 'inet' : 'inet6') : undefined);
    const count = Math.max(1, rule.protocols.length) * Math.max(1, rule.fromPorts.length) * Math.max(1, rule.toPorts.length);
    let valid = 0;
    let failed = false;
    for (const from of rule.from) {
      for (const to of rule.to) {
        const af = rule.family ?? hostFamily(from) ?? hostFamily(to);
        if ((hostFamily(from) && hostFamily(from) !== af) || (hostFamily(to) && hostFamily(to) !== af)) continue;
        if (af === undefined && !families.length) continue;
        for (let i = 0; i < count; i++) {
          const reasons: ParseProblem[] = [];
          for (const h of [from, to]) if (h.kind === 'net' && h.badMask !== undefined) reasons.push({ text: `netmask ${h.badMask} invalid for IPv4 address` });
          if (this.os === 'openbsd' && rule.redirect) {
            if (rule.action === 'block' || rule.noState) reasons.push({ line, text: 'nat-to and rdr-to require keep state' });
            if (!rule.direction) reasons.push({ line, text: 'nat-to and rdr-to require a direction' });
            const targets = rule.redirect.hosts.map(hostFamily).filter((f) => f !== undefined);
            if (reasons.length === 0 && af !== undefined && targets.length > 0 && !targets.includes(af)) reasons.push({ line, text: 'af mismatch in translation spec' });
          }
          if (reasons.length > 0) {
            this.problems.push(...reasons, { line, text: 'skipping rule due to errors' });
            failed = true;
          } else valid++;
        }
      }
    }
    if (valid === 0) {
      if (failed) this.problems.push({ line, text: 'rule expands to no valid combination' });
      else this.fail('rule expands to no valid combination', line);
      return;
    }
    if (this.os === 'freebsd' && rule.redirect) {
      const ok = families.some((af) => rule.from.concat(rule.to).every((h) => hostFamily(h) === undefined || hostFamily(h) === af) && rule.redirect!.hosts.some((h) => hostFamily(h) === undefined || hostFamily(h) === af));
      if (!ok) this.fail('no translation address with matching address family found.', line);
    }
  }
}

/**
 * The text without its table statements (newlines kept, so lines keep their numbers): what a
 * loaded anchor's rules are read back from, without re-reading tables the kernel holds anyway.
 */
export function withoutTables(text: string, ruleset: Ruleset): string {
  let out = '';
  let from = 0;
  for (const t of ruleset.tables) {
    out += text.slice(from, t.span[0]) + '\n'.repeat(text.slice(t.span[0], t.span[1]).split('\n').length - 1);
    from = t.span[1];
  }
  return out + text.slice(from);
}

/**
 * pf.conf text as `pfctl [-a anchor] -f` reads it; `anchor` is the path given with -a (empty for
 * the main ruleset), whose length pfctl checks before it reads a line.
 */
export function parseRuleset(text: string, os: Os, anchor = ''): Ruleset {
  const problems: ParseProblem[] = [];
  if (anchor !== '' && (os === 'freebsd' ? anchor : anchorTail(anchor)).length >= ANCHOR_NAME_SIZE) {
    throw new PfSyntaxError([], os === 'freebsd' ? 'pfctl_add_rule: strlcpy' : 'pfctl_rules: strlcpy');
  }
  const tokens = lex(text, problems);
  const parser = new Parser(tokens, os, problems);
  let ruleset: Ruleset;
  try {
    ruleset = parser.parse();
  } catch (error) {
    if (error instanceof Fatal) throw new PfSyntaxError(problems, error.message);
    throw error;
  }
  if (problems.length > 0) throw new PfSyntaxError(problems);
  return ruleset;
}
