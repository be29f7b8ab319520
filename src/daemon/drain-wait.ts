/**
 * `drain --wait` kept by the daemon itself: once a host is drained (by the config or at run
 * time) and its buckets moved, its filter states are counted every `pollMs` until none is left
 * or `timeoutMs` after the drain began, so `status` shows how far every drain got, including the
 * config's, which no terminal waits for.
 */
export type WaitOutcome = 'waiting' | 'empty' | 'timed-out';

export interface DrainWait {
  outcome: WaitOutcome;
  /** Epoch milliseconds after which the wait gives up, as `drain --wait --timeout` does. */
  deadline: number;
  /** States left at the last count, and when it was made; absent before the first count. */
  states?: number;
  checkedAt?: number;
  /** The last count failed with this. */
  error?: string;
}

export interface DrainWaitOptions {
  /** Counts the filter's states to the host. */
  count(host: string): Promise<number>;
  pollMs: number;
  timeoutMs: number;
  now?: () => number;
}

interface Entry {
  wait: DrainWait;
  timer?: NodeJS.Timeout;
}

export class DrainWaits {
  readonly #options: DrainWaitOptions;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();
  #closed = false;

  constructor(options: DrainWaitOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** Starts waiting for `host`, drained since `since`; a wait already running goes on. */
  start(host: string, since: number): void {
    if (this.#closed || this.#entries.has(host)) return;
    const entry: Entry = { wait: { outcome: 'waiting', deadline: since + this.#options.timeoutMs } };
    this.#entries.set(host, entry);
    void this.#poll(host, entry);
  }

  stop(host: string): void {
    clearTimeout(this.#entries.get(host)?.timer);
    this.#entries.delete(host);
  }

  get(host: string): DrainWait | undefined {
    const wait = this.#entries.get(host)?.wait;
    return wait && { ...wait };
  }

  /** A count made elsewhere (`drain --wait` asking the daemon) is as good as the wait's own. */
  record(host: string, states: number): void {
    const entry = this.#entries.get(host);
    if (entry) this.#settle(host, entry, states);
  }

  close(): void {
    this.#closed = true;
    for (const host of [...this.#entries.keys()]) this.stop(host);
  }

  async #poll(host: string, entry: Entry): Promise<void> {
    entry.timer = undefined;
    try {
      const states = await this.#options.count(host);
      if (this.#entries.get(host) === entry) this.#settle(host, entry, states);
    } catch (error) {
      if (this.#entries.get(host) !== entry) return;
      entry.wait.error = error instanceof Error ? error.message : String(error);
      entry.wait.checkedAt = this.#now();
      this.#next(host, entry);
    }
  }

  #settle(host: string, entry: Entry, states: number): void {
    const wait = entry.wait;
    wait.states = states;
    wait.checkedAt = this.#now();
    delete wait.error;
    if (states === 0) {
      wait.outcome = 'empty';
      clearTimeout(entry.timer);
      entry.timer = undefined;
      return;
    }
    this.#next(host, entry);
  }

  /** Counts again after `pollMs`, unless the deadline passed: then the wait has timed out. */
  #next(host: string, entry: Entry): void {
    const left = entry.wait.deadline - this.#now();
    if (left <= 0) {
      entry.wait.outcome = 'timed-out';
      clearTimeout(entry.timer);
      entry.timer = undefined;
      return;
    }
    entry.wait.outcome = 'waiting';
    if (entry.timer || this.#closed) return;
    entry.timer = setTimeout(() => void this.#poll(host, entry), Math.min(this.#options.pollMs, left));
    entry.timer.unref();
  }
}

/** How often the daemon counts a drained host's states, and when it gives up (`drain --wait`'s default). */
export const DRAIN_POLL_MS = 5000;
export const DRAIN_TIMEOUT_MS = 600_000;
