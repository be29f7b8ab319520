/**
 * The static source partition: every IPv4 /p prefix and every IPv6 /p6 prefix inside 2000::/3
 * belongs to bucket `xxh32(network address bytes, seed) mod B`. It depends only on the config,
 * so both firewalls of a pair compute the same one and pf's tables never change at run time.
 *
 * IPv6 outside 2000::/3 (ULA, link-local, mapped, ...) is not globally routed client space; it
 * all belongs to bucket 0 so that every address has exactly one bucket.
 */
import { type Cidr, type IpAddress } from '../net/address.ts';
import { xxh32 } from '../hash/xxh.ts';

export interface PartitionSpec {
  /** B, a power of two. */
  count: number;
  seed: number;
  inetPrefix: number;
  inet6Prefix: number;
}

/** The bucket of IPv6 addresses outside 2000::/3. */
export const OUTSIDE_GLOBAL_UNICAST_BUCKET = 0;

/** The bucket of each prefix, indexed by the prefix's leading bits. */
export interface Partition {
  readonly spec: PartitionSpec;
  /** Bucket per IPv4 /inetPrefix, index = the address's top inetPrefix bits. */
  readonly inet: Uint16Array;
  /** Bucket per IPv6 /inet6Prefix inside 2000::/3, index = bits 3 .. inet6Prefix-1. */
  readonly inet6: Uint16Array;
}

export function buildPartition(spec: PartitionSpec): Partition {
  const mask = spec.count - 1;
  const inet = new Uint16Array(2 ** spec.inetPrefix);
  const v4 = new Uint8Array(4);
  for (let index = 0; index < inet.length; index++) {
    writeLeadingBits(v4, 0, spec.inetPrefix, index);
    inet[index] = xxh32(v4, spec.seed) & mask;
  }
  const inet6 = new Uint16Array(2 ** (spec.inet6Prefix - 3));
  const v6 = new Uint8Array(16);
  for (let index = 0; index < inet6.length; index++) {
    v6.fill(0);
    writeLeadingBits(v6, 3, spec.inet6Prefix, index);
    v6[0]! |= 0x20;
    inet6[index] = xxh32(v6, spec.seed) & mask;
  }
  return { spec, inet, inet6 };
}

/** Writes `index` into bits [from, to) of `bytes` (big-endian bit order), clearing the rest. */
function writeLeadingBits(bytes: Uint8Array, from: number, to: number, index: number): void {
  if (from === 0) bytes.fill(0);
  for (let bit = to - 1, value = index; bit >= from; bit--, value = Math.floor(value / 2)) {
    if (value % 2 === 1) bytes[bit >> 3]! |= 0x80 >> (bit & 7);
  }
}

/** The leading `count` bits after skipping `skip`, as an integer (count <= 32). */
function readBits(bytes: Uint8Array, skip: number, count: number): number {
  let value = 0;
  for (let bit = skip; bit < skip + count; bit++) {
    value = value * 2 + ((bytes[bit >> 3]! >> (7 - (bit & 7))) & 1);
  }
  return value;
}

export function bucketOf(partition: Partition, address: IpAddress): number {
  const { spec } = partition;
  if (address.family === 4) return partition.inet[readBits(address.bytes, 0, spec.inetPrefix)]!;
  if ((address.bytes[0]! & 0xe0) !== 0x20) return OUTSIDE_GLOBAL_UNICAST_BUCKET;
  return partition.inet6[readBits(address.bytes, 3, spec.inet6Prefix - 3)]!;
}

/** One bucket's pf table contents. */
export interface BucketTable {
  inet: Cidr[];
  inet6: Cidr[];
}

/**
 * Per bucket, its prefixes with sibling pairs of the same bucket merged, sorted by address:
 * deterministic, and exactly the set of prefixes the partition gives the bucket.
 */
export function bucketTables(partition: Partition): BucketTable[] {
  const { spec } = partition;
  const tables: BucketTable[] = Array.from({ length: spec.count }, () => ({ inet: [], inet6: [] }));
  const byBucket = (map: Uint16Array): number[][] => {
    const lists: number[][] = Array.from({ length: spec.count }, () => []);
    for (let index = 0; index < map.length; index++) lists[map[index]!]!.push(index);
    return lists;
  };
  const inetLists = byBucket(partition.inet);
  const inet6Lists = byBucket(partition.inet6);
  for (let bucket = 0; bucket < spec.count; bucket++) {
    const table = tables[bucket]!;
    for (const [index, bits] of aggregate(inetLists[bucket]!, spec.inetPrefix)) {
      table.inet.push(cidrOf(4, 0, bits, index));
    }
    for (const [index, bits] of aggregate(inet6Lists[bucket]!, spec.inet6Prefix - 3)) {
      table.inet6.push(cidrOf(6, 3, bits + 3, index));
    }
  }
  tables[OUTSIDE_GLOBAL_UNICAST_BUCKET]!.inet6.push(...OUTSIDE_GLOBAL_UNICAST);
  tables[OUTSIDE_GLOBAL_UNICAST_BUCKET]!.inet6.sort(compareByAddress);
  return tables;
}

/** The complement of 2000::/3: ::/3, 4000::/2, 8000::/1. */
const OUTSIDE_GLOBAL_UNICAST: Cidr[] = [
  { address: { family: 6, bytes: new Uint8Array(16) }, prefix: 3 },
  { address: { family: 6, bytes: Uint8Array.of(0x40, ...new Array<number>(15).fill(0)) }, prefix: 2 },
  { address: { family: 6, bytes: Uint8Array.of(0x80, ...new Array<number>(15).fill(0)) }, prefix: 1 },
];

function compareByAddress(a: Cidr, b: Cidr): number {
  for (let i = 0; i < a.address.bytes.length; i++) {
    const d = a.address.bytes[i]! - b.address.bytes[i]!;
    if (d !== 0) return d;
  }
  return a.prefix - b.prefix;
}

/**
 * Sorted prefix indices of `bits` bits -> maximal aligned blocks as [index, bits] in address
 * order. A block of 2^k siblings all present becomes one shorter prefix.
 */
function aggregate(indices: number[], bits: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  // A stack of pending blocks; merging happens when the top two are buddies of equal size.
  const stack: Array<[number, number]> = [];
  for (const index of indices) {
    stack.push([index, bits]);
    for (;;) {
      const top = stack[stack.length - 1]!;
      const below = stack[stack.length - 2];
      if (!below || below[1] !== top[1] || top[1] === 0) break;
      if (below[0] % 2 !== 0 || below[0] + 1 !== top[0]) break;
      stack.splice(stack.length - 2, 2, [below[0] / 2, below[1] - 1]);
    }
  }
  out.push(...stack);
  return out;
}

function cidrOf(family: 4 | 6, skip: number, prefix: number, index: number): Cidr {
  const bytes = new Uint8Array(family === 4 ? 4 : 16);
  writeLeadingBits(bytes, skip, prefix, index);
  if (family === 6) bytes[0]! |= 0x20;
  return { address: { family, bytes }, prefix };
}
