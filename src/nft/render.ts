/**
 * nft batch text for pfsteer's table. Pure: the driver pipes these to one `nft -f -` each, which
 * the kernel applies as one transaction (all or nothing).
 *
 * Shape: per service, a map `mark -> target` and one rule in the nat prerouting chain
 *   iifname "em0" ip daddr {...} tcp dport {...}
 *     ct mark set jhash ip saddr mod B seed S dnat ip to ct mark map @svc_web
 * The bucket lives in ct mark so conntrack can show and filter it; only map elements change at
 * run time. `type mark` maps are used rather than `typeof jhash ...` ones, whose text listing
 * crashes nft 1.0.6 (and with it the operator's `nft list ruleset`).
 */
import type { BucketAssignment } from '../drivers/driver.ts';
import { formatAddress, formatCidr, sameAddress } from '../net/address.ts';
import type { NftLayout, NftServiceLayout } from './layout.ts';
import { NftLayoutError } from './layout.ts';
import type { MapTarget, NftListing } from './parse.ts';

function familyKeyword(family: 4 | 6): 'ip' | 'ip6' {
  return family === 4 ? 'ip' : 'ip6';
}

export function mapType(service: NftServiceLayout): string {
  const addr = service.family === 4 ? 'ipv4_addr' : 'ipv6_addr';
  return service.withPort ? `mark : ${addr} . inet_service` : `mark : ${addr}`;
}

function anyOf(items: string[]): string {
  return items.length === 1 ? items[0]! : `{ ${items.join(', ')} }`;
}

export function renderRule(layout: NftLayout, service: NftServiceLayout): string {
  const fam = familyKeyword(service.family);
  const dst =
    service.external.kind === 'set'
      ? `@${service.external.set}`
      : anyOf(service.external.addresses.map((c) => (c.prefix === c.address.bytes.length * 8 ? formatAddress(c.address) : formatCidr(c))));
  return [
    `iifname "${service.interface}"`,
    `${fam} daddr ${dst}`,
    `${service.protocol} dport ${anyOf(service.ports.map(String))}`,
    `ct mark set jhash ${fam} saddr mod ${layout.buckets} seed 0x${layout.seed.toString(16).padStart(8, '0')}`,
    `dnat ${fam} to ct mark map @${service.map}`,
  ].join(' ');
}

/**
 * Creates what is missing and rewrites the chain's rules, leaving map elements alone, so a
 * restart moves no client. `stale` names maps whose type no longer fits (B or ports changed):
 * they are recreated empty and the daemon refills them.
 */
export function renderSetup(layout: NftLayout, stale: readonly string[] = []): string {
  const t = `inet ${layout.table}`;
  const lines = [`add table ${t}`];
  for (const s of layout.services) {
    if (s.external.kind === 'set') {
      const type = s.family === 4 ? 'ipv4_addr' : 'ipv6_addr';
      lines.push(`add set ${t} ${s.external.set} { type ${type}; flags interval; }`);
    }
  }
  lines.push(`add chain ${t} ${layout.chain} { type nat hook prerouting priority dstnat; policy accept; }`);
  lines.push(`flush chain ${t} ${layout.chain}`);
  for (const map of stale) lines.push(`delete map ${t} ${map}`);
  for (const s of layout.services) lines.push(`add map ${t} ${s.map} { type ${mapType(s)}; }`);
  for (const s of layout.services) lines.push(`add rule ${t} ${layout.chain} ${renderRule(layout, s)}`);
  return lines.join('\n') + '\n';
}

/** The map value a route renders to, for one service. */
export function targetOf(service: NftServiceLayout, assignment: BucketAssignment): MapTarget | undefined {
  const route = assignment.routes.find((r) => r.service === service.name);
  if (!route) return undefined;
  if (route.address.family !== service.family) {
    throw new NftLayoutError('nft-route-family', `bucket ${assignment.bucket} service ${service.name}: expected an IPv${service.family} target, got ${formatAddress(route.address)}`);
  }
  if (!service.withPort) return { address: route.address };
  return { address: route.address, port: route.port ?? service.ports[0]! };
}

function formatTarget(target: MapTarget): string {
  const addr = formatAddress(target.address);
  return target.port === undefined ? addr : `${addr} . ${target.port}`;
}

export function sameTarget(a: MapTarget, b: MapTarget): boolean {
  return sameAddress(a.address, b.address) && a.port === b.port;
}

/**
 * One batch setting every given bucket in every service map: elements present in `current` are
 * deleted before being added (nft 1.0.6 has no replace), so `current` must be what the kernel
 * holds, or the batch fails as a whole and nothing changes. Empty when nothing differs.
 */
export function renderAssignments(layout: NftLayout, assignments: readonly BucketAssignment[], current: NftListing): string {
  const t = `inet ${layout.table}`;
  const lines: string[] = [];
  for (const s of layout.services) {
    const held = current.maps.get(s.map)?.elements ?? new Map<number, MapTarget>();
    for (const a of assignments) {
      const want = a.host === null ? undefined : targetOf(s, a);
      const have = held.get(a.bucket);
      if (have && want && sameTarget(have, want)) continue;
      if (!have && !want) continue;
      if (have) lines.push(`delete element ${t} ${s.map} { ${a.bucket} }`);
      if (want) lines.push(`add element ${t} ${s.map} { ${a.bucket} : ${formatTarget(want)} }`);
    }
  }
  return lines.length === 0 ? '' : lines.join('\n') + '\n';
}
