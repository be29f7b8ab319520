/** The whole document: sections in order, then the checks that span sections. */
import { DEFAULT_TIMING } from './defaults.ts';
import type { Config } from './model.ts';
import type { Reader, ValueNode } from './reader.ts';
import { checkPfLimits } from './validate-limits.ts';
import { readHosts } from './validate-hosts.ts';
import { readServices } from './validate-services.ts';
import {
  checkTimeoutBelowInterval,
  readBuckets,
  readControl,
  readDaemon,
  readDriver,
  readMetrics,
  readNft,
  readPf,
  readPolicy,
  readTimingInput,
  resolveTiming,
  TIMING_KEYS,
} from './validate-settings.ts';

export const TOP_KEYS = ['defaults', 'buckets', 'driver', 'pf', 'nft', 'policy', 'control', 'metrics', 'daemon', 'services', 'hosts'] as const;

const SECTION_KEYS = {
  buckets: ['count', 'seed', 'inet_prefix', 'inet6_prefix'],
  pf: ['anchor', 'dialect', 'pfctl', 'command_prefix', 'timeout', 'concurrency', 'table_entries_limit', 'tables_limit'],
  nft: ['nft', 'conntrack', 'table', 'command_prefix', 'timeout'],
  policy: ['all_down', 'kill_states_on_down'],
  control: ['socket', 'mode', 'group'],
  metrics: ['listen'],
  daemon: ['state_file', 'drift_interval', 'coalesce', 'startup_grace'],
} as const;

/** The model, built even from a faulty file (defaults stand in); valid only if no issue was reported. */
export function validateDocument(r: Reader, root: ValueNode, file: string): Config | undefined {
  const top = r.section(root, '', TOP_KEYS);
  if (!top) return undefined;
  const sub = (name: keyof typeof SECTION_KEYS) => {
    const field = top.get(name);
    return field && r.section(field.value, field.path, SECTION_KEYS[name], field.key);
  };
  const defaultsField = top.get('defaults');
  const defaultsSection = defaultsField && r.section(defaultsField.value, defaultsField.path, TIMING_KEYS, defaultsField.key);
  const defaultsInput = defaultsSection ? readTimingInput(r, defaultsSection) : {};
  const defaults = resolveTiming(defaultsInput, DEFAULT_TIMING);
  if (defaultsSection) checkTimeoutBelowInterval(r, defaults, defaultsSection, '`defaults`');

  const buckets = sub('buckets');
  const pf = sub('pf');
  const { services, families } = readServices(r, top.get('services'), top.node);
  const config: Config = {
    file,
    defaults,
    buckets: readBuckets(r, buckets),
    driver: readDriver(r, top.get('driver')),
    pf: readPf(r, pf),
    nft: readNft(r, sub('nft')),
    policy: readPolicy(r, sub('policy')),
    control: readControl(r, sub('control')),
    metrics: readMetrics(r, sub('metrics')),
    daemon: readDaemon(r, sub('daemon')),
    services,
    hosts: readHosts(r, top.get('hosts'), top.node, families, { ...DEFAULT_TIMING, ...defaultsInput }),
  };
  checkPfLimits(r, config, buckets, pf, top);
  return config;
}
