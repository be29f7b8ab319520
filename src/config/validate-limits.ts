/**
 * Whether the layout fits pf's limits. Each bucket is a pf table of source prefixes per address
 * family in use, so the prefix lengths decide the table entries and B decides the tables.
 */
import type { Config } from './model.ts';
import type { Reader, Section } from './reader.ts';

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

export function tablesNeeded(config: Pick<Config, 'buckets' | 'services'>): number {
  return config.buckets.count * new Set(config.services.map((s) => s.family)).size;
}

export function checkPfLimits(r: Reader, config: Config, buckets: Section | undefined, pf: Section | undefined, root: Section): void {
  if (config.driver !== 'pf') return;
  const entries = tableEntries(config);
  if (entries > config.pf.tableEntriesLimit) {
    const at = buckets?.get('inet_prefix') ?? buckets?.get('inet6_prefix') ?? pf?.get('table_entries_limit');
    r.report(
      'table-entries-limit',
      `the bucket tables need ${entries} entries (${prefixes(config)}) but pf allows ${config.pf.tableEntriesLimit}; ` +
        'use shorter prefixes, or raise `set limit table-entries` in pf.conf and `pf.table_entries_limit` here',
      at?.value,
      at?.key ?? buckets?.node ?? root.node,
    );
  }
  const tables = tablesNeeded(config);
  if (tables > config.pf.tablesLimit) {
    const at = buckets?.get('count') ?? pf?.get('tables_limit');
    r.report(
      'tables-limit',
      `${config.buckets.count} buckets need ${tables} pf tables (one per bucket per address family) but pf allows ${config.pf.tablesLimit}; ` +
        'use fewer buckets, or raise `set limit tables` in pf.conf and `pf.tables_limit` here',
      at?.value,
      at?.key ?? buckets?.node ?? root.node,
    );
  }
}
