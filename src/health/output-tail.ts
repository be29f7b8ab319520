/**
 * The last `limit` bytes of a stream, in a ring of at most `limit` bytes: each byte is copied
 * once however much is written, where re-joining the kept tail with every chunk copied the whole
 * tail per chunk (a 100 MB flood with a 1 MB limit cost seconds of CPU).
 */
export class OutputTail {
  readonly #limit: number;
  /** Grows by doubling up to `limit`, so a quiet program costs a few bytes, not `limit`. */
  #ring = Buffer.alloc(0);
  /** Bytes held; below `limit` they lie at the ring's start, in order. */
  #size = 0;
  /** Where the next byte goes; once the ring is full, also where the oldest byte is. */
  #head = 0;

  constructor(limit: number) {
    this.#limit = limit;
  }

  push(chunk: Uint8Array): void {
    const limit = this.#limit;
    if (limit === 0 || chunk.length === 0) return;
    if (chunk.length >= limit) {
      this.#grow(limit);
      this.#ring.set(chunk.subarray(chunk.length - limit));
      this.#size = limit;
      this.#head = 0;
      return;
    }
    if (this.#size + chunk.length > this.#ring.length) this.#grow(Math.min(limit, Math.max(2 * this.#ring.length, this.#size + chunk.length, 256)));
    const ring = this.#ring;
    const first = Math.min(chunk.length, ring.length - this.#head);
    ring.set(chunk.subarray(0, first), this.#head);
    ring.set(chunk.subarray(first), 0);
    this.#head = (this.#head + chunk.length) % ring.length;
    this.#size = Math.min(limit, this.#size + chunk.length);
  }

  bytes(): Buffer {
    if (this.#size < this.#limit) return this.#ring.subarray(0, this.#size);
    return Buffer.concat([this.#ring.subarray(this.#head), this.#ring.subarray(0, this.#head)]);
  }

  text(): string {
    return this.bytes().toString('utf8').trim();
  }

  /** Only while not yet full, when the bytes lie in order at the start. */
  #grow(capacity: number): void {
    if (capacity <= this.#ring.length) return;
    const bigger = Buffer.alloc(capacity);
    this.#ring.copy(bigger, 0, 0, this.#size);
    this.#ring = bigger;
  }
}
