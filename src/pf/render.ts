/**
 * pf text for pfsteer's one anchor, byte-deterministic: the same config and owners always give
 * the same bytes, so two firewalls of a CARP pair load identical anchors.
 *
 * The anchor holds, per host and address family in use, one `persist` table of the source
 * prefixes of the buckets that host owns, and per host and service the rule(s) from that table
 * to the host's address. A table's rules stand together, hosts in byte order of their names:
 * pf's skip steps then jump over a whole host when its table does not hold the source, so a new
 * connection costs about one table lookup per host, whatever B is. Tables are `persist` so that
 * a host owning nothing (all its buckets moved) keeps its empty table and its rules stay valid.
 *
 * Dialects follow pf.conf(5): FreeBSD `rdr ... -> addr`, loaded under `rdr-anchor "pfsteer"`;
 * OpenBSD `pass in quick ... rdr-to addr`, loaded under `anchor "pfsteer"` (quick: without it a
 * later pass rule for the same traffic would decide, and its lack of rdr-to would undo the
 * steering).
 */
import type { BucketTable } from '../buckets/partition.ts';
import type { Config, Service } from '../config/model.ts';
import { compareCidr, formatAddress, formatCidr, type Cidr } from '../net/address.ts';

export type PfFamily = 'inet' | 'inet6';

/** The suffix that makes a host's table name; a host name plus it must fit pf's 31 characters. */
export const TABLE_SUFFIX: Readonly<Record<PfFamily, string>> = { inet: '-v4', inet6: '-v6' };

/** pf's PF_TABLE_NAME_SIZE is 32 bytes with the terminating NUL. */
export const TABLE_NAME_MAX = 31;

/**
 * `lb1-v4`: from the host's name alone, so adding or removing another host renames nothing, and
 * a table's name says whose it is.
 */
export function tableName(host: string, family: PfFamily): string {
  return `${host}${TABLE_SUFFIX[family]}`;
}

/** The address families the services use, inet first. */
export function familiesOf(config: Pick<Config, 'services'>): PfFamily[] {
  return (['inet', 'inet6'] as const).filter((f) => config.services.some((s) => s.family === f));
}

/** Hosts in byte order of their names: the order of their tables and rule groups. */
export function sortedHosts(config: Pick<Config, 'hosts'>): Config['hosts'] {
  return [...config.hosts].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function list(items: readonly string[]): string {
  return items.length === 1 ? items[0]! : `{ ${items.join(' ')} }`;
}

function externalText(service: Service): string {
  if (service.external.kind === 'table') return `<${service.external.table}>`;
  return list(service.external.addresses.map((c) => (c.prefix === (c.address.family === 4 ? 32 : 128) ? formatAddress(c.address) : formatCidr(c))));
}

/**
 * A host's services in the order that lets skip steps work inside its group too: rules that
 * share interface, protocol and destination stand together; the name breaks ties.
 */
export function orderedServices(config: Pick<Config, 'services'>, family: PfFamily): Service[] {
  const key = (s: Service): string => `${s.interface}\u0000${s.protocol}\u0000${externalText(s)}\u0000${s.name}`;
  return config.services.filter((s) => s.family === family).sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

/** The anchor's rules, which depend on the config only: health moves prefixes between tables. */
function renderRules(config: Config): string[] {
  const lines: string[] = [];
  for (const host of sortedHosts(config)) {
    for (const family of familiesOf(config)) {
      for (const service of orderedServices(config, family)) {
        const target = host.targets[service.name]!;
        const to = `${formatAddress(target.address)}${target.port === undefined ? '' : ` port ${target.port}`}`;
        const match = `on ${service.interface} ${family} proto ${service.protocol} from <${tableName(host.name, family)}> to ${externalText(service)} port ${list(service.ports.map(String))}`;
        lines.push(config.pf.dialect === 'freebsd' ? `rdr ${match} -> ${to}` : `pass in quick ${match} rdr-to ${to}`);
      }
    }
  }
  return lines;
}

/** Per host and family, the prefixes of the buckets `owners` gives it, sorted by address. */
function tableContents(config: Config, tables: readonly BucketTable[], owners: ReadonlyArray<string | null>): Map<string, Cidr[]> {
  const out = new Map<string, Cidr[]>();
  for (const host of config.hosts) for (const family of familiesOf(config)) out.set(tableName(host.name, family), []);
  owners.forEach((owner, bucket) => {
    if (owner === null) return;
    for (const family of familiesOf(config)) out.get(tableName(owner, family))!.push(...tables[bucket]![family]);
  });
  for (const entries of out.values()) entries.sort(compareCidr);
  return out;
}

/** The whole anchor: tables with their contents, then the rules. One `pfctl -a <anchor> -f -`. */
export function renderAnchor(config: Config, tables: readonly BucketTable[], owners: ReadonlyArray<string | null>): string {
  const lines = [`# pfsteer anchor "${config.pf.anchor}": ${config.hosts.length} hosts, ${config.buckets.count} buckets`];
  const contents = tableContents(config, tables, owners);
  for (const host of sortedHosts(config)) {
    for (const family of familiesOf(config)) {
      const name = tableName(host.name, family);
      const entries = contents.get(name)!;
      lines.push(entries.length === 0 ? `table <${name}> persist` : `table <${name}> persist { ${entries.map(formatCidr).join(' ')} }`);
    }
  }
  lines.push(...renderRules(config));
  return `${lines.join('\n')}\n`;
}

/** The pf.conf line that hands traffic to pfsteer's anchor. */
export function hookLine(config: Pick<Config, 'pf'>): string {
  return config.pf.dialect === 'freebsd' ? `rdr-anchor "${config.pf.anchor}"` : `anchor "${config.pf.anchor}"`;
}

/** The one-time pf.conf line(s) the operator adds, with where they go. */
export function mainRulesetSnippet(config: Config): string {
  if (config.pf.dialect === 'freebsd') {
    return [
      '# pf.conf, translation section: before any other rdr rule for the same addresses,',
      '# so that pfsteer\'s anchor is evaluated first.',
      hookLine(config),
      '',
    ].join('\n');
  }
  return [
    '# pf.conf, filter section: before the pass rules for the same addresses; pfsteer loads',
    '# `pass in quick ... rdr-to` rules into the anchor below it.',
    hookLine(config),
    '',
  ].join('\n');
}
