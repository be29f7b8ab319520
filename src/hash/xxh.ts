/**
 * The one xxhash instance. xxhash-wasm compiles asynchronously, so it is created once here by
 * top-level await and every hashing function elsewhere stays synchronous and pure.
 */
import xxhash from 'xxhash-wasm';

const hasher = await xxhash();
const encoder = new TextEncoder();

/** xxh32 of raw bytes with a 32-bit seed, as an unsigned integer. */
export function xxh32(bytes: Uint8Array, seed: number): number {
  return hasher.h32Raw(bytes, seed >>> 0) >>> 0;
}

/** xxh32 of a string's UTF-8 bytes. */
export function xxh32String(text: string, seed: number): number {
  return xxh32(encoder.encode(text), seed);
}

/** xxh32 of one unsigned 32-bit integer, little-endian. */
export function xxh32Word(word: number, seed: number): number {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, word >>> 0, true);
  return xxh32(bytes, seed);
}
