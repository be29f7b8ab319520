/**
 * The reconcile loop: keeps what the filter holds equal to the plan. It loads only buckets
 * that differ, coalesces bursts of events into one pass, retries failed buckets with backoff
 * (a failed bucket is left as the driver left it: old or new, never half), and re-reads the
 * filter periodically to repair changes made behind its back.
 */
import type { Logger } from 'pino';
import type { Config } from '../config/model.ts';
import type { BucketAssignment, Driver, HookCheck } from '../drivers/driver.ts';
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
  #coalesceTimer: NodeJS.Timeout | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #driftTimer: NodeJS.Timeout | undefined;
  #retryDelay = RETRY_FIRST_MS;
  #pendingRetries = 0;
  #running: Promise<void> | undefined;
  #again = false;
  #waiters: Array<() => void> = [];
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
    return this.#pendingRetries;
  }

  /** Owner per bucket as the filter holds it (undefined where unknown). */
  owners(): Array<string | null | undefined> {
    return Array.from({ length: this.#setup.config.buckets.count }, (_, b) => this.#applied.get(b)?.host);
  }

  /** Reads the filter and takes what it holds as the starting point; nothing is flushed. */
  async adopt(): Promise<number> {
    const observed = await this.#setup.driver.observe();
    this.#applied.clear();
    for (const bucket of observed) {
      if (bucket.assignment && bucket.problems.length === 0) this.#applied.set(bucket.bucket, bucket.assignment);
    }
    return this.#applied.size;
  }

  /** A new config (reload): the next pass loads only what the new layout changes. */
  replace(setup: ReconcilerSetup): void {
    const driverChanged = setup.driver !== this.#setup.driver;
    this.#setup = setup;
    if (driverChanged) this.#applied.clear();
  }

  /**
   * Re-reads the filter every `intervalMs`, counted from the end of the previous pass: a slow
   * filter (thousands of anchors, a loaded pfctl) must not pile passes on top of each other.
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

  /** Runs a pass now, or right after the running one; resolves when a pass begun after the call ends. */
  run(): Promise<void> {
    const done = new Promise<void>((resolve) => this.#waiters.push(resolve));
    if (this.#running) {
      this.#again = true;
      return done;
    }
    this.#running = this.#loop().finally(() => {
      this.#running = undefined;
    });
    return done;
  }

  async #loop(): Promise<void> {
    do {
      this.#again = false;
      const waiters = this.#waiters.splice(0);
      try {
        await this.#pass();
      } catch (error) {
        this.#recordError('plan', error);
      }
      for (const resolve of waiters) resolve();
    } while (this.#again && !this.#closed);
  }

  #plan(): Plan {
    const { config, mapper } = this.#setup;
    return plan({ config, mapper, states: this.#options.states(), drained: this.#options.drained(), applied: this.#applied });
  }

  #setSync(state: SyncState['state']): void {
    if (this.sync.state !== state) this.sync = { state, since: Date.now() };
  }

  async #pass(): Promise<void> {
    if (this.#closed) return;
    const { logger, metrics } = this.#options;
    const planned = this.#plan();
    if (planned.changes.length === 0) {
      if (this.#pendingRetries === 0) this.#setSync('in-sync');
      return;
    }
    if (this.sync.state === 'in-sync') this.#setSync('pending');
    const started = performance.now();
    const results = await this.#setup.driver.apply(planned.changes, { desired: planned.desired });
    let failed = 0;
    results.forEach((result, i) => {
      const change = planned.changes[i]!;
      if (result.ok) {
        this.#applied.set(change.bucket, change);
        metrics.anchorLoads.inc({ outcome: 'ok' });
      } else {
        failed++;
        // Unknown until a retry succeeds: the next plan includes it again.
        this.#applied.delete(change.bucket);
        metrics.anchorLoads.inc({ outcome: 'failed' });
        this.#recordError('apply', result.error);
      }
    });
    const ms = performance.now() - started;
    this.loads += results.length;
    metrics.applyDuration.observe(ms / 1000);
    const moves = summarizeMoves(planned.moves);
    this.lastApply = { at: Date.now(), loaded: results.length - failed, failed, moves, ms };
    logger.info({ loaded: results.length - failed, failed, buckets: planned.changes.map((c) => c.bucket), moves, ms: Math.round(ms), allDown: planned.allDown }, 'applied');
    this.#updateBucketGauge();
    this.#pendingRetries = failed;
    metrics.pendingRetries.set(failed);
    this.#setSync(failed > 0 ? 'retrying' : 'in-sync');
    if (failed > 0) this.#retryLater();
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
    this.#options.logger.warn({ retryInMs: delay, pending: this.#pendingRetries }, 'some buckets failed to load; retrying');
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      void this.run();
    }, delay);
  }

  /** Re-reads the filter; every bucket that differs from what was applied is repaired. */
  async repairDrift(): Promise<number> {
    if (this.#closed) return 0;
    let observed;
    const driver = this.#setup.driver;
    try {
      observed = await driver.observe();
    } catch (error) {
      // A reload replaced (and closed) the driver meanwhile: its reading, or its cancellation, is stale.
      if (driver === this.#setup.driver) this.#recordError('observe', error);
      return 0;
    }
    if (driver !== this.#setup.driver) return 0;
    await this.checkHook();
    let drifted = 0;
    const seen = new Set<number>();
    // One line per pass, not per bucket: a flushed anchor drifts every bucket at once.
    const examples: object[] = [];
    for (const bucket of observed) {
      seen.add(bucket.bucket);
      const known = this.#applied.get(bucket.bucket);
      const clean = bucket.problems.length === 0 && bucket.assignment !== undefined;
      if (known && (!clean || !sameAssignment(known, bucket.assignment))) {
        drifted++;
        this.#applied.delete(bucket.bucket);
        if (examples.length < 5) examples.push({ bucket: bucket.bucket, problems: bucket.problems, expected: known.host, found: bucket.assignment?.host });
      }
    }
    for (const bucket of [...this.#applied.keys()]) {
      if (!seen.has(bucket)) {
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
    await this.#running;
  }
}
