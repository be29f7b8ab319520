/**
 * hfm's meaning of a parsed configuration: rules (a test each) inside host blocks, settings
 * inherited from the top level and the host block, closest first, with hfm's own defaults.
 * Checks what hfm itself refuses (unknown properties, wrong types, out-of-range counts) so a
 * file hfm would not run is not converted into one that pfsteer would.
 */
import { nearest } from '../config/suggest.ts';
import type { ConfigIssue, SourcePosition } from '../errors.ts';
import type { UclEntry, UclObject, UclValue } from './ucl.ts';

/** Seconds, as hfm keeps them. */
const DURATION_KEYS = ['interval', 'interval_fail', 'start_delay', 'timeout_int', 'timeout_kill'] as const;
/** Count keys with hfm's accepted ranges. */
const COUNT_KEYS = { runs: [0, 65_535], change_success_debounce: [1, 65_535], change_fail_debounce: [1, 65_535] } as const;
const COMMAND_KEYS = ['test', 'change_success', 'change_fail'] as const;
const ARGUMENT_KEYS = ['test_arguments', 'change_success_arguments', 'change_fail_arguments'] as const;
const STATUSES = ['enabled', 'disabled', 'always-fail', 'always-success', 'run-once', 'run-once-fail', 'run-once-success'] as const;
const KNOWN_KEYS = [...DURATION_KEYS, ...Object.keys(COUNT_KEYS), ...COMMAND_KEYS, ...ARGUMENT_KEYS, 'status'];
/** Earlier hfm releases spelled interval_fail this way. */
const ALIASES: Readonly<Record<string, string>> = { fail_interval: 'interval_fail' };

type DurationKey = (typeof DURATION_KEYS)[number];
type CountKey = keyof typeof COUNT_KEYS;
export type HfmStatus = (typeof STATUSES)[number];

/** One setting as written, with where, so a note about it can point at it. */
export interface Located<T> {
  value: T;
  pos: SourcePosition;
  /** The number as written, for durations: `500ms`. */
  text?: string;
}

/** What one level (top, host block, rule) sets; absent keys inherit. */
export interface Settings {
  durations: Partial<Record<DurationKey, Located<number>>>;
  counts: Partial<Record<CountKey, Located<number>>>;
  status?: Located<HfmStatus>;
}

export interface HfmCommand {
  argv: string[];
  pos: SourcePosition;
}

export interface HfmRule {
  host: string;
  hostPos: SourcePosition;
  name: string;
  pos: SourcePosition;
  test: HfmCommand;
  changeSuccess?: HfmCommand;
  changeFail?: HfmCommand;
  /** The rule's settings with inheritance resolved; entries absent where hfm's default applies. */
  settings: Settings;
}

export type HfmResult = { ok: true; rules: HfmRule[] } | { ok: false; issues: ConfigIssue[] };

/** hfm's defaults where nothing sets a key (its configuration.go and README). */
export const HFM_DEFAULTS = { interval: 1, timeout_int: 1, start_delay: 0, runs: 0, change_success_debounce: 1, change_fail_debounce: 1 } as const;

export function readHfm(root: UclObject): HfmResult {
  const issues: ConfigIssue[] = [];
  const rules: HfmRule[] = [];
  const top = readSettings(root, issues);
  for (const entry of root.entries) {
    if (entry.value.kind !== 'object') {
      if (entry.key === 'test') issues.push({ code: 'hfm-top-level-test', message: 'a test at the top level belongs to no host; put it in a host block such as `lb1 { check { test = ... } }`', pos: entry.keyPos });
      continue;
    }
    const block = entry.value;
    if (has(block, 'test')) {
      // A rule straight at the top level: its own name is the only host name there is.
      const rule = readRule(entry, block, entry.key, entry.keyPos, [top], issues);
      if (rule) rules.push(rule);
      continue;
    }
    const group = readSettings(block, issues);
    for (const child of block.entries) {
      if (child.value.kind !== 'object') continue;
      if (!has(child.value, 'test')) {
        issues.push({ code: 'hfm-missing-test', message: `rule \`${entry.key}/${child.key}\` has no \`test\`; hfm refuses a rule without one`, pos: child.keyPos });
        // A misspelt `test` is the likeliest cause: name it too.
        readSettings(child.value, issues);
        continue;
      }
      const rule = readRule(child, child.value, entry.key, entry.keyPos, [group, top], issues);
      if (rule) rules.push(rule);
    }
  }
  return issues.length > 0 ? { ok: false, issues } : { ok: true, rules };
}

function has(block: UclObject, key: string): boolean {
  return block.entries.some((e) => e.key.toLowerCase() === key);
}

function readRule(entry: UclEntry, block: UclObject, host: string, hostPos: SourcePosition, parents: Settings[], issues: ConfigIssue[]): HfmRule | undefined {
  const own = readSettings(block, issues);
  const commands: Partial<Record<(typeof COMMAND_KEYS)[number], HfmCommand>> = {};
  const args: Partial<Record<(typeof ARGUMENT_KEYS)[number], string[]>> = {};
  for (const e of block.entries) {
    const key = e.key.toLowerCase();
    if (e.value.kind === 'object') {
      issues.push({ code: 'hfm-nested-rule', message: `rule \`${host}/${entry.key}\` holds a block \`${e.key}\`; hfm rules cannot contain child rules`, pos: e.keyPos });
    } else if ((COMMAND_KEYS as readonly string[]).includes(key)) {
      const text = stringOf(e.value, e.key, issues);
      if (text !== undefined) commands[key as (typeof COMMAND_KEYS)[number]] = { argv: [text], pos: e.value.pos };
    } else if ((ARGUMENT_KEYS as readonly string[]).includes(key)) {
      const list = argumentsOf(e.value, e.key, issues);
      if (list) args[key as (typeof ARGUMENT_KEYS)[number]] = list;
    }
  }
  const withArgs = (command: HfmCommand | undefined, list: string[] | undefined) => command && { argv: [...command.argv, ...(list ?? [])], pos: command.pos };
  const test = withArgs(commands.test, args.test_arguments);
  if (!test) return undefined;
  const rule: HfmRule = { host, hostPos, name: entry.key, pos: entry.keyPos, test, settings: inherit([own, ...parents]) };
  const changeSuccess = withArgs(commands.change_success, args.change_success_arguments);
  const changeFail = withArgs(commands.change_fail, args.change_fail_arguments);
  if (changeSuccess) rule.changeSuccess = changeSuccess;
  if (changeFail) rule.changeFail = changeFail;
  return rule;
}

/** Closest level first. */
function inherit(levels: readonly Settings[]): Settings {
  const out: Settings = { durations: {}, counts: {} };
  for (const level of [...levels].reverse()) {
    Object.assign(out.durations, level.durations);
    Object.assign(out.counts, level.counts);
    if (level.status) out.status = level.status;
  }
  return out;
}

/** The scalar settings of one block; commands and nested blocks are read by the caller. */
function readSettings(block: UclObject, issues: ConfigIssue[]): Settings {
  const settings: Settings = { durations: {}, counts: {} };
  for (const e of block.entries) {
    if (e.value.kind === 'object') continue;
    const key = ALIASES[e.key.toLowerCase()] ?? e.key.toLowerCase();
    if ((DURATION_KEYS as readonly string[]).includes(key)) {
      const value = e.value;
      if (value.kind !== 'number' || value.seconds < 0) issues.push({ code: 'hfm-type', message: `expected \`${e.key}\` to be a duration such as 1s or 250ms, got ${describe(value)}`, pos: value.pos });
      else settings.durations[key as DurationKey] = { value: value.seconds, pos: value.pos, text: value.text };
    } else if (key in COUNT_KEYS) {
      const [min, max] = COUNT_KEYS[key as CountKey];
      const value = e.value;
      if (value.kind !== 'number' || !value.integer) issues.push({ code: 'hfm-type', message: `expected \`${e.key}\` to be a whole number, got ${describe(value)}`, pos: value.pos });
      else if (value.seconds < min || value.seconds > max) issues.push({ code: 'hfm-range', message: `expected \`${e.key}\` to be in ${min}..${max}, got ${value.text}`, pos: value.pos });
      else settings.counts[key as CountKey] = { value: value.seconds, pos: value.pos };
    } else if (key === 'status') {
      const text = stringOf(e.value, e.key, issues)?.toLowerCase();
      if (text !== undefined && (STATUSES as readonly string[]).includes(text)) settings.status = { value: text as HfmStatus, pos: e.value.pos };
      else if (text !== undefined) issues.push({ code: 'hfm-status', message: `expected \`status\` to be one of ${STATUSES.join(', ')}, got \`${text}\``, pos: e.value.pos });
    } else if (!(COMMAND_KEYS as readonly string[]).includes(key) && !(ARGUMENT_KEYS as readonly string[]).includes(key)) {
      const hint = nearest(e.key, KNOWN_KEYS);
      issues.push({ code: 'hfm-unknown-key', message: `\`${e.key}\` is not an hfm setting; hfm itself refuses it${hint ? ` (did you mean \`${hint}\`?)` : ''}`, pos: e.keyPos });
    }
  }
  return settings;
}

function stringOf(value: UclValue, key: string, issues: ConfigIssue[]): string | undefined {
  if (value.kind === 'string') return value.value;
  issues.push({ code: 'hfm-type', message: `expected \`${key}\` to be a string, got ${describe(value)}`, pos: value.pos });
  return undefined;
}

function argumentsOf(value: UclValue, key: string, issues: ConfigIssue[]): string[] | undefined {
  if (value.kind === 'string') return [value.value];
  if (value.kind !== 'array') {
    issues.push({ code: 'hfm-type', message: `expected \`${key}\` to be a string or a list of strings, got ${describe(value)}`, pos: value.pos });
    return undefined;
  }
  const out: string[] = [];
  for (const item of value.items) {
    const text = stringOf(item, `${key} items`, issues);
    if (text === undefined) return undefined;
    out.push(text);
  }
  return out;
}

function describe(value: UclValue): string {
  switch (value.kind) {
    case 'string':
      return `\`${value.value}\``;
    case 'number':
      return `the number ${value.text}`;
    case 'boolean':
      return `the boolean ${value.value}`;
    default:
      return `a ${value.kind}`;
  }
}
