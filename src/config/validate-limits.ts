/**
 * Whether the layout fits pf. pfsteer's anchor holds one table per host and address family in
 * use, named after the host, and every source prefix is in exactly one of them: the prefix
 * lengths decide the table entries, the hosts decide the tables (a limit only OpenBSD has), and
 * a host's name must leave room for the table suffix within pf's 31 characters.
 */
import { isMap, isScalar, type Node } from 'yaml';
import { TABLE_NAME_MAX, TABLE_SUFFIX, tableName } from '../pf/render.ts';
import type { Config } from './model.ts';
import type { Field, Reader, Section } from './reader.ts';

/** nft's jhash map keeps its earlier bound; pf's (65536) is the range `buckets.count` accepts. */
const MAX_NFT_BUCKETS = 4096;

/** Prefixes a family contributes: all of IPv4, or 2000::/3 for IPv6. */
export function tableEntries(config: Pick<Config, 'buckets' | 'services'>): number {
  let entries = 0;
  if (config.services.some((s) => s.family === 'inet')) entries += 2 ** config.buckets.inetPrefix;
  if (config.services.some((s) => s.family === 'inet6')) entries += 2 ** (config.buckets.inet6Prefix - 3);
  return entries;
}

function prefixes(config: Pick<Config, 'buckets' | 'services'>): string {
  const out: string[] = [];
  if (config.services.some((s) => s.family === 'inet')) out.push(`IPv4 in /${config.buckets.inetPrefix} prefixes`);
  if (config.services.some((s) => s.family === 'inet6')) out.push(`2000::/3 in /${config.buckets.inet6Prefix} prefixes`);
  return out.join(', ');
}

/** One table per host and address family in use. */
export function tablesNeeded(config: Pick<Config, 'hosts' | 'services'>): number {
  return config.hosts.length * new Set(config.services.map((s) => s.family)).size;
}

/** The key node of each entry of a mapping field, by name, without reporting anything again. */
function keyNodes(r: Reader, field: Field | undefined): Map<string, Node> {
  const out = new Map<string, Node>();
  const map = field && r.resolve(field.value);
  if (!map || !isMap(map)) return out;
  for (const pair of map.items) {
    const key = r.resolve(pair.key as Node);
    if (key && isScalar(key)) out.set(String(key.value), key);
  }
  return out;
}

function checkTableNames(r: Reader, config: Config, root: Section): void {
  const hostKeys = keyNodes(r, root.get('hosts'));
  const longest = Math.max(...Object.values(TABLE_SUFFIX).map((s) => s.length));
  const ours = new Map<string, string>();
  for (const host of config.hosts) {
    for (const family of ['inet', 'inet6'] as const) ours.set(tableName(host.name, family), host.name);
    if (host.name.length + longest > TABLE_NAME_MAX) {
      r.report(
        'host-name-too-long-for-pf',
        `host name \`${host.name}\` has ${host.name.length} characters; its pf tables (<${tableName(host.name, 'inet')}>) would exceed pf's ${TABLE_NAME_MAX}: use at most ${TABLE_NAME_MAX - longest} characters`,
        hostKeys.get(host.name),
        root.node,
      );
    }
  }
  const services = root.get('services');
  const serviceKeys = keyNodes(r, services);
  for (const service of config.services) {
    if (service.external.kind !== 'table') continue;
    const owner = ours.get(service.external.table);
    if (owner === undefined) continue;
    const node = serviceKeys.get(service.name);
    const section = node && services && isMap(services.value) ? services.value.get(node, true) : undefined;
    const external = section && isMap(section) ? section.get('external', true) : undefined;
    r.report(
      'table-name-taken',
      `\`services.${service.name}.external\` names <${service.external.table}>, which is the table pfsteer keeps for host \`${owner}\` in its anchor; rename the table`,
      (external as Node | undefined) ?? node,
      root.node,
    );
  }
}

export function checkPfLimits(r: Reader, config: Config, buckets: Section | undefined, pf: Section | undefined, root: Section): void {
  if (config.driver === 'nft' && config.buckets.count > MAX_NFT_BUCKETS) {
    const at = buckets?.get('count');
    r.report('out-of-range', `expected \`buckets.count\` to be at most ${MAX_NFT_BUCKETS} with driver nft, got ${config.buckets.count}`, at?.value, root.node);
  }
  if (config.driver !== 'pf') return;
  checkTableNames(r, config, root);
  const entries = tableEntries(config);
  if (entries > config.pf.tableEntriesLimit) {
    const at = buckets?.get('inet_prefix') ?? buckets?.get('inet6_prefix') ?? pf?.get('table_entries_limit');
    r.report(
      'table-entries-limit',
      `the host tables need ${entries} entries (${prefixes(config)}) but pf allows ${config.pf.tableEntriesLimit}; ` +
        'use shorter prefixes, or raise `set limit table-entries` in pf.conf and `pf.table_entries_limit` here',
      at?.value,
      at?.key ?? buckets?.node ?? root.node,
    );
  }
  if (config.services.some((s) => s.family === 'inet') && config.buckets.count > 2 ** config.buckets.inetPrefix) {
    const at = buckets?.get('count');
    r.report(
      'more-buckets-than-prefixes',
      `${config.buckets.count} buckets but only ${2 ** config.buckets.inetPrefix} IPv4 source prefixes (/${config.buckets.inetPrefix}): some buckets would hold no clients; use fewer buckets or a longer \`buckets.inet_prefix\``,
      at?.value,
      at?.key ?? root.node,
    );
  }
  // Only OpenBSD limits the number of tables; FreeBSD has no such limit (its pfctl rejects `set limit tables`).
  const tables = tablesNeeded(config);
  if (config.pf.dialect === 'openbsd' && tables > config.pf.tablesLimit) {
    const at = pf?.get('tables_limit') ?? root.get('hosts');
    r.report(
      'tables-limit',
      `${config.hosts.length} hosts need ${tables} pf tables (one per host per address family) but OpenBSD's pf allows ${config.pf.tablesLimit}; ` +
        'raise `set limit tables` in pf.conf and `pf.tables_limit` here',
      at?.value,
      at?.key ?? root.node,
    );
  }
}
