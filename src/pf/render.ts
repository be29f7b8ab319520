/**
 * pf text for one bucket anchor, byte-deterministic: the same config and assignment always give
 * the same bytes, so two firewalls of a CARP pair load identical anchors.
 *
 * The anchor holds the bucket's source tables (scoped to the anchor; a table the rule names but
 * the anchor does not define, such as the service's external table, resolves to the main
 * ruleset's) and one translation rule per service. Dialects follow pf.conf(5): FreeBSD `rdr ...
 * -> addr`, loaded under `rdr-anchor "pfsteer/*"`; OpenBSD `pass in quick ... rdr-to addr`,
 * loaded under `anchor "pfsteer/*"` (quick: without it a later pass rule for the same traffic
 * would decide, and its lack of rdr-to would undo the steering).
 */
import type { BucketTable } from '../buckets/partition.ts';
import type { Config, Service } from '../config/model.ts';
import type { BucketAssignment } from '../drivers/driver.ts';
import { formatAddress, formatCidr } from '../net/address.ts';

/** `pfsteer/b0007`: zero-padded because pf runs `*` children in byte order of their names. */
export function anchorName(config: Config, bucket: number): string {
  return `${config.pf.anchor}/b${String(bucket).padStart(4, '0')}`;
}

export function tableName(bucket: number, family: 'inet' | 'inet6'): string {
  return `b${String(bucket).padStart(4, '0')}${family === 'inet' ? 'v4' : 'v6'}`;
}

function list(items: readonly string[]): string {
  return items.length === 1 ? items[0]! : `{ ${items.join(' ')} }`;
}

function destination(service: Service): string {
  const to = service.external.kind === 'table' ? `<${service.external.table}>` : list(service.external.addresses.map((c) => (c.prefix === (c.address.family === 4 ? 32 : 128) ? formatAddress(c.address) : formatCidr(c))));
  return `to ${to} port ${list(service.ports.map(String))}`;
}

export function renderAnchor(config: Config, table: BucketTable, assignment: BucketAssignment): string {
  const { bucket } = assignment;
  const lines = [`# pfsteer ${anchorName(config, bucket)}: ${assignment.host ?? 'empty (fallthrough)'}`];
  const families = [...new Set(config.services.map((s) => s.family))].sort();
  for (const family of families) {
    const cidrs = family === 'inet' ? table.inet : table.inet6;
    lines.push(`table <${tableName(bucket, family)}> const { ${cidrs.map(formatCidr).join(' ')} }`);
  }
  const services = [...config.services].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const service of services) {
    const route = assignment.routes.find((r) => r.service === service.name);
    if (!route) continue;
    const target = `${formatAddress(route.address)}${route.port === undefined ? '' : ` port ${route.port}`}`;
    const match = `on ${service.interface} ${service.family} proto ${service.protocol} from <${tableName(bucket, service.family)}> ${destination(service)}`;
    lines.push(config.pf.dialect === 'freebsd' ? `rdr ${match} -> ${target}` : `pass in quick ${match} rdr-to ${target}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The one-time pf.conf line(s) the operator adds, with where they go. */
export function mainRulesetSnippet(config: Config): string {
  if (config.pf.dialect === 'freebsd') {
    return [
      '# pf.conf, translation section: before any other rdr rule for the same addresses,',
      '# so that pfsteer\'s per-bucket anchors are evaluated first.',
      `rdr-anchor "${config.pf.anchor}/*"`,
      '',
    ].join('\n');
  }
  return [
    '# pf.conf, filter section: before the pass rules for the same addresses; pfsteer loads',
    '# `pass in ... rdr-to` rules into the per-bucket anchors below it.',
    `anchor "${config.pf.anchor}/*"`,
    '',
  ].join('\n');
}
