/**
 * Turns what nft holds back into bucket assignments, naming every difference from what this
 * layout renders. Pure.
 */
import type { Host } from '../config/model.ts';
import type { BucketAssignment, ObservedBucket, ServiceRoute } from '../drivers/driver.ts';
import { formatAddress, sameAddress } from '../net/address.ts';
import type { NftLayout, NftServiceLayout } from './layout.ts';
import { mapType } from './render.ts';
import type { MapTarget, NftListing } from './parse.ts';

/** Problems of the table as a whole (rules, map types): they concern every bucket. */
export function layoutProblems(layout: NftLayout, listing: NftListing): string[] {
  if (!listing.tableFound) return [`table inet ${layout.table} missing`];
  const problems: string[] = [];
  if (!listing.chainFound) problems.push(`chain ${layout.chain} missing`);
  for (const s of layout.services) {
    const map = listing.maps.get(s.map);
    if (!map) problems.push(`map ${s.map} missing`);
    else if (map.type !== mapType(s)) problems.push(`map ${s.map} type "${map.type}", expected "${mapType(s)}"`);
    const rules = listing.rules.filter((r) => r.map === s.map);
    if (rules.length === 0) problems.push(`rule for service ${s.name} missing`);
    for (const r of rules) {
      if (r.mod !== layout.buckets) problems.push(`rule for service ${s.name} hashes mod ${r.mod}, expected ${layout.buckets}`);
      if (r.seed !== layout.seed) problems.push(`rule for service ${s.name} seed ${r.seed ?? 'random'}, expected ${layout.seed}`);
      if (r.family !== s.family) problems.push(`rule for service ${s.name} hashes IPv${r.family ?? '?'} sources, expected IPv${s.family}`);
    }
    if (rules.length > 1) problems.push(`rule for service ${s.name} present ${rules.length} times`);
  }
  const known = new Set(layout.services.map((s) => s.map));
  for (const name of listing.maps.keys()) if (!known.has(name)) problems.push(`map ${name} not in config`);
  return problems;
}

function targetMatches(service: NftServiceLayout, host: Host, target: MapTarget): boolean {
  const t = host.targets[service.name];
  if (!t || !sameAddress(t.address, target.address)) return false;
  if (!service.withPort) return true;
  return (t.port ?? service.ports[0]) === target.port;
}

function describe(target: MapTarget): string {
  return target.port === undefined ? formatAddress(target.address) : `${formatAddress(target.address)} port ${target.port}`;
}

function decodeBucket(layout: NftLayout, listing: NftListing, hosts: readonly Host[], bucket: number, shared: string[]): ObservedBucket {
  const problems = [...shared];
  const held = layout.services.map((s) => ({ service: s, target: listing.maps.get(s.map)?.elements.get(bucket) }));
  if (held.every((h) => h.target === undefined)) {
    return { bucket, assignment: { bucket, host: null, routes: [] }, problems };
  }
  const names = new Set<string>();
  const routes: ServiceRoute[] = [];
  for (const { service, target } of held) {
    if (!target) {
      problems.push(`service ${service.name}: no target`);
      continue;
    }
    routes.push({ service: service.name, address: target.address, ...(target.port === undefined ? {} : { port: target.port }) });
    const owners = hosts.filter((h) => targetMatches(service, h, target)).map((h) => h.name);
    if (owners.length === 0) problems.push(`service ${service.name}: target ${describe(target)} is no configured host's`);
    for (const o of owners) names.add(o);
  }
  const candidates = [...names].filter((n) => {
    const host = hosts.find((h) => h.name === n)!;
    return held.every(({ service, target }) => target === undefined || targetMatches(service, host, target));
  });
  if (names.size > 0 && candidates.length === 0) problems.push(`services point at different hosts: ${[...names].sort().join(', ')}`);
  if (candidates.length !== 1) return { bucket, problems };
  const assignment: BucketAssignment = { bucket, host: candidates[0]!, routes };
  return { bucket, assignment, problems };
}

export function decodeBuckets(layout: NftLayout, listing: NftListing, hosts: readonly Host[]): ObservedBucket[] {
  const shared = layoutProblems(layout, listing);
  for (const s of layout.services) {
    for (const b of listing.maps.get(s.map)?.elements.keys() ?? []) {
      if (b >= layout.buckets) shared.push(`map ${s.map} holds bucket ${b}, beyond ${layout.buckets}`);
    }
  }
  const out: ObservedBucket[] = [];
  for (let b = 0; b < layout.buckets; b++) out.push(decodeBucket(layout, listing, hosts, b, shared));
  return out;
}
