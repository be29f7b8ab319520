/**
 * The part of libucl's syntax that hfm configurations use, parsed into a tree that keeps every
 * key's and value's position: `key = value`, `key: value` and `key value`, nested keys
 * (`lb2 tinyproxy { ... }`), objects, arrays, quoted strings, heredocs (`<<EOD`), unquoted
 * atoms, numbers with libucl's suffixes, booleans, and `#`, `//` and nested `/* *\/` comments.
 * Pure: text in, tree or every located problem out.
 *
 * Macros (`.include` and friends) are refused rather than ignored: a converted config that
 * silently lacks an included file would be worse than an error.
 */
import type { ConfigIssue, SourcePosition } from '../errors.ts';

export type UclValue = UclObject | UclArray | UclString | UclNumber | UclBoolean | UclNull;

export interface UclObject {
  kind: 'object';
  entries: UclEntry[];
  pos: SourcePosition;
}
export interface UclArray {
  kind: 'array';
  items: UclValue[];
  pos: SourcePosition;
}
export interface UclString {
  kind: 'string';
  value: string;
  pos: SourcePosition;
}
/**
 * `seconds` is the value as libucl reads a duration: a time suffix scales it (`500ms` is 0.5), a
 * bare number is seconds. `suffix` keeps what was written, so a caller can warn about `m`,
 * which libucl reads as mega, not minutes.
 */
export interface UclNumber {
  kind: 'number';
  seconds: number;
  integer: boolean;
  suffix: string;
  text: string;
  pos: SourcePosition;
}
export interface UclBoolean {
  kind: 'boolean';
  value: boolean;
  pos: SourcePosition;
}
export interface UclNull {
  kind: 'null';
  pos: SourcePosition;
}
export interface UclEntry {
  key: string;
  keyPos: SourcePosition;
  value: UclValue;
}

export type UclResult = { ok: true; root: UclObject } | { ok: false; issues: ConfigIssue[] };

const MULTIPLIERS: Readonly<Record<string, number>> = {
  ms: 0.001, s: 1, min: 60, h: 3600, d: 86_400, w: 604_800, y: 31_536_000,
  k: 1e3, m: 1e6, g: 1e9, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3,
};
const TIME_SUFFIXES = new Set(['ms', 's', 'min', 'h', 'd', 'w', 'y']);
const NUMBER = /^([-+]?(?:0x[0-9a-f]+|[0-9]+(?:\.[0-9]+)?(?:e[-+]?[0-9]+)?))(ms|min|kb|mb|gb|s|h|d|w|y|k|m|g)?$/i;
const KEY_CHAR = /[A-Za-z0-9_\-./@]/;
const ATOM_END = /[\s,;\]}#]/;
/** Deeper than any monitor configuration; bounds the recursion a hostile file can cause. */
const MAX_DEPTH = 64;

class UclSyntaxError extends Error {
  readonly code: string;
  readonly pos: SourcePosition;

  constructor(code: string, message: string, pos: SourcePosition) {
    super(message);
    this.code = code;
    this.pos = pos;
  }
}

export function parseUcl(text: string): UclResult {
  try {
    return { ok: true, root: new Parser(text).document() };
  } catch (error) {
    if (error instanceof UclSyntaxError) return { ok: false, issues: [{ code: error.code, message: error.message, pos: error.pos }] };
    throw error;
  }
}

class Parser {
  private index = 0;
  private line = 1;
  private col = 1;
  private depth = 0;

  private readonly text: string;

  constructor(text: string) {
    this.text = text;
  }

  document(): UclObject {
    this.skip();
    const pos = this.pos();
    if (this.peek() === '{') {
      const root = this.object();
      this.skip();
      if (!this.atEnd()) this.fail('ucl-syntax', `expected the end of the file after the top-level object, got \`${this.peek()}\``);
      return root;
    }
    return { kind: 'object', entries: this.entries(undefined), pos };
  }

  private mark(): { index: number; line: number; col: number } {
    return { index: this.index, line: this.line, col: this.col };
  }

  private restore(mark: { index: number; line: number; col: number }): void {
    ({ index: this.index, line: this.line, col: this.col } = mark);
  }

  private pos(): SourcePosition {
    return { line: this.line, col: this.col };
  }

  private peek(offset = 0): string {
    return this.text[this.index + offset] ?? '';
  }

  private atEnd(): boolean {
    return this.index >= this.text.length;
  }

  private advance(): string {
    const ch = this.text[this.index++] ?? '';
    if (ch === '\n') {
      this.line++;
      this.col = 1;
    } else this.col++;
    return ch;
  }

  private fail(code: string, message: string, pos = this.pos()): never {
    throw new UclSyntaxError(code, message, pos);
  }

  /** Whitespace and comments; `newlines: false` stops at the end of the line. */
  private skip(newlines = true): void {
    for (;;) {
      const ch = this.peek();
      if (ch === '\n' && !newlines) return;
      if (ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n') this.advance();
      else if (ch === '#' || (ch === '/' && this.peek(1) === '/')) {
        while (!this.atEnd() && this.peek() !== '\n') this.advance();
      } else if (ch === '/' && this.peek(1) === '*') this.blockComment();
      else return;
    }
  }

  private blockComment(): void {
    const start = this.pos();
    let nesting = 0;
    do {
      if (this.atEnd()) this.fail('ucl-syntax', 'this comment is never closed with `*/`', start);
      if (this.peek() === '/' && this.peek(1) === '*') {
        nesting++;
        this.advance();
      } else if (this.peek() === '*' && this.peek(1) === '/') {
        nesting--;
        this.advance();
      }
      this.advance();
    } while (nesting > 0);
  }

  /** Entries up to `close` (or the end of the file for the implicit top-level object). */
  private entries(close: '}' | undefined): UclEntry[] {
    const entries: UclEntry[] = [];
    const seen = new Map<string, SourcePosition>();
    for (;;) {
      this.skip();
      if (this.atEnd()) {
        if (close) this.fail('ucl-syntax', `expected \`${close}\` before the end of the file`);
        return entries;
      }
      if (close && this.peek() === close) {
        this.advance();
        return entries;
      }
      if (this.peek() === '.') this.fail('ucl-macro', `libucl macros such as \`${this.word()}\` are not supported; copy what it includes into this file`);
      const entry = this.entry();
      const first = seen.get(entry.key);
      if (first) this.fail('duplicate-key', `\`${entry.key}\` is set twice in the same block (first at line ${first.line}); keep one`, entry.keyPos);
      seen.set(entry.key, entry.keyPos);
      entries.push(entry);
      this.separator(close);
    }
  }

  private separator(close: '}' | undefined): void {
    this.skip(false);
    const ch = this.peek();
    if (ch === ';' || ch === ',') this.advance();
    else if (ch !== '\n' && !this.atEnd() && ch !== close) this.fail('ucl-syntax', `expected a new line, \`;\` or \`,\` after the value, got \`${ch}\``);
  }

  private startsKey(): boolean {
    const ch = this.peek();
    return ch === '"' || ch === "'" || KEY_CHAR.test(ch);
  }

  private word(): string {
    let out = '';
    for (let i = this.index; i < this.text.length && !/\s/.test(this.text[i]!); i++) out += this.text[i];
    return out;
  }

  private key(): { key: string; pos: SourcePosition } {
    const pos = this.pos();
    const ch = this.peek();
    if (ch === '"' || ch === "'") return { key: this.quoted(), pos };
    let key = '';
    while (!this.atEnd() && KEY_CHAR.test(this.peek())) key += this.advance();
    if (key === '') this.fail('ucl-syntax', `expected a key, got \`${ch}\``);
    return { key, pos };
  }

  private entry(): UclEntry {
    const { key, pos } = this.key();
    this.skip(false);
    if (this.peek() === '=' || this.peek() === ':') {
      this.advance();
      this.skip(false);
      return { key, keyPos: pos, value: this.value() };
    }
    if (this.peek() === '{') return { key, keyPos: pos, value: this.object() };
    // `lb2 tinyproxy { ... }` is lb2 { tinyproxy { ... } }; anything else after a bare key is its value.
    if (this.startsKey()) {
      const mark = this.mark();
      this.key();
      this.skip(false);
      const nested = this.peek() === '{' || this.startsKey();
      this.restore(mark);
      if (nested) {
        const child = this.entry();
        if (child.value.kind !== 'object') this.fail('ucl-syntax', `expected \`{\` after the nested keys \`${key} ${child.key}\``, child.value.pos);
        return { key, keyPos: pos, value: { kind: 'object', entries: [child], pos: child.keyPos } };
      }
    }
    if (this.peek() === '\n' || this.atEnd()) this.fail('ucl-syntax', `expected a value for \`${key}\``);
    return { key, keyPos: pos, value: this.value() };
  }

  private value(): UclValue {
    const pos = this.pos();
    const ch = this.peek();
    if (ch === '{') return this.object();
    if (ch === '[') return this.array();
    if (ch === '"' || ch === "'") return { kind: 'string', value: this.quoted(), pos };
    if (ch === '<' && this.peek(1) === '<') return { kind: 'string', value: this.heredoc(), pos };
    let atom = '';
    while (!this.atEnd() && !ATOM_END.test(this.peek())) atom += this.advance();
    if (atom === '') this.fail('ucl-syntax', `expected a value, got \`${ch || 'the end of the file'}\``);
    return atomValue(atom, pos);
  }

  private nest<T>(read: () => T): T {
    if (++this.depth > MAX_DEPTH) this.fail('ucl-too-deep', `expected blocks nested at most ${MAX_DEPTH} deep`);
    const out = read();
    this.depth--;
    return out;
  }

  private object(): UclObject {
    const pos = this.pos();
    this.advance();
    return this.nest(() => ({ kind: 'object', entries: this.entries('}'), pos }));
  }

  private array(): UclArray {
    const pos = this.pos();
    this.advance();
    return this.nest(() => {
      const items: UclValue[] = [];
      for (;;) {
        this.skip();
        if (this.atEnd()) this.fail('ucl-syntax', 'expected `]` before the end of the file', pos);
        if (this.peek() === ']') {
          this.advance();
          return { kind: 'array', items, pos };
        }
        items.push(this.value());
        this.skip();
        if (this.peek() === ',' || this.peek() === ';') this.advance();
        else if (this.peek() !== ']' && !this.atEnd()) this.fail('ucl-syntax', `expected \`,\` or \`]\` in the list, got \`${this.peek()}\``);
      }
    });
  }

  private quoted(): string {
    const start = this.pos();
    const quote = this.advance();
    let out = '';
    for (;;) {
      if (this.atEnd()) this.fail('ucl-syntax', `this string is never closed with ${quote}`, start);
      const ch = this.advance();
      if (ch === quote) return out;
      if (ch !== '\\') {
        out += ch;
        continue;
      }
      const escaped = this.advance();
      if (quote === "'") out += escaped === "'" ? "'" : `\\${escaped}`;
      else out += this.escape(escaped);
    }
  }

  private escape(ch: string): string {
    const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', b: '\b', f: '\f', '\\': '\\', '"': '"', '/': '/' };
    if (ch in simple) return simple[ch]!;
    if (ch === 'u') {
      let hex = '';
      for (let i = 0; i < 4; i++) hex += this.advance();
      if (/^[0-9a-fA-F]{4}$/.test(hex)) return String.fromCharCode(Number.parseInt(hex, 16));
    }
    return this.fail('ucl-syntax', `\`\\${ch}\` is not an escape libucl knows`);
  }

  private heredoc(): string {
    const start = this.pos();
    this.advance();
    this.advance();
    let terminator = '';
    while (/[A-Z]/.test(this.peek())) terminator += this.advance();
    if (terminator === '' || this.peek() !== '\n') this.fail('ucl-syntax', 'expected `<<` to be followed by an upper-case terminator and a new line, as in <<EOD', start);
    this.advance();
    const lines: string[] = [];
    for (;;) {
      if (this.atEnd()) this.fail('ucl-syntax', `this text is never closed by a line holding only ${terminator}`, start);
      let line = '';
      while (!this.atEnd() && this.peek() !== '\n') line += this.advance();
      if (line === terminator) return lines.join('\n');
      lines.push(line);
      this.advance();
    }
  }
}

function atomValue(atom: string, pos: SourcePosition): UclValue {
  const lower = atom.toLowerCase();
  if (['true', 'yes', 'on'].includes(lower)) return { kind: 'boolean', value: true, pos };
  if (['false', 'no', 'off'].includes(lower)) return { kind: 'boolean', value: false, pos };
  if (lower === 'null') return { kind: 'null', pos };
  const match = NUMBER.exec(atom);
  if (!match) return { kind: 'string', value: atom, pos };
  const digits = match[1]!;
  const suffix = (match[2] ?? '').toLowerCase();
  const base = /^[-+]?0x/i.test(digits) ? Number.parseInt(digits, 16) : Number(digits);
  const seconds = base * (MULTIPLIERS[suffix] ?? 1);
  return { kind: 'number', seconds, integer: Number.isInteger(seconds) && !TIME_SUFFIXES.has(suffix) && !digits.includes('.'), suffix, text: atom, pos };
}
