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
const wordBytes = new Uint8Array(4);
const wordView = new DataView(wordBytes.buffer);

export function xxh32Word(word: number, seed: number): number {
  wordView.setUint32(0, word >>> 0, true);
  return xxh32(wordBytes, seed);
}

/** xxh64 of a string's UTF-8 bytes (seed 0) as 16 lowercase hex digits. */
export function xxh64Hex(text: string): string {
  return hasher.h64ToString(text);
}
