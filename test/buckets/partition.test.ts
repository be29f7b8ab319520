import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { OUTSIDE_GLOBAL_UNICAST_BUCKET, buildPartition, bucketOf, bucketTables, type PartitionSpec } from '../../src/buckets/partition.ts';
import { containsAddress, formatCidr, parseAddress, type IpAddress } from '../../src/net/address.ts';

const small: PartitionSpec = { count: 16, seed: 7, inetPrefix: 8, inet6Prefix: 11 };
const partition = buildPartition(small);
const tables = bucketTables(partition);

const v4 = fc.uint8Array({ minLength: 4, maxLength: 4 }).map((bytes): IpAddress => ({ family: 4, bytes }));
const v6 = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((bytes): IpAddress => ({ family: 6, bytes }));

function bucketsHolding(address: IpAddress): number[] {
  const holders: number[] = [];
  tables.forEach((table, bucket) => {
    if ((address.family === 4 ? table.inet : table.inet6).some((cidr) => containsAddress(cidr, address))) holders.push(bucket);
  });
  return holders;
}

test('every address is in exactly one bucket table, the one bucketOf names', () => {
  fc.assert(
    fc.property(fc.oneof(v4, v6), (address) => {
      assert.deepEqual(bucketsHolding(address), [bucketOf(partition, address)]);
    }),
    { numRuns: 300 },
  );
});

function readBits(bytes: Uint8Array, skip: number, count: number): number {
  let value = 0;
  for (let bit = skip; bit < skip + count; bit++) value = value * 2 + ((bytes[bit >> 3]! >> (7 - (bit & 7))) & 1);
  return value;
}

test('aggregated tables cover exactly the prefixes the partition gives each bucket', () => {
  const layouts = [
    { family: 4, map: partition.inet, skip: 0, bits: small.inetPrefix },
    { family: 6, map: partition.inet6, skip: 3, bits: small.inet6Prefix - 3 },
  ] as const;
  for (const { family, map, skip, bits } of layouts) {
    const covered = new Array<number>(map.length).fill(-1);
    tables.forEach((table, bucket) => {
      for (const cidr of family === 4 ? table.inet : table.inet6) {
        if (family === 6 && (cidr.address.bytes[0]! & 0xe0) !== 0x20) continue;
        // An aggregated block stands for 2^(skip + bits - prefix) prefixes of the partition.
        const start = readBits(cidr.address.bytes, skip, bits);
        const span = 2 ** (skip + bits - cidr.prefix);
        for (let i = start; i < start + span; i++) {
          assert.equal(covered[i], -1, `prefix ${i} appears twice`);
          covered[i] = bucket;
        }
      }
    });
    assert.deepEqual(covered, [...map], `family ${family}`);
  }
});

test('tables are sorted and deterministic', () => {
  const again = bucketTables(buildPartition(small));
  assert.deepEqual(again.map((t) => t.inet.map(formatCidr)), tables.map((t) => t.inet.map(formatCidr)));
  for (const table of tables) {
    const texts = table.inet.map(formatCidr);
    assert.deepEqual(texts, texts.toSorted((a, b) => parseAddress(a.split('/')[0]!)!.bytes[0]! - parseAddress(b.split('/')[0]!)!.bytes[0]!));
  }
});

test('IPv6 outside 2000::/3 goes to the documented bucket', () => {
  for (const text of ['fe80::1', '::1', 'fd00::1', '4000::', 'ff02::1']) {
    assert.equal(bucketOf(partition, parseAddress(text)!), OUTSIDE_GLOBAL_UNICAST_BUCKET, text);
  }
});

test('the default layout spreads /16s evenly enough over 256 buckets', () => {
  const layout = buildPartition({ count: 256, seed: 0, inetPrefix: 16, inet6Prefix: 19 });
  const counts = new Array<number>(256).fill(0);
  for (const bucket of layout.inet) counts[bucket]! += 1;
  // 65536 prefixes over 256 buckets: 256 each on average, binomial spread of about 16.
  assert.ok(Math.max(...counts) < 256 + 6 * 16 && Math.min(...counts) > 256 - 6 * 16, `${Math.min(...counts)}..${Math.max(...counts)}`);
});
