/**
 * Scores for (bucket, host) pairs. Both keys come from xxh32; combining them with one murmur3
 * block step and its finalizer costs a few integer operations instead of a wasm call, which is
 * what keeps a 65536 x 64 rebuild within its budget.
 *
 * The block step depends on the bucket alone, so a loop over hosts computes it once per bucket
 * (`bucketPart`) and finishes each pair with `finishPair`; `combine` is the two together.
 */
export function bucketPart(bucketKey: number): number {
  let k = Math.imul(bucketKey, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  return Math.imul(k, 0x1b873593);
}

export function finishPair(part: number, hostKey: number): number {
  let h = hostKey ^ part;
  h = (h << 13) | (h >>> 19);
  h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  h ^= 4;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function combine(bucketKey: number, hostKey: number): number {
  return finishPair(bucketPart(bucketKey), hostKey);
}
