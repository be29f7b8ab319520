/**
 * The mapping digest: a short name for the whole effective mapping (every bucket's owner, B, the
 * seed and how client addresses become buckets), so two firewalls of a CARP pair are compared by
 * looking at two strings. Pure.
 *
 * xxh64 over a canonical encoding: equal mappings give equal digests by construction, and two
 * different mappings collide with probability 2^-64 per comparison. A cryptographic hash would
 * only add resistance to someone crafting a collision, and whoever can write both configs needs
 * no collision to make the firewalls differ.
 */
import type { Config } from '../config/model.ts';
import { xxh64Hex } from '../hash/xxh.ts';

/** How client addresses become buckets: pf's prefix tables, or nft's jhash of each address. */
export type PartitionSpec = { kind: 'prefix'; inetPrefix: number; inet6Prefix: number } | { kind: 'jhash' };

export interface EffectiveMapping {
  buckets: number;
  seed: number;
  partition: PartitionSpec;
  /** Per bucket: the owning host, null for an empty bucket (policy fallthrough), undefined where unknown. */
  owners: ReadonlyArray<string | null | undefined>;
}

/** The partition a config's driver uses; nft ignores the prefix lengths, so they are left out. */
export function partitionOf(config: Config): PartitionSpec {
  return config.driver === 'nft' ? { kind: 'jhash' } : { kind: 'prefix', inetPrefix: config.buckets.inetPrefix, inet6Prefix: config.buckets.inet6Prefix };
}

export function effectiveMapping(config: Config, owners: ReadonlyArray<string | null | undefined>): EffectiveMapping {
  return { buckets: config.buckets.count, seed: config.buckets.seed, partition: partitionOf(config), owners };
}

/**
 * 16 hex digits. The encoding is JSON of fixed shape, which is injective: a host name is a
 * quoted string, an empty bucket `null`, an unknown one `0`, a number no host name can be.
 */
export function mappingDigest(mapping: EffectiveMapping): string {
  const p = mapping.partition;
  const partition = p.kind === 'prefix' ? [p.kind, p.inetPrefix, p.inet6Prefix] : [p.kind];
  const owners = Array.from({ length: mapping.buckets }, (_, b) => {
    const owner = mapping.owners[b];
    return owner === undefined ? 0 : owner;
  });
  return xxh64Hex(JSON.stringify(['pfsteer-mapping', 1, mapping.buckets, mapping.seed, partition, owners]));
}

/** The digest of buckets read back from the filter (`inspect`); a bucket not read is unknown. */
export function digestOfBuckets(config: Config, buckets: ReadonlyArray<{ bucket: number; host: string | null | undefined }>): string {
  const owners = new Array<string | null | undefined>(config.buckets.count).fill(undefined);
  for (const b of buckets) owners[b.bucket] = b.host;
  return mappingDigest(effectiveMapping(config, owners));
}
