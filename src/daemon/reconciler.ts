/**
 * The reconcile loop: keeps what the filter holds equal to the plan. It loads only buckets
 * that differ, retries failed buckets with backoff (a failed bucket is left as the driver left
 * it: old or new, never half), and re-reads the filter periodically to repair changes made
 * behind its back.
 *
 * A pass never waits for another pass, only for the buckets it shares with one: a bucket whose
 * load is in flight is planned again once that load ends, and every other bucket is handed to
 * the driver at once. (The pf driver still runs its table commands in order, since a move is an
 * add then a delete: a hung pfctl delays the loads queued behind it by at most `pf.timeout`.)
 * Reloads take the loop for themselves (`exclusive`): no pass runs while the driver and config
 * are swapped, and a drift read that overlapped a load ignores that bucket instead of calling
 * the load drift.
 */
import type { Logger } from 'pino';
import type { Config } from '../config/model.ts';
import type { ApplyResult, BucketAssignment, Driver, HookCheck } from '../drivers/driver.ts';
import type { HostState } from '../health/types.ts';
import type { Mapper } from '../mapping/types.ts';
import { sameAssignment } from '../drivers/assignments.ts';
import type { Metrics } from './metrics.ts';
import { plan, summarizeMoves, type Plan } from './plan.ts';

export interface ReconcilerSetup {
  config: Config;
  mapper: Mapper;
  driver: Driver;
}

export interface ReconcilerOptions extends ReconcilerSetup {
  logger: Logger;
  metrics: Metrics;
  states: () => ReadonlyMap<string, HostState>;
  drained: () => ReadonlySet<string>;
}

export interface ApplyRecord {
  at: number;
  loaded: number;
  failed: number;
  moves: string;
  ms: number;
}

/** Whether the filter holds the desired mapping: what `status` shows and scripts wait on. */
export interface SyncState {
  state: 'in-sync' | 'pending' | 'retrying';
  /** When it entered this state (ms since the epoch). */
  since: number;
}

const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 30_000;

export class Reconciler {
  #setup: ReconcilerSetup;
  readonly #options: ReconcilerOptions;
  /** What the filter holds, as last read or successfully loaded. */
  readonly #applied = new Map<number, BucketAssignment>();
  /** Buckets being loaded, each with the promise its load settles. */
  readonly #inflight = new Map<number, Promise<void>>();
  /** Per bucket, the write count when a load of it last began or ended. */
  readonly #touched = new Map<number, number>();
  #writes = 0;
  /** Bumped when the driver is replaced, so a read through the old one is thrown away. */
  #generation = 0;
  readonly #failed = new Set<number>();
  readonly #loads = new Set<Promise<void>>();
  /** Held while a reload swaps the setup: passes asked for meanwhile start after it. */
  #gate: Promise<void> | undefined;
  #followUp: Promise<void> | undefined;
  #coalesceTimer: NodeJS.Timeout | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #driftTimer: NodeJS.Timeout | undefined;
  #retryDelay = RETRY_FIRST_MS;
  #closed = false;
  lastApply: ApplyRecord | undefined;
  lastError: { at: number; message: string } | undefined;
  loads = 0;
  driftRepairs = 0;
  sync: SyncState = { state: 'pending', since: Date.now() };
  /** The last look at the main ruleset's hook; undefined before the first or for drivers without one. */
  hook: HookCheck | undefined;

  constructor(options: ReconcilerOptions) {
    this.#options = options;
    this.#setup = { config: options.config, mapper: options.mapper, driver: options.driver };
  }

  get config(): Config {
    return this.#setup.config;
  }

  get pendingRetries(): number {
    return this.#failed.size;
  }

  /** Owner per bucket as the filter holds it (undefined where unknown). */
  owners(): Array<string | null | undefined> {
    return Array.from({ length: this.#setup.config.buckets.count }, (_, b) => this.#applied.get(b)?.host);
  }

  /** Reads the filter and takes what it holds as the starting point; nothing is flushed. */
  async adopt(): Promise<number> {
    const generation = this.#generation;
    const observed = await this.#setup.driver.observe();
    if (generation !== this.#generation) return this.#applied.size;
    this.#applied.clear();
    for (const bucket of observed) {
      if (bucket.assignment && bucket.problems.length === 0) this.#applied.set(bucket.bucket, bucket.assignment);
    }
    return this.#applied.size;
  }

  /**
   * A new config (reload): the next pass loads only what the new layout changes. With
   * `keepApplied` (the rendering is the same) the record of what the filter holds stays true
   * and is kept; otherwise it is dropped and the caller adopts again.
   */
  replace(setup: ReconcilerSetup, keepApplied: boolean): void {
    this.#setup = setup;
    this.#generation++;
    if (!keepApplied) this.#applied.clear();
    for (const bucket of [...this.#applied.keys()]) if (bucket >= setup.config.buckets.count) this.#applied.delete(bucket);
  }

  /**
   * Runs `task` with the loop to itself: waits for every load in flight, holds back new passes
   * and drift reads until it ends.
   */
  async exclusive<T>(task: () => Promise<T>): Promise<T> {
    while (this.#gate) await this.#gate;
    let open!: () => void;
    this.#gate = new Promise((resolve) => (open = resolve));
    try {
      await Promise.all(this.#loads);
      return await task();
    } finally {
      this.#gate = undefined;
      open();
    }
  }

  /**
   * Re-reads the filter every `intervalMs`, counted from the end of the previous read: a slow
   * filter (thousands of anchors, a loaded pfctl) must not pile reads on top of each other.
   */
  startDrift(intervalMs: number): void {
    clearTimeout(this.#driftTimer);
    const next = (): void => {
      this.#driftTimer = setTimeout(() => {
        void this.repairDrift().finally(() => {
          if (!this.#closed) next();
        });
      }, intervalMs);
      this.#driftTimer.unref();
    };
    next();
  }

  /** Asks for a pass soon; events closer than `coalesce` share one. */
  schedule(): void {
    if (this.#closed || this.#coalesceTimer) return;
    this.#coalesceTimer = setTimeout(() => {
      this.#coalesceTimer = undefined;
      void this.run();
    }, this.#setup.config.daemon.coalesce);
  }

  /**
   * Plans now and loads what differs; resolves once every bucket the plan wanted changed has
   * been loaded or tried, including buckets that first had to wait for a load in flight.
   */
  run(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    if (this.#gate) return this.#gate.then(() => this.run());
    let planned: Plan;
    try {
      planned = this.#plan();
    } catch (error) {
      this.#recordError('plan', error);
      return Promise.resolve();
    }
    if (planned.changes.length === 0 && this.#failed.size === 0 && this.#inflight.size === 0) this.#setSync('in-sync');
    const ready = planned.changes.filter((change) => !this.#inflight.has(change.bucket));
    const busy = [...new Set(planned.changes.filter((change) => this.#inflight.has(change.bucket)).map((change) => this.#inflight.get(change.bucket)!))];
    const loading = ready.length > 0 ? this.#load(ready, planned) : Promise.resolve();
    if (busy.length === 0) return loading;
    return Promise.all([loading, this.#afterBusy(busy)]).then(() => undefined);
  }

  /** Plans again once the loads in the way end; callers they release together share one pass. */
  async #afterBusy(busy: Array<Promise<void>>): Promise<void> {
    await Promise.all(busy);
    this.#followUp ??= Promise.resolve().then(() => {
      this.#followUp = undefined;
      return this.run();
    });
    await this.#followUp;
  }

  #plan(): Plan {
    const { config, mapper } = this.#setup;
    return plan({ config, mapper, states: this.#options.states(), drained: this.#options.drained(), applied: this.#applied });
  }

  #setSync(state: SyncState['state']): void {
    if (this.sync.state !== state) this.sync = { state, since: Date.now() };
  }

  #load(changes: BucketAssignment[], planned: Plan): Promise<void> {
    const load = this.#loadNow(changes, planned).catch((error: unknown) => this.#recordError('apply', error));
    this.#loads.add(load);
    void load.finally(() => this.#loads.delete(load));
    return load;
  }

  async #loadNow(changes: BucketAssignment[], planned: Plan): Promise<void> {
    const { logger, metrics } = this.#options;
    const driver = this.#setup.driver;
    if (this.sync.state === 'in-sync') this.#setSync('pending');
    const started = performance.now();
    const settled = new Map<number, () => void>();
    const write = ++this.#writes;
    for (const change of changes) {
      this.#inflight.set(change.bucket, new Promise<void>((resolve) => settled.set(change.bucket, resolve)));
      this.#touched.set(change.bucket, write);
    }
    let failed = 0;
    const record = (change: BucketAssignment, result: ApplyResult): void => {
      if (result.ok) {
        this.#applied.set(change.bucket, change);
        this.#failed.delete(change.bucket);
        metrics.anchorLoads.inc({ outcome: 'ok' });
      } else {
        failed++;
        // Unknown until a retry succeeds: the next plan includes it again.
        this.#applied.delete(change.bucket);
        this.#failed.add(change.bucket);
        metrics.anchorLoads.inc({ outcome: 'failed' });
        this.#recordError('apply', result.error);
      }
      this.#touched.set(change.bucket, ++this.#writes);
      this.#inflight.delete(change.bucket);
      settled.get(change.bucket)!();
    };
    const fail = (error: unknown): ApplyResult[] => changes.map((c) => ({ bucket: c.bucket, ok: false, error: error instanceof Error ? error : new Error(String(error)) }));
    // One batch: the pf driver turns it into table commands (calls per changed table, not per
    // bucket), nft into one transaction; the whole mapping lets a driver reload all at once.
    const results = await driver.apply(changes, { desired: planned.desired }).catch(fail);
    changes.forEach((change, i) => record(change, results[i] ?? { bucket: change.bucket, ok: false, error: new Error('the driver returned no result') }));
    const ms = performance.now() - started;
    this.loads += changes.length;
    metrics.applyDuration.observe(ms / 1000);
    const loadedBuckets = new Set(changes.map((c) => c.bucket));
    const moves = summarizeMoves(planned.moves.filter((m) => loadedBuckets.has(m.bucket)));
    this.lastApply = { at: Date.now(), loaded: changes.length - failed, failed, moves, ms };
    logger.info({ loaded: changes.length - failed, failed, buckets: changes.map((c) => c.bucket), moves, ms: Math.round(ms), allDown: planned.allDown }, 'applied');
    this.#updateBucketGauge();
    metrics.pendingRetries.set(this.#failed.size);
    this.#setSync(this.#failed.size > 0 ? 'retrying' : this.#inflight.size > 0 ? 'pending' : 'in-sync');
    if (this.#failed.size > 0) this.#retryLater();
    else this.#retryDelay = RETRY_FIRST_MS;
  }

  /** Looks at the main ruleset's hook; says so loudly when it changes to missing. */
  async checkHook(): Promise<void> {
    const check = this.#setup.driver.checkHook;
    if (!check) return;
    let hook: HookCheck;
    try {
      hook = await check.call(this.#setup.driver);
    } catch (error) {
      this.#recordError('hook', error);
      return;
    }
    if (!hook.ok && hook.message !== this.hook?.message) this.#options.logger.error({ hook: hook.message }, `pf.conf hook missing: ${hook.message}`);
    if (hook.ok && this.hook && !this.hook.ok) this.#options.logger.info('pf.conf hook found');
    this.hook = hook;
  }

  #retryLater(): void {
    if (this.#retryTimer || this.#closed) return;
    const delay = this.#retryDelay;
    this.#retryDelay = Math.min(this.#retryDelay * 2, RETRY_MAX_MS);
    this.#options.logger.warn({ retryInMs: delay, pending: this.#failed.size }, 'some buckets failed to load; retrying');
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      void this.run();
    }, delay);
  }

  /**
   * Re-reads the filter; every bucket that differs from what was applied is repaired. A bucket
   * loaded while the read ran is skipped: the read may have caught it before the load.
   */
  async repairDrift(): Promise<number> {
    if (this.#closed || this.#gate) return 0;
    const generation = this.#generation;
    const since = this.#writes;
    let observed;
    const driver = this.#setup.driver;
    try {
      observed = await driver.observe();
    } catch (error) {
      if (generation === this.#generation && !this.#closed) this.#recordError('observe', error);
      return 0;
    }
    if (generation !== this.#generation || this.#gate || this.#closed) return 0;
    await this.checkHook();
    const settled = (bucket: number): boolean => !this.#inflight.has(bucket) && (this.#touched.get(bucket) ?? 0) <= since;
    let drifted = 0;
    const seen = new Set<number>();
    // One line per pass, not per bucket: a flushed anchor drifts every bucket at once.
    const examples: object[] = [];
    for (const bucket of observed) {
      seen.add(bucket.bucket);
      const known = this.#applied.get(bucket.bucket);
      const clean = bucket.problems.length === 0 && bucket.assignment !== undefined;
      if (known && settled(bucket.bucket) && (!clean || !sameAssignment(known, bucket.assignment))) {
        drifted++;
        this.#applied.delete(bucket.bucket);
        if (examples.length < 5) examples.push({ bucket: bucket.bucket, problems: bucket.problems, expected: known.host, found: bucket.assignment?.host });
      }
    }
    for (const bucket of [...this.#applied.keys()]) {
      if (!seen.has(bucket) && settled(bucket)) {
        drifted++;
        this.#applied.delete(bucket);
        if (examples.length < 5) examples.push({ bucket, problems: ['missing from the filter'] });
      }
    }
    if (drifted > 0) {
      this.#options.logger.warn({ drifted, examples }, `drift: ${drifted} bucket(s) changed behind pfsteer; repairing`);
      this.#setSync('pending');
      this.driftRepairs += drifted;
      this.#options.metrics.driftRepairs.inc(drifted);
      await this.run();
    }
    return drifted;
  }

  #updateBucketGauge(): void {
    const counts = new Map<string, number>(this.#setup.config.hosts.map((h) => [h.name, 0]));
    for (const assignment of this.#applied.values()) {
      if (assignment.host !== null) counts.set(assignment.host, (counts.get(assignment.host) ?? 0) + 1);
    }
    for (const [host, count] of counts) this.#options.metrics.bucketsPerHost.set({ host }, count);
  }

  #recordError(operation: string, error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    this.lastError = { at: Date.now(), message };
    this.#options.metrics.driverErrors.inc({ operation });
    this.#options.logger.error({ operation, err: error }, `${operation} failed: ${message}`);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#coalesceTimer);
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#driftTimer);
    await Promise.all(this.#loads);
  }
}
