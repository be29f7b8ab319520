/**
 * pf text for pfsteer's one anchor, byte-deterministic: the same config and owners always give
 * the same bytes, so two firewalls of a CARP pair load identical anchors.
 *
 * The anchor holds, per host and address family in use, one `persist` table of the source
 * prefixes of the buckets that host owns, and per service port a block of rules from each
 * host's table to the host's address (see ruleBlocks for why blocks and gates). In a block a
 * table's rules stand together, hosts in byte order of their names: pf's skip steps then jump
 * over a whole host when its table does not hold the source, so a new connection costs about one
 * table lookup per host, whatever B is. Tables are `persist` so that a host owning nothing (all
 * its buckets moved) keeps its empty table and its rules stay valid.
 *
 * Dialects follow pf.conf(5): FreeBSD `rdr ... -> addr`, loaded under `rdr-anchor "pfsteer"`;
 * OpenBSD `pass in quick ... rdr-to addr`, loaded under `anchor "pfsteer"` (quick: without it a
 * later pass rule for the same traffic would decide, and its lack of rdr-to would undo the
 * steering).
 */
import type { BucketTable } from '../buckets/partition.ts';
import type { Config, Service } from '../config/model.ts';
import { compareCidr, formatAddress, formatCidr, type Cidr, type IpAddress } from '../net/address.ts';

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

/** The single-host form pf prints for a /32 or /128, the prefix form otherwise. */
export function hostText(cidr: Cidr): string {
  return cidr.prefix === cidr.address.bytes.length * 8 ? formatAddress(cidr.address) : formatCidr(cidr);
}

/** Where a rule sends: `10.0.1.11` or `10.0.1.11 port 8443`. */
export function targetText(address: IpAddress, port: number | undefined): string {
  return `${formatAddress(address)}${port === undefined ? '' : ` port ${port}`}`;
}

function externalText(service: Service): string {
  if (service.external.kind === 'table') return `<${service.external.table}>`;
  return list(service.external.addresses.map(hostText));
}

/**
 * The tag no packet carries: a gate rule tests it last, after the port, so the gate never
 * matches. Reserved: a pf.conf that tags packets with it would stop their steering (freebsd) or
 * do nothing (openbsd).
 */
export const GATE_TAG = 'pfsteer-gate';

/** The rules for one destination port of one interface, family and protocol. */
export interface RuleBlock {
  interface: string;
  family: PfFamily;
  protocol: string;
  port: number;
  /** The services with this port, in the order their rules stand in each host's group. */
  services: Service[];
}

const byText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The anchor's rules come in blocks, one per (interface, family, protocol, destination port),
 * each opened by a gate. pf tests source and destination addresses before ports, so without the
 * gate a packet for another port would pay a source-table lookup per host in every block. The
 * gate has no addresses to look up: a packet for another port fails its port test and the
 * DST_PORT skip step jumps over the whole block; a packet for this port fails its tag test and
 * goes on into the block, where each host whose table does not hold the source costs one lookup
 * and the owner two (source, then destination). So a new connection costs at most N + 1 lookups
 * for one service, whatever B is and however many ports the service has.
 *
 * Blocks are ordered by interface, family, protocol, then port, so a packet on another interface
 * or family skips runs of blocks at once; in a block, hosts by name, then services by
 * destination and name.
 */
export function ruleBlocks(config: Pick<Config, 'services'>): RuleBlock[] {
  const blocks = new Map<string, RuleBlock>();
  const families = familiesOf(config);
  const serviceKey = (s: Service): string => `${externalText(s)}\u0000${s.name}`;
  for (const service of [...config.services].sort((a, b) => byText(serviceKey(a), serviceKey(b)))) {
    for (const port of service.ports) {
      const key = `${service.interface}\u0000${service.family}\u0000${service.protocol}\u0000${port}`;
      const block = blocks.get(key);
      if (block) block.services.push(service);
      else blocks.set(key, { interface: service.interface, family: service.family, protocol: service.protocol, port, services: [service] });
    }
  }
  return [...blocks.values()].sort(
    (a, b) => byText(a.interface, b.interface) || families.indexOf(a.family) - families.indexOf(b.family) || byText(a.protocol, b.protocol) || a.port - b.port,
  );
}

/** What a rule of the block matches, after its action word: `on em0 inet proto tcp from S to D port P`. */
function blockMatch(block: RuleBlock, from: string, to: string): string {
  return `on ${block.interface} ${block.family} proto ${block.protocol} from ${from} to ${to} port ${block.port}`;
}

/** The gate that opens a block; see ruleBlocks. */
export function gateRule(config: Pick<Config, 'pf'>, block: RuleBlock): string {
  const match = `${blockMatch(block, 'any', 'any')} tagged ${GATE_TAG}`;
  return config.pf.dialect === 'freebsd' ? `no rdr ${match}` : `match in ${match}`;
}

/** The anchor's rules, which depend on the config only: health moves prefixes between tables. */
function renderRules(config: Config): string[] {
  const lines: string[] = [];
  const hosts = sortedHosts(config);
  for (const block of ruleBlocks(config)) {
    lines.push(gateRule(config, block));
    for (const host of hosts) {
      for (const service of block.services) {
        const target = host.targets[service.name]!;
        const to = targetText(target.address, target.port);
        const match = blockMatch(block, `<${tableName(host.name, block.family)}>`, externalText(service));
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
