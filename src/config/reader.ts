/**
 * Reading the YAML tree with positions. Every reader reports what is wrong at the node that is
 * wrong and returns undefined, so one pass collects every problem in the file.
 */
import { isAlias, isMap, isScalar, isSeq, type Alias, type LineCounter, type Node, type Scalar, type YAMLMap, type YAMLSeq } from 'yaml';
import type { ConfigIssue } from '../errors.ts';
import { parseDuration } from './duration.ts';
import { RENAMED_KEYS } from './renamed.ts';
import { nearest } from './suggest.ts';

/** A value node, or null where the YAML has a key without a value. */
export type ValueNode = Node | null;

/** One `key: value` of a mapping, with the key's node for positions. */
export interface Field {
  name: string;
  /** `section.key` path for messages. */
  path: string;
  key: Node;
  value: ValueNode;
}

export class Reader {
  readonly issues: ConfigIssue[] = [];
  /** What is already reported: a node reached through N aliases is read N times, and said once. */
  readonly #said = new Set<string>();
  readonly #targets: ReadonlyMap<Alias, Node>;
  readonly #lines: LineCounter;

  /** `targets`: each alias's anchor (aliases.ts), found once for the whole document. */
  constructor(targets: ReadonlyMap<Alias, Node>, lines: LineCounter) {
    this.#targets = targets;
    this.#lines = lines;
  }

  /** Report at a node; a node without a range (a key without value) reports at `fallback`. */
  report(code: string, message: string, at: ValueNode | undefined, fallback?: Node): void {
    // An empty value sits past the colon; its key is where the eye goes.
    const empty = at && isScalar(at) && at.value === null && fallback !== undefined;
    const range = (empty ? undefined : at?.range) ?? fallback?.range;
    this.#push(code, message, range ? this.#lines.linePos(range[0]) : undefined);
  }

  reportAt(code: string, message: string, offset: number): void {
    this.#push(code, message, this.#lines.linePos(offset));
  }

  #push(code: string, message: string, pos: ConfigIssue['pos']): void {
    const key = `${code}@${pos?.line}:${pos?.col}:${message}`;
    if (this.#said.has(key)) return;
    this.#said.add(key);
    this.issues.push(pos ? { code, message, pos } : { code, message });
  }

  /** The node an alias points to; an alias to no anchor is reported and kept for its position. */
  resolve(node: ValueNode | undefined): ValueNode {
    if (node && isAlias(node)) {
      const target = this.#targets.get(node);
      if (target) return target;
      this.report('unknown-alias', `*${node.source} refers to no anchor &${node.source} defined before it`, node);
    }
    return node ?? null;
  }

  /**
   * The fields of a mapping. Unknown keys are reported with the nearest allowed key, renamed
   * keys with their successor; both are left out of the result.
   */
  section(node: ValueNode, path: string, allowed: readonly string[], owner?: Node): Section | undefined {
    const map = this.mapNode(node, path, owner);
    if (!map) return undefined;
    const out = new Map<string, Field>();
    const seen = new Set<string>();
    for (const pair of map.items) {
      const key = this.resolve(pair.key as ValueNode);
      const name = key && isScalar(key) ? scalarText(key) : undefined;
      if (key === null || name === undefined) {
        this.report('wrong-type', `expected the keys of ${describe(path)} to be plain words, got ${kindOf(key)}`, key, map);
        continue;
      }
      const fieldPath = path === '' ? name : `${path}.${name}`;
      if (this.#repeated(seen, name, pair.key as Node, key)) continue;
      if (!allowed.includes(name)) {
        this.#unknownKey(name, fieldPath, key, allowed);
        continue;
      }
      out.set(name, { name, path: fieldPath, key, value: this.resolve(pair.value as ValueNode) });
    }
    return new Section(this, map, path, out, owner ?? map);
  }

  #unknownKey(name: string, path: string, key: Node, allowed: readonly string[]): void {
    const successor = RENAMED_KEYS.get(name);
    if (successor !== undefined && allowed.includes(successor)) {
      this.report('renamed-key', `\`${path}\` is now called \`${successor}\``, key);
      return;
    }
    const guess = nearest(name, allowed);
    const hint = guess === undefined ? `expected one of ${allowed.join(', ')}` : `did you mean \`${guess}\`?`;
    this.report('unknown-key', `unknown key \`${path}\`; ${hint}`, key);
  }

  /** The entries of a mapping whose keys are names chosen by the operator (hosts, services). */
  entries(node: ValueNode, path: string, owner?: Node): Field[] | undefined {
    const map = this.mapNode(node, path, owner);
    if (!map) return undefined;
    const out: Field[] = [];
    const seen = new Set<string>();
    for (const pair of map.items) {
      const key = this.resolve(pair.key as ValueNode);
      const name = key && isScalar(key) ? scalarText(key) : undefined;
      if (key === null || name === undefined) {
        this.report('wrong-type', `expected the keys of ${describe(path)} to be names, got ${kindOf(key)}`, key, map);
        continue;
      }
      if (this.#repeated(seen, name, pair.key as Node, key)) continue;
      out.push({ name, path: `${path}.${name}`, key, value: this.resolve(pair.value as ValueNode) });
    }
    return out;
  }

  /**
   * Whether `name` was already a key of this mapping; the repeat is reported and the first stands.
   * The reader finds repeats rather than the YAML parser: the parser compares every key with
   * every other (minutes for a 1 MB mapping) and misses a key written as an alias (`*k :`).
   */
  #repeated(seen: Set<string>, name: string, written: Node, key: Node): boolean {
    if (!seen.has(name)) {
      seen.add(name);
      return false;
    }
    // At the repeat as written: an alias key resolves to the first occurrence.
    this.report('duplicate-key', `\`${name}\` appears twice in the same mapping; keep one`, written, key);
    return true;
  }

  mapNode(node: ValueNode, path: string, owner?: Node): YAMLMap | undefined {
    if (node && isMap(node)) return node;
    this.report('wrong-type', `expected ${describe(path)} to be a mapping of keys to values, got ${kindOf(node)}`, node, owner);
    return undefined;
  }

  /** A sequence's items; a single scalar is accepted as a one-item list when `single` is set. */
  list(field: Field, what: string, single = false): { node: ValueNode; path: string }[] | undefined {
    const node = field.value;
    if (node && isSeq(node)) return (node as YAMLSeq).items.map((item, i) => ({ node: this.resolve(item as ValueNode), path: `${field.path}[${i}]` }));
    if (single && node && isScalar(node) && node.value !== null) return [{ node, path: field.path }];
    this.report('wrong-type', `expected \`${field.path}\` to be a list of ${what}, got ${kindOf(node)}`, node, field.key);
    return undefined;
  }

  string(node: ValueNode, path: string, what = 'a string', fallback?: Node): string | undefined {
    if (node && isScalar(node) && typeof node.value === 'string') return node.value;
    this.report('wrong-type', `expected \`${path}\` to be ${what}, got ${kindOf(node)}`, node, fallback);
    return undefined;
  }

  boolean(field: Field): boolean | undefined {
    const node = field.value;
    if (node && isScalar(node) && typeof node.value === 'boolean') return node.value;
    this.report('wrong-type', `expected \`${field.path}\` to be true or false, got ${kindOf(node)}`, node, field.key);
    return undefined;
  }

  integer(node: ValueNode, path: string, min: number, max: number, fallback?: Node): number | undefined {
    if (!(node && isScalar(node) && typeof node.value === 'number' && Number.isInteger(node.value))) {
      this.report('wrong-type', `expected \`${path}\` to be a whole number from ${min} to ${max}, got ${kindOf(node)}`, node, fallback);
      return undefined;
    }
    const value = node.value;
    if (value < min || value > max) {
      this.report('out-of-range', `expected \`${path}\` to be from ${min} to ${max}, got ${value}`, node);
      return undefined;
    }
    return value;
  }

  duration(field: Field, min: number, max: number): number | undefined {
    const node = field.value;
    const text = node && isScalar(node) && (typeof node.value === 'string' || typeof node.value === 'number') ? String(node.value) : undefined;
    const ms = text === undefined ? undefined : parseDuration(text);
    if (ms === undefined) {
      const got = typeof (node as Scalar | null)?.value === 'number' ? `${text} (a number without a unit)` : kindOf(node);
      this.report('bad-duration', `expected \`${field.path}\` to be a duration such as 1s or 250ms, got ${got}`, node, field.key);
      return undefined;
    }
    if (ms < min || ms > max) {
      this.report('out-of-range', `expected \`${field.path}\` to be from ${fmt(min)} to ${fmt(max)}, got ${text}`, node);
      return undefined;
    }
    return ms;
  }

  /** One of a fixed set of words. */
  choice<T extends string>(field: Field, choices: readonly T[]): T | undefined {
    const node = field.value;
    if (node && isScalar(node) && typeof node.value === 'string' && (choices as readonly string[]).includes(node.value)) return node.value as T;
    this.report('bad-value', `expected \`${field.path}\` to be one of ${choices.join(', ')}, got ${kindOf(node)}`, node, field.key);
    return undefined;
  }
}

function fmt(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

function describe(path: string): string {
  return path === '' ? 'the file' : `\`${path}\``;
}

/** A key as written: plain numbers and booleans keep their source text. */
function scalarText(node: Scalar): string | undefined {
  if (typeof node.value === 'string') return node.value;
  if (typeof node.value === 'number' || typeof node.value === 'boolean') return node.source ?? String(node.value);
  return undefined;
}

/** How a value reads in a message: `"text"`, a number, or the kind of node. */
export function kindOf(node: ValueNode | undefined): string {
  if (!node) return 'nothing';
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) {
    const value = node.value;
    if (value === null) return 'nothing';
    if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
    return String(value);
  }
  if (isAlias(node)) return `the alias *${node.source}`;
  return 'an unsupported YAML node';
}

/** A mapping's known fields, with the mapping's own node to locate what is missing. */
export class Section {
  readonly node: YAMLMap;
  readonly path: string;
  readonly #reader: Reader;
  readonly #fields: Map<string, Field>;
  /** Where a missing key is reported: the key that owns this mapping, else the mapping. */
  readonly #owner: Node;

  constructor(reader: Reader, node: YAMLMap, path: string, fields: Map<string, Field>, owner: Node) {
    this.#reader = reader;
    this.#owner = owner;
    this.node = node;
    this.path = path;
    this.#fields = fields;
  }

  get(name: string): Field | undefined {
    return this.#fields.get(name);
  }

  has(name: string): boolean {
    return this.#fields.has(name);
  }

  /** The value read from `name`, or `fallback` when it is absent or was reported invalid. */
  take<T>(name: string, read: (field: Field) => T | undefined, fallback: T): T {
    const field = this.#fields.get(name);
    return field === undefined ? fallback : (read(field) ?? fallback);
  }

  /** The value read from `name`; a missing key is reported at the mapping. */
  need<T>(name: string, read: (field: Field) => T | undefined, what: string): T | undefined {
    const field = this.#fields.get(name);
    if (field === undefined) {
      const where = this.path === '' ? 'the file' : `\`${this.path}\``;
      this.#reader.report('missing-key', `${where} needs \`${name}\` (${what})`, this.#owner);
      return undefined;
    }
    return read(field);
  }
}
