import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { jhash, nftBucketOf } from '../../src/nft/jhash.ts';
import { parseAddress } from '../../src/net/address.ts';

test('buckets the Debian 12 kernel (6.x) gave these sources under jhash mod 256 seed 0x1234', () => {
  // Read from conntrack marks in a namespace; jhash-kernel.test.ts repeats this for 1800 sources.
  const seen: [string, number][] = [
    ['10.1.0.0', 10], ['10.1.0.1', 17], ['10.1.0.3', 147], ['10.1.0.4', 219],
    ['2001:db8:1::', 40], ['2001:db8:1::1', 128], ['2001:db8:1::2', 141], ['2001:db8:1::3', 115], ['2001:db8:1::4', 232],
  ];
  for (const [src, bucket] of seen) assert.equal(nftBucketOf(parseAddress(src)!, 256, 0x1234), bucket, src);
});

const address = fc.oneof(
  fc.uint8Array({ minLength: 4, maxLength: 4 }).map((bytes) => ({ family: 4 as const, bytes })),
  fc.uint8Array({ minLength: 16, maxLength: 16 }).map((bytes) => ({ family: 6 as const, bytes })),
);
const seed = fc.integer({ min: 0, max: 0xffff_ffff });

test('halving B halves the bucket: the kernel scales by multiply-shift, not remainder', () => {
  fc.assert(
    fc.property(address, seed, fc.integer({ min: 5, max: 12 }), (a, s, bits) => {
      const b = nftBucketOf(a, 2 ** bits, s);
      assert.ok(b >= 0 && b < 2 ** bits);
      assert.equal(nftBucketOf(a, 2 ** (bits - 1), s), b >> 1);
    }),
  );
});

test('jhash is a 32-bit value that depends on every byte and on the seed', () => {
  fc.assert(
    fc.property(address, seed, fc.nat(), (a, s, at) => {
      const h = jhash(a.bytes, s);
      assert.ok(Number.isInteger(h) && h >= 0 && h <= 0xffff_ffff);
      const flipped = Uint8Array.from(a.bytes);
      flipped[at % flipped.length]! ^= 1;
      assert.notEqual(jhash(flipped, s), h);
      assert.notEqual(jhash(a.bytes, (s ^ 1) >>> 0), h);
    }),
  );
});

test('sequential IPv4 sources spread evenly over 16 buckets', () => {
  const counts = new Array<number>(16).fill(0);
  for (let i = 0; i < 16384; i++) {
    counts[nftBucketOf({ family: 4, bytes: new Uint8Array([10, 200, i >> 8, i & 255]) }, 16, 0)]!++;
  }
  assert.ok(Math.max(...counts) / Math.min(...counts) < 1.15, counts.join(','));
});
