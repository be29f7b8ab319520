/**
 * What the nft driver renders from, derived once from the config: the table, the partition
 * (B, seed) and per service the map its buckets live in. Pure.
 */
import type { Config, ExternalAddresses, Protocol } from '../config/model.ts';
import type { Cidr } from '../net/address.ts';
import { PfsteerError } from '../errors.ts';

export interface NftServiceLayout {
  name: string;
  /** nft map holding bucket -> target for this service. */
  map: string;
  family: 4 | 6;
  protocol: Protocol;
  interface: string;
  external: { kind: 'set'; set: string } | { kind: 'addresses'; addresses: Cidr[] };
  ports: number[];
  /** Whether map values carry a port (`addr . port`): true when any host gives one. */
  withPort: boolean;
}

export interface NftLayout {
  table: string;
  chain: string;
  buckets: number;
  seed: number;
  services: NftServiceLayout[];
}

export class NftLayoutError extends PfsteerError {}

/**
 * nft identifiers take letters, digits, `_`, `.` and `/` only, so `-` is escaped; `_` is doubled
 * first so that `a-b` and `a_b` never meet in one name.
 */
export function nftIdentifier(prefix: string, name: string): string {
  return `${prefix}_${name.replaceAll('_', '__').replaceAll('-', '_h')}`;
}

function externalOf(external: ExternalAddresses): NftServiceLayout['external'] {
  if (external.kind === 'table') return { kind: 'set', set: nftIdentifier('ext', external.table) };
  return { kind: 'addresses', addresses: external.addresses };
}

export function nftLayoutOf(config: Config): NftLayout {
  const services = [...config.services]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((service): NftServiceLayout => {
      const targets = config.hosts.flatMap((h) => (h.targets[service.name] ? [h.targets[service.name]!] : []));
      const withPort = targets.some((t) => t.port !== undefined);
      if (withPort && service.ports.length !== 1 && targets.some((t) => t.port === undefined)) {
        throw new NftLayoutError(
          'nft-mixed-ports',
          `service ${service.name}: expected every host to give a port when any does and the service has ${service.ports.length} ports, got some without`,
        );
      }
      return {
        name: service.name,
        map: nftIdentifier('svc', service.name),
        family: service.family === 'inet' ? 4 : 6,
        protocol: service.protocol,
        interface: service.interface,
        external: externalOf(service.external),
        ports: [...service.ports].sort((a, b) => a - b),
        withPort,
      };
    });
  return { table: config.nft.table, chain: 'steer', buckets: config.buckets.count, seed: config.buckets.seed, services };
}
