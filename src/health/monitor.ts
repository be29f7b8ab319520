/**
 * The health engine: every check on its own timer (start to start, with jitter; `fastinter`
 * while a check is changing state, `downinter` while down), never overlapping itself, with its
 * verdict at the deadline. Host verdicts become transitions; on_up/on_down run per host in
 * event order, bounded, and never hold up a check.
 */
import type { Logger } from 'pino';
import type { Check, CommandSpec, Host } from '../config/model.ts';
import { INITIAL, hostState, step, type RiseFall } from './rise-fall.ts';
import { checkSession, type CheckSession } from './run-check.ts';
import { runCommand } from './run-command.ts';
import type { CheckResult, HealthEngine, HostState, HostStatus, HostTransition } from './types.ts';

export interface HealthObserver {
  result?(host: string, check: string, result: CheckResult): void;
  /** A check run began; both times on the monotonic clock, so `actual - intended` is the timer's lateness. */
  started?(host: string, check: string, intended: number, actual: number): void;
  hookFailed?(host: string): void;
}

interface RunnerEvents {
  started(runner: CheckRunner, intended: number, actual: number): void;
  result(runner: CheckRunner, result: CheckResult): void;
}

class CheckRunner {
  readonly check: Check;
  riseFall: RiseFall = INITIAL;
  last: CheckResult | undefined;
  readonly #controller = new AbortController();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  readonly #events: RunnerEvents;
  readonly #session: CheckSession;

  constructor(check: Check, events: RunnerEvents) {
    this.check = check;
    this.#events = events;
    this.#session = checkSession(check);
  }

  /**
   * The first run waits a random part of one interval: a thousand checks started together
   * would otherwise fire in the same instant and stay bunched (haproxy spreads its first checks
   * for the same reason). The first verdict still comes within interval + timeout, inside the
   * daemon's start-up bound of rise x interval + timeout.
   */
  start(): void {
    this.#schedule(Math.random() * this.check.interval);
  }

  #schedule(delay: number): void {
    if (this.#controller.signal.aborted) return;
    // Unclamped: a run that overran its interval shows as a late start, not as none.
    const intended = performance.now() + delay;
    this.#timer = setTimeout(() => void this.#run(intended), Math.max(0, delay));
  }

  #interval(): number {
    const { state, streak } = this.riseFall;
    if (streak > 0) return this.check.fastinter;
    return state === 'down' ? this.check.downinter : this.check.interval;
  }

  async #run(intended: number): Promise<void> {
    const started = performance.now();
    this.#events.started(this, intended, started);
    const run = this.#session.run(this.#controller.signal);
    this.#running = run.gone;
    const result = await run.result;
    if (this.#controller.signal.aborted) return;
    this.last = result;
    this.#events.result(this, result);
    await run.gone;
    this.#running = undefined;
    const jitter = Math.random() * this.check.jitter;
    this.#schedule(started + this.#interval() + jitter - performance.now());
  }

  async close(): Promise<void> {
    clearTimeout(this.#timer);
    this.#controller.abort();
    await this.#running;
    await this.#session.close();
  }
}

interface HostEntry {
  host: Host;
  state: HostState;
  runners: CheckRunner[];
  hooks: Promise<void>;
}

export class HealthMonitor implements HealthEngine {
  readonly #logger: Logger;
  readonly #observer: HealthObserver;
  readonly #hosts = new Map<string, HostEntry>();
  readonly #listeners: Array<(t: HostTransition) => void> = [];
  #started = false;

  constructor(hosts: readonly Host[], logger: Logger, observer: HealthObserver = {}) {
    this.#logger = logger;
    this.#observer = observer;
    for (const host of hosts) this.#hosts.set(host.name, this.#entry(host));
  }

  #entry(host: Host, previous?: HostEntry): HostEntry {
    const entry: HostEntry = { host, state: 'unknown', runners: [], hooks: previous?.hooks ?? Promise.resolve() };
    entry.runners = host.checks.map((check) => {
      const old = previous?.runners.find((r) => JSON.stringify(r.check) === JSON.stringify(check));
      const runner = new CheckRunner(check, {
        started: (r, intended, actual) => this.#observer.started?.(entry.host.name, r.check.name, intended, actual),
        result: (r, result) => this.#result(entry, r, result),
      });
      if (old) {
        runner.riseFall = old.riseFall;
        runner.last = old.last;
      }
      return runner;
    });
    entry.state = previous ? hostState(entry.runners.map((r) => r.riseFall.state)) : host.checks.length === 0 ? 'up' : 'unknown';
    return entry;
  }

  onTransition(listener: (t: HostTransition) => void): void {
    this.#listeners.push(listener);
  }

  start(): void {
    this.#started = true;
    for (const entry of this.#hosts.values()) for (const runner of entry.runners) runner.start();
  }

  states(): ReadonlyMap<string, HostState> {
    return new Map([...this.#hosts].map(([name, entry]) => [name, entry.state]));
  }

  status(): HostStatus[] {
    return [...this.#hosts.values()].map((entry) => ({
      host: entry.host.name,
      state: entry.state,
      checks: entry.runners.map((r) => ({ name: r.check.name, state: r.riseFall.state, ...(r.last ? { last: r.last } : {}) })),
    }));
  }

  update(hosts: readonly Host[]): void {
    const old = new Map(this.#hosts);
    this.#hosts.clear();
    for (const host of hosts) {
      const previous = old.get(host.name);
      this.#hosts.set(host.name, this.#entry(host, previous));
    }
    for (const entry of old.values()) for (const runner of entry.runners) void runner.close();
    if (this.#started) for (const entry of this.#hosts.values()) for (const runner of entry.runners) runner.start();
  }

  #result(entry: HostEntry, runner: CheckRunner, result: CheckResult): void {
    const { check } = runner;
    this.#observer.result?.(entry.host.name, check.name, result);
    const before = runner.riseFall.state;
    runner.riseFall = step(runner.riseFall, result.ok, check.rise, check.fall);
    if (runner.riseFall.state !== before) {
      this.#logger.child({ host: entry.host.name, check: check.name }).info({ from: before, to: runner.riseFall.state, code: result.code, detail: result.detail, ms: Math.round(result.ms) }, 'check changed state');
    }
    const state = hostState(entry.runners.map((r) => r.riseFall.state));
    if (state === entry.state) return;
    const failing = entry.runners.filter((r) => r.riseFall.state === 'down').map((r) => `${r.check.name}: ${r.last?.code ?? '?'} ${r.last?.detail ?? ''}`.trim());
    const transition: HostTransition = {
      host: entry.host.name,
      from: entry.state,
      to: state,
      reason: state === 'down' ? failing.join('; ') : `${entry.runners.length} of ${entry.runners.length} checks up`,
      at: Date.now(),
    };
    entry.state = state;
    for (const listener of this.#listeners) listener(transition);
    const hook = state === 'up' ? entry.host.onUp : state === 'down' ? entry.host.onDown : undefined;
    if (hook && transition.from !== 'unknown') entry.hooks = entry.hooks.then(() => this.#runHook(entry.host.name, hook, transition));
  }

  async #runHook(host: string, spec: CommandSpec, transition: HostTransition): Promise<void> {
    const env = { ...spec.env, PFSTEER_HOST: host, PFSTEER_STATE: transition.to, PFSTEER_REASON: transition.reason };
    const run = runCommand({ argv: spec.argv, env, ...(spec.cwd ? { cwd: spec.cwd } : {}), timeout: spec.timeout, killAfter: spec.killAfter, maxOutput: 64 * 1024 });
    const result = await run.result;
    await run.gone;
    if (!result.ok) {
      this.#observer.hookFailed?.(host);
      this.#logger.child({ host }).warn({ hook: spec.argv[0], code: result.code, detail: result.detail }, `on_${transition.to} command failed`);
    }
  }

  async close(): Promise<void> {
    const entries = [...this.#hosts.values()];
    await Promise.all(entries.flatMap((e) => e.runners.map((r) => r.close())));
    await Promise.all(entries.map((e) => e.hooks));
  }
}
