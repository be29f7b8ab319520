/**
 * The Linux kernel's `jhash` (Bob Jenkins' lookup3, as include/linux/jhash.h has it) and the
 * bucket nft's `jhash ... mod B seed S` expression derives from it. The nft driver partitions
 * clients per address with this, so `inspect --client` must compute exactly what the kernel does;
 * test/nft/jhash-kernel.test.ts checks it against real packets.
 */
import type { IpAddress } from '../net/address.ts';

const JHASH_INITVAL = 0xdeadbeef;

function rol32(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

interface State {
  a: number;
  b: number;
  c: number;
}

function mix(s: State): void {
  s.a = (s.a - s.c) >>> 0; s.a = (s.a ^ rol32(s.c, 4)) >>> 0; s.c = (s.c + s.b) >>> 0;
  s.b = (s.b - s.a) >>> 0; s.b = (s.b ^ rol32(s.a, 6)) >>> 0; s.a = (s.a + s.c) >>> 0;
  s.c = (s.c - s.b) >>> 0; s.c = (s.c ^ rol32(s.b, 8)) >>> 0; s.b = (s.b + s.a) >>> 0;
  s.a = (s.a - s.c) >>> 0; s.a = (s.a ^ rol32(s.c, 16)) >>> 0; s.c = (s.c + s.b) >>> 0;
  s.b = (s.b - s.a) >>> 0; s.b = (s.b ^ rol32(s.a, 19)) >>> 0; s.a = (s.a + s.c) >>> 0;
  s.c = (s.c - s.b) >>> 0; s.c = (s.c ^ rol32(s.b, 4)) >>> 0; s.b = (s.b + s.a) >>> 0;
}

function final(s: State): void {
  s.c = (s.c ^ s.b) >>> 0; s.c = (s.c - rol32(s.b, 14)) >>> 0;
  s.a = (s.a ^ s.c) >>> 0; s.a = (s.a - rol32(s.c, 11)) >>> 0;
  s.b = (s.b ^ s.a) >>> 0; s.b = (s.b - rol32(s.a, 25)) >>> 0;
  s.c = (s.c ^ s.b) >>> 0; s.c = (s.c - rol32(s.b, 16)) >>> 0;
  s.a = (s.a ^ s.c) >>> 0; s.a = (s.a - rol32(s.c, 4)) >>> 0;
  s.b = (s.b ^ s.a) >>> 0; s.b = (s.b - rol32(s.a, 14)) >>> 0;
  s.c = (s.c ^ s.b) >>> 0; s.c = (s.c - rol32(s.b, 24)) >>> 0;
}

/** Little-endian word at `offset`, zero beyond `end`: the kernel's byte-wise tail. */
function word(key: Uint8Array, offset: number, end: number): number {
  let w = 0;
  for (let i = 3; i >= 0; i--) {
    const at = offset + i;
    w = (w << 8) | (at < end ? key[at]! : 0);
  }
  return w >>> 0;
}

/** Kernel `jhash(key, length, initval)` over arbitrary bytes. */
export function jhash(key: Uint8Array, seed: number): number {
  let length = key.length;
  const s: State = { a: 0, b: 0, c: 0 };
  s.a = s.b = s.c = (JHASH_INITVAL + length + (seed >>> 0)) >>> 0;
  let offset = 0;
  while (length > 12) {
    s.a = (s.a + word(key, offset, key.length)) >>> 0;
    s.b = (s.b + word(key, offset + 4, key.length)) >>> 0;
    s.c = (s.c + word(key, offset + 8, key.length)) >>> 0;
    mix(s);
    length -= 12;
    offset += 12;
  }
  if (length === 0) return s.c;
  const end = offset + length;
  s.a = (s.a + word(key, offset, end)) >>> 0;
  if (length > 4) s.b = (s.b + word(key, offset + 4, end)) >>> 0;
  if (length > 8) s.c = (s.c + word(key, offset + 8, end)) >>> 0;
  final(s);
  return s.c;
}

/**
 * The bucket nft puts `address` in for `jhash ip saddr mod B seed S` (or `ip6 saddr`): the kernel
 * scales the hash into [0, B) with `reciprocal_scale`, a multiply-shift, not a remainder.
 */
export function nftBucketOf(address: IpAddress, buckets: number, seed: number): number {
  const hash = jhash(address.bytes, seed);
  return Number((BigInt(hash) * BigInt(buckets)) >> 32n);
}
