/**
 * The global sections: check timing defaults, buckets, driver, pf, nft, policy, control,
 * metrics, daemon. Each reader returns the section's model with defaults filled in.
 */
import { isScalar } from 'yaml';
import { formatAddress } from '../net/address.ts';
import { DEFAULT_TIMING, DEFAULTS } from './defaults.ts';
import type { BucketsConfig, CheckTiming, ControlConfig, DaemonConfig, DriverName, MetricsConfig, NftConfig, PfConfig, PolicyConfig } from './model.ts';
import { kindOf, type Field, type Reader, type Section, type ValueNode } from './reader.ts';
import { parseEndpoint, readName, readPath } from './values.ts';

const HOUR = 3_600_000;

export const TIMING_KEYS = ['interval', 'timeout', 'rise', 'fall', 'fastinter', 'downinter', 'jitter'] as const;

/** Timing as written at one level; absent keys inherit from the level above. */
export type TimingInput = Partial<CheckTiming>;

export function readTimingInput(r: Reader, section: Section): TimingInput {
  const out: TimingInput = {};
  const duration = (name: 'interval' | 'timeout' | 'fastinter' | 'downinter' | 'jitter', min: number) => {
    const field = section.get(name);
    const value = field && r.duration(field, min, HOUR);
    if (value !== undefined) out[name] = value;
  };
  duration('interval', 100);
  duration('timeout', 10);
  duration('fastinter', 100);
  duration('downinter', 100);
  duration('jitter', 0);
  for (const name of ['rise', 'fall'] as const) {
    const field = section.get(name);
    const value = field && r.integer(field.value, field.path, 1, 1000, field.key);
    if (value !== undefined) out[name] = value;
  }
  return out;
}

/** Full timing from a level's input over its parent; fastinter and downinter follow interval. */
export function resolveTiming(input: TimingInput, parent: TimingInput): CheckTiming {
  const interval = input.interval ?? parent.interval ?? DEFAULT_TIMING.interval;
  return {
    interval,
    timeout: input.timeout ?? parent.timeout ?? DEFAULT_TIMING.timeout,
    rise: input.rise ?? parent.rise ?? DEFAULT_TIMING.rise,
    fall: input.fall ?? parent.fall ?? DEFAULT_TIMING.fall,
    fastinter: input.fastinter ?? parent.fastinter ?? interval,
    downinter: input.downinter ?? parent.downinter ?? interval,
    jitter: input.jitter ?? parent.jitter ?? DEFAULT_TIMING.jitter,
  };
}

/** A check that outlives its interval would overlap the next one. */
export function checkTimeoutBelowInterval(r: Reader, timing: CheckTiming, section: Section, label: string): void {
  if (timing.timeout < timing.interval) return;
  const at = section.get('timeout') ?? section.get('interval');
  r.report(
    'timeout-not-below-interval',
    `expected the timeout of ${label} to be shorter than its interval, got timeout ${timing.timeout}ms and interval ${timing.interval}ms`,
    at?.value,
    at?.key ?? section.node,
  );
}

export function readBuckets(r: Reader, section: Section | undefined): BucketsConfig {
  const d = DEFAULTS.buckets;
  if (!section) return { ...d };
  return {
    count: section.take('count', (f) => readBucketCount(r, f), d.count),
    seed: section.take('seed', (f) => r.integer(f.value, f.path, 0, 0xffff_ffff, f.key), d.seed),
    inetPrefix: section.take('inet_prefix', (f) => r.integer(f.value, f.path, 1, 32, f.key), d.inetPrefix),
    // Below /3 a prefix would reach outside 2000::/3, the only IPv6 space that is partitioned.
    inet6Prefix: section.take('inet6_prefix', (f) => r.integer(f.value, f.path, 3, 64, f.key), d.inet6Prefix),
  };
}

function readBucketCount(r: Reader, field: Field): number | undefined {
  // pf's bound (the driver's own limits are checked in validate-limits.ts).
  const count = r.integer(field.value, field.path, 16, 65536, field.key);
  if (count === undefined) return undefined;
  if ((count & (count - 1)) !== 0) {
    r.report('not-power-of-two', `expected \`${field.path}\` to be a power of two (16, 32, ..., 65536), got ${count}`, field.value);
    return undefined;
  }
  return count;
}

export function readDriver(r: Reader, field: Field | undefined): DriverName {
  return (field && r.choice(field, ['pf', 'nft', 'memory'] as const)) ?? DEFAULTS.driver;
}

export function readPf(r: Reader, section: Section | undefined): PfConfig {
  const d = DEFAULTS.pf;
  if (!section) return { ...d, commandPrefix: [] };
  return {
    anchor: section.take('anchor', (f) => readName(r, f.value, f.path, 'anchor'), d.anchor),
    dialect: section.take('dialect', (f) => r.choice(f, ['freebsd', 'openbsd'] as const), d.dialect),
    pfctl: section.take('pfctl', (f) => readPath(r, f), d.pfctl),
    commandPrefix: section.take('command_prefix', (f) => readPrefix(r, f), []),
    timeout: section.take('timeout', (f) => r.duration(f, 100, HOUR), d.timeout),
    concurrency: section.take('concurrency', (f) => r.integer(f.value, f.path, 1, 64, f.key), d.concurrency),
    tableEntriesLimit: section.take('table_entries_limit', (f) => r.integer(f.value, f.path, 1, 2 ** 31 - 1, f.key), d.tableEntriesLimit),
    tablesLimit: section.take('tables_limit', (f) => r.integer(f.value, f.path, 1, 2 ** 31 - 1, f.key), d.tablesLimit),
  };
}

export function readNft(r: Reader, section: Section | undefined): NftConfig {
  const d = DEFAULTS.nft;
  if (!section) return { ...d, commandPrefix: [] };
  return {
    nft: section.take('nft', (f) => readPath(r, f), d.nft),
    conntrack: section.take('conntrack', (f) => readPath(r, f), d.conntrack),
    table: section.take('table', (f) => readName(r, f.value, f.path, 'nft table'), d.table),
    commandPrefix: section.take('command_prefix', (f) => readPrefix(r, f), []),
    timeout: section.take('timeout', (f) => r.duration(f, 100, HOUR), d.timeout),
  };
}

/** `[doas]`, `[sudo, -n]`: words put before the program; each one a plain argument. */
function readPrefix(r: Reader, field: Field): string[] | undefined {
  const items = r.list(field, 'words such as doas or sudo');
  if (!items) return undefined;
  const out: string[] = [];
  for (const item of items) {
    const word = r.string(item.node, item.path, 'a word such as doas or sudo');
    if (word === undefined) return undefined;
    if (word === '' || /[\x00-\x1f\x7f]/.test(word)) {
      r.report('bad-command', `expected \`${item.path}\` to be a non-empty word without control characters, got ${kindOf(item.node)}`, item.node);
      return undefined;
    }
    out.push(word);
  }
  return out;
}

export function readPolicy(r: Reader, section: Section | undefined): PolicyConfig {
  const d = DEFAULTS.policy;
  if (!section) return { ...d };
  return {
    allDown: section.take('all_down', (f) => r.choice(f, ['keep', 'fallthrough'] as const), d.allDown),
    killStatesOnDown: section.take('kill_states_on_down', (f) => r.boolean(f), d.killStatesOnDown),
  };
}

/**
 * sun_path holds a Unix socket's path with its NUL: 104 bytes on FreeBSD and OpenBSD, 108 on
 * Linux. The smaller bound holds everywhere; past it listen() fails (or truncates) at run time.
 */
export const MAX_SOCKET_PATH = 103;

function readSocketPath(r: Reader, field: Field): string | undefined {
  const path = readPath(r, field);
  if (path === undefined) return undefined;
  const bytes = Buffer.byteLength(path);
  if (bytes > MAX_SOCKET_PATH) {
    r.report('path-too-long', `expected \`${field.path}\` to be at most ${MAX_SOCKET_PATH} bytes (a Unix socket path; 104 with its NUL on FreeBSD), got ${bytes}`, field.value);
    return undefined;
  }
  return path;
}

export function readControl(r: Reader, section: Section | undefined): ControlConfig {
  const d = DEFAULTS.control;
  if (!section) return { ...d };
  const out: ControlConfig = {
    socket: section.take('socket', (f) => readSocketPath(r, f), d.socket),
    mode: section.take('mode', (f) => readMode(r, f), d.mode),
  };
  const group = section.get('group');
  const name = group && readName(r, group.value, group.path, 'group');
  if (name !== undefined) out.group = name;
  return out;
}

const MODE = /^0?[0-7]{3}$/;

/** An octal string; YAML reads a bare 0660 as decimal 660, so a number is refused. */
function readMode(r: Reader, field: Field): number | undefined {
  const node: ValueNode = field.value;
  if (node && isScalar(node) && typeof node.value === 'number') {
    r.report('wrong-type', `expected \`${field.path}\` to be an octal mode in quotes such as "0660", got the number ${node.source ?? node.value}`, node);
    return undefined;
  }
  const text = r.string(node, field.path, 'an octal mode in quotes such as "0660"', field.key);
  if (text === undefined) return undefined;
  if (!MODE.test(text)) {
    r.report('bad-value', `expected \`${field.path}\` to be an octal mode such as "0660", got ${kindOf(node)}`, node);
    return undefined;
  }
  return parseInt(text, 8);
}

export function readMetrics(r: Reader, section: Section | undefined): MetricsConfig {
  const field = section?.get('listen');
  if (!field) return {};
  const text = r.string(field.value, field.path, 'an address and port such as 127.0.0.1:9742', field.key);
  if (text === undefined) return {};
  const endpoint = parseEndpoint(text, true);
  if (typeof endpoint === 'string') {
    r.report('bad-address', `\`${field.path}\`: ${endpoint}, got ${kindOf(field.value)}`, field.value);
    return {};
  }
  return { listen: { host: formatAddress(endpoint.address), port: endpoint.port! } };
}

export function readDaemon(r: Reader, section: Section | undefined): DaemonConfig {
  const d = DEFAULTS.daemon;
  if (!section) return { ...d };
  const out: DaemonConfig = {
    stateFile: section.take('state_file', (f) => readPath(r, f), d.stateFile),
    driftInterval: section.take('drift_interval', (f) => r.duration(f, 1000, 24 * HOUR), d.driftInterval),
    coalesce: section.take('coalesce', (f) => r.duration(f, 0, 10_000), d.coalesce),
  };
  const grace = section.get('startup_grace');
  const value = grace && r.duration(grace, 0, HOUR);
  if (value !== undefined) out.startupGrace = value;
  return out;
}
