/**
 * `pfsteer run`: config, health, drains and the reconcile loop joined, with the control socket
 * and metrics. Health never touches the filter: it only asks the reconciler for a pass.
 */
import { createServer as createHttpServer, type Server } from 'node:http';
import type { Logger } from 'pino';
import { loadConfig } from '../config/load.ts';
import type { Config, Host } from '../config/model.ts';
import type { Driver } from '../drivers/driver.ts';
import { ConfigError, PfsteerError } from '../errors.ts';
import type { HealthEngine, HostTransition } from '../health/types.ts';
import { DEFAULT_ALGORITHM } from '../mapping/algorithms.ts';
import { effectiveMapping, mappingDigest } from '../mapping/digest.ts';
import type { Mapper } from '../mapping/types.ts';
import { formatAddress, sameAddress, type IpAddress } from '../net/address.ts';
import { mappingStatus } from '../pair/status.ts';
import { ControlServer } from './control.ts';
import { DRAIN_POLL_MS, DRAIN_TIMEOUT_MS, DrainWaits } from './drain-wait.ts';
import { Drains, type DrainChanges } from './drains.ts';
import { createMetrics, type Metrics, type SteeringView } from './metrics.ts';
import { eligibleHosts } from './plan.ts';
import { Reconciler } from './reconciler.ts';
import { readState, writeState, type PersistentState } from './state-file.ts';

export interface DaemonParts {
  createDriver(config: Config, logger: Logger): Driver;
  createHealth(config: Config, logger: Logger, metrics: Metrics): HealthEngine;
  /** How the daemon waits for a drained host's states to end (tests shorten it). */
  drainWait?: { pollMs: number; timeoutMs: number };
}

export function buildMapper(config: Config): Mapper {
  return DEFAULT_ALGORITHM.build({ hosts: config.hosts.map((h) => ({ name: h.name, weight: h.weight })), buckets: config.buckets.count, seed: config.buckets.seed });
}

/** The longest a host can take to be judged: rise x interval + timeout over every check. */
export function firstVerdictBound(config: Config): number {
  if (config.daemon.startupGrace !== undefined) return config.daemon.startupGrace;
  const bounds = config.hosts.flatMap((h) => h.checks.map((c) => c.rise * c.interval + c.timeout + c.jitter));
  return Math.max(0, ...bounds);
}

function hostAddresses(host: Host): IpAddress[] {
  const out: IpAddress[] = [];
  for (const target of Object.values(host.targets)) if (!out.some((a) => sameAddress(a, target.address))) out.push(target.address);
  return out;
}

export class Daemon {
  #config: Config;
  #driver: Driver;
  readonly #parts: DaemonParts;
  readonly #logger: Logger;
  readonly #file: string;
  readonly metrics: Metrics;
  readonly #health: HealthEngine;
  readonly #reconciler: Reconciler;
  #drains = new Drains();
  readonly #waits: DrainWaits;
  #control: ControlServer | undefined;
  #metricsServer: Server | undefined;
  #ready = false;
  /** The first pass after the first verdicts is done: what `status` calls ready. */
  #steering = false;
  #closing: Promise<void> | undefined;
  readonly #startedAt = Date.now();

  private constructor(file: string, config: Config, parts: DaemonParts, logger: Logger) {
    this.#file = file;
    this.#config = config;
    this.#parts = parts;
    this.#logger = logger;
    this.metrics = createMetrics(() => this.#steeringView());
    this.#waits = new DrainWaits({
      count: (host) => this.#driver.countStates(hostAddresses(this.#host(host))),
      pollMs: parts.drainWait?.pollMs ?? DRAIN_POLL_MS,
      timeoutMs: parts.drainWait?.timeoutMs ?? DRAIN_TIMEOUT_MS,
    });
    this.#driver = parts.createDriver(config, logger);
    this.#health = parts.createHealth(config, logger, this.metrics);
    this.#reconciler = new Reconciler({
      config,
      mapper: buildMapper(config),
      driver: this.#driver,
      logger,
      metrics: this.metrics,
      states: () => this.#health.states(),
      drained: () => this.#drains.hosts(),
    });
  }

  /**
   * Starts without flushing anything: reads what the filter holds, starts checks, waits for
   * the first verdicts (bounded) and only then moves buckets.
   */
  static async start(file: string, parts: DaemonParts, logger: Logger): Promise<Daemon> {
    const config = await loadConfig(file);
    const daemon = new Daemon(file, config, parts, logger);
    await daemon.#start();
    return daemon;
  }

  async #start(): Promise<void> {
    const config = this.#config;
    const saved = await readState(config.daemon.stateFile);
    for (const host of this.#drains.restore(saved, config.hosts, Date.now())) {
      this.#logger.warn({ host }, 'state file drains a host the config no longer has; ignored');
    }
    // A config drain added while the daemon was stopped starts now; keep that time for the next start.
    await this.#saveDrainTimes(saved);
    // A layout pf cannot hold would fail bucket by bucket; refuse it whole, before loading any.
    await this.#driver.prepare?.();
    try {
      const adopted = await this.#reconciler.adopt();
      this.#logger.info({ adopted, buckets: config.buckets.count, driver: config.driver }, 'read what the filter holds');
    } catch (error) {
      this.#logger.error({ err: error }, 'cannot read the filter at start; every bucket will be loaded');
      this.metrics.driverErrors.inc({ operation: 'observe' });
    }
    await this.#reconciler.checkHook();
    this.#health.onTransition((transition) => this.#onTransition(transition));
    this.#health.start();
    this.#control = await ControlServer.listen(config.control.socket, config.control.mode, config.control.group, {
      status: () => this.status(),
      drain: (host) => this.drain(host),
      undrain: (host) => this.undrain(host),
      states: (host) => this.statesTo(host),
      reload: () => this.reload(),
      metrics: () => this.metrics.registry.metrics(),
    });
    if (config.metrics.listen) await this.#listenMetrics(config.metrics.listen.host, config.metrics.listen.port);
    await this.#firstVerdicts(firstVerdictBound(config));
    this.#ready = true;
    await this.#reconciler.run();
    this.#steering = true;
    this.#followWaits({ started: [...this.#drains.hosts()], ended: [] });
    this.#reconciler.startDrift(config.daemon.driftInterval);
    this.#logger.info({ states: Object.fromEntries(this.#health.states()), drained: [...this.#drains.hosts()] }, 'steering');
  }

  async #firstVerdicts(boundMs: number): Promise<void> {
    const deadline = performance.now() + boundMs;
    const judged = () => [...this.#health.states().values()].every((state) => state !== 'unknown');
    while (!judged() && performance.now() < deadline && !this.#closing) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(50, Math.max(1, deadline - performance.now()))));
    }
    if (!judged()) {
      const unknown = [...this.#health.states()].filter(([, state]) => state === 'unknown').map(([host]) => host);
      this.#logger.warn({ unknown, waitedMs: boundMs }, 'hosts not judged yet keep their buckets');
    }
  }

  async #listenMetrics(host: string, port: number): Promise<void> {
    const server = createHttpServer((request, response) => {
      if (request.url !== '/metrics') {
        response.writeHead(404).end();
        return;
      }
      void this.metrics.registry.metrics().then((text) => {
        response.writeHead(200, { 'content-type': this.metrics.registry.contentType });
        response.end(text);
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    this.#metricsServer = server;
  }

  #onTransition(transition: HostTransition): void {
    this.metrics.transitions.inc({ host: transition.host, to: transition.to });
    this.metrics.hostUp.set({ host: transition.host }, transition.to === 'up' ? 1 : transition.to === 'down' ? 0 : -1);
    this.#logger.child({ host: transition.host }).info({ from: transition.from, to: transition.to, reason: transition.reason }, `${transition.host} ${transition.from} -> ${transition.to}`);
    if (!this.#ready) return;
    const pass = this.#reconciler.run();
    const host = this.#config.hosts.find((h) => h.name === transition.host);
    if (transition.to === 'down' && host && this.#config.policy.killStatesOnDown && !this.#drains.hosts().has(host.name)) {
      // After its buckets moved, so that clients reconnecting land on a healthy host.
      void pass.then(() => this.#killStates(host));
    }
  }

  async #killStates(host: Host): Promise<void> {
    for (const address of hostAddresses(host)) {
      try {
        const killed = await this.#driver.killStates(address);
        this.#logger.info({ host: host.name, address: formatAddress(address), killed }, 'killed states of a down host');
      } catch (error) {
        this.metrics.driverErrors.inc({ operation: 'kill-states' });
        this.#logger.error({ host: host.name, err: error }, 'cannot kill states of a down host');
      }
    }
  }

  #host(name: string): Host {
    const host = this.#config.hosts.find((h) => h.name === name);
    if (!host) throw new PfsteerError('unknown-host', `no host named "${name}" in ${this.#file}; hosts: ${this.#config.hosts.map((h) => h.name).join(', ')}`);
    return host;
  }

  /**
   * A runtime drain, this firewall only. A host the config drains already is left as it is: a
   * runtime drain recorded beside it would outlive the config's and split the pair later.
   */
  async drain(name: string): Promise<object> {
    this.#host(name);
    if (this.#drains.has(name, 'config')) {
      return { host: name, drained: true, source: 'config', buckets: this.#bucketsOf(name) };
    }
    const changes = await this.#changeDrains((drains) => drains.addRuntime(name, Date.now()));
    this.#logger.info({ host: name }, `${name} drained: its buckets move, its states stay`);
    await this.#afterDrainChange(changes);
    return { host: name, drained: true, source: 'runtime', buckets: this.#bucketsOf(name) };
  }

  /**
   * Ends a runtime drain. A config drain is the pair's: undoing it here alone would make this
   * firewall steer unlike its peer, so it is refused with where to change it instead.
   */
  async undrain(name: string): Promise<object> {
    this.#host(name);
    const config = this.#drains.has(name, 'config');
    if (config && !this.#drains.has(name, 'runtime')) {
      throw new PfsteerError('drained-by-config', `${name} is drained by the config (hosts.${name}.drain in ${this.#file}); remove it there and reload both firewalls, so the pair keeps steering alike`);
    }
    const changes = await this.#changeDrains((drains) => drains.removeRuntime(name));
    this.#logger.info({ host: name, stillDrainedBy: config ? 'config' : undefined }, config ? `${name}: runtime drain removed; the config still drains it` : `${name} undrained`);
    await this.#afterDrainChange(changes);
    return { host: name, drained: config, ...(config ? { source: 'config' } : {}), buckets: this.#bucketsOf(name) };
  }

  /** Persists a change of drains before it takes effect: one that cannot be saved does not happen. */
  async #changeDrains(change: (drains: Drains) => DrainChanges): Promise<DrainChanges> {
    const next = this.#drains.clone();
    const changes = change(next);
    await writeState(this.#config.daemon.stateFile, next.persisted());
    this.#drains = next;
    return changes;
  }

  /**
   * The config is where its drains live; the state file only keeps their times across a
   * restart, so failing to save them is logged, never fatal.
   */
  async #saveDrainTimes(saved: PersistentState): Promise<void> {
    const now = this.#drains.persisted();
    if (JSON.stringify(now) === JSON.stringify({ ...saved, since: saved.since ?? {}, configSince: saved.configSince ?? {} })) return;
    await writeState(this.#config.daemon.stateFile, now).catch((error: unknown) => this.#logger.error({ err: error }, 'cannot save the drains\' times'));
  }

  async #afterDrainChange(changes: DrainChanges): Promise<void> {
    if (this.#ready) await this.#reconciler.run();
    this.#followWaits(changes);
  }

  /** Waits start once the buckets moved (new states then go elsewhere) and end with the drain. */
  #followWaits(changes: DrainChanges): void {
    for (const host of changes.ended) this.#waits.stop(host);
    if (!this.#steering) return;
    for (const host of changes.started) this.#waits.start(host, Math.max(...this.#drains.of(host).map((d) => d.since)));
  }

  #bucketsOf(name: string): number {
    return this.#reconciler.owners().filter((o) => o === name).length;
  }

  async statesTo(name: string): Promise<object> {
    const host = this.#host(name);
    const states = await this.#driver.countStates(hostAddresses(host));
    this.#waits.record(name, states);
    return { host: name, states };
  }

  /** Parse, validate, swap; on any problem the running config stays. */
  async reload(): Promise<object> {
    let config: Config;
    try {
      config = await loadConfig(this.#file);
    } catch (error) {
      if (error instanceof ConfigError) {
        this.#logger.error({ issues: error.issues }, 'reload rejected: the config has problems; the old one keeps running');
        return { ok: false, issues: error.issues.map((i) => ({ ...i, file: error.file })) };
      }
      throw error;
    }
    const oldDriver = this.#driver;
    const driver = this.#parts.createDriver(config, this.#logger);
    try {
      await driver.prepare?.();
    } catch (error) {
      await driver.close();
      this.#logger.error({ err: error }, 'reload rejected: the filter cannot hold the new layout; the old one keeps running');
      return { ok: false, issues: [{ message: error instanceof Error ? error.message : String(error) }] };
    }
    this.#config = config;
    this.#driver = driver;
    const before = this.#drains.persisted();
    const drains = this.#drains.clone();
    const changes = drains.applyConfig(config.hosts, Date.now());
    this.#drains = drains;
    await this.#saveDrainTimes(before);
    this.#reconciler.replace({ config, mapper: buildMapper(config), driver });
    this.#health.update(config.hosts);
    await oldDriver.close();
    try {
      await this.#reconciler.adopt();
    } catch (error) {
      this.#logger.error({ err: error }, 'cannot read the filter after reload; every bucket will be loaded');
    }
    if (this.#ready) await this.#reconciler.run();
    this.#followWaits(changes);
    this.#logger.info({ hosts: config.hosts.length, services: config.services.length, buckets: config.buckets.count, drained: [...this.#drains.hosts()] }, 'reloaded');
    return { ok: true };
  }

  /** The digest of what the filter holds, as both `status` and the metrics show it. */
  #digest(owners = this.#reconciler.owners()): string {
    return mappingDigest(effectiveMapping(this.#config, owners));
  }

  #steeringView(): SteeringView {
    const eligible = new Set(eligibleHosts(this.#config, this.#health.states(), this.#drains.hosts()));
    return {
      digest: this.#digest(),
      hosts: this.#config.hosts.map((h) => {
        const states = this.#waits.get(h.name)?.states;
        return { name: h.name, eligible: eligible.has(h.name), drains: this.#drains.of(h.name), ...(states === undefined ? {} : { drainStates: states }) };
      }),
    };
  }

  #drainStatus(name: string): object {
    const wait = this.#waits.get(name);
    const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
    return {
      drains: this.#drains.of(name).map((d) => ({ source: d.source, since: iso(d.since) })),
      wait: wait ? { ...wait, deadline: iso(wait.deadline), checkedAt: iso(wait.checkedAt) } : null,
    };
  }

  status(): object {
    const owners = this.#reconciler.owners();
    const health = new Map(this.#health.status().map((s) => [s.host, s]));
    const digest = this.#digest(owners);
    return {
      config: this.#file,
      driver: this.#config.driver,
      buckets: this.#config.buckets.count,
      ready: this.#steering,
      startedAt: new Date(this.#startedAt).toISOString(),
      digest,
      hosts: this.#config.hosts.map((host) => ({
        name: host.name,
        weight: host.weight,
        state: health.get(host.name)?.state ?? 'unknown',
        drained: this.#drains.hosts().has(host.name),
        ...this.#drainStatus(host.name),
        buckets: owners.filter((o) => o === host.name).length,
        checks: health.get(host.name)?.checks ?? [],
      })),
      mapping: mappingStatus(effectiveMapping(this.#config, owners), digest),
      unowned: owners.filter((o) => o === undefined).length,
      empty: owners.filter((o) => o === null).length,
      lastApply: this.#reconciler.lastApply ? { ...this.#reconciler.lastApply, at: new Date(this.#reconciler.lastApply.at).toISOString() } : null,
      loads: this.#reconciler.loads,
      pendingRetries: this.#reconciler.pendingRetries,
      driftRepairs: this.#reconciler.driftRepairs,
      filter: { state: this.#reconciler.sync.state, since: new Date(this.#reconciler.sync.since).toISOString() },
      hook: this.#reconciler.hook ?? null,
      lastError: this.#reconciler.lastError ? { ...this.#reconciler.lastError, at: new Date(this.#reconciler.lastError.at).toISOString() } : null,
    };
  }

  /** Stops checks and the loop and leaves the filter exactly as it is (fail-static). */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#control?.close();
      await new Promise<void>((resolve) => (this.#metricsServer ? this.#metricsServer.close(() => resolve()) : resolve()));
      await this.#health.close();
      this.#waits.close();
      await this.#reconciler.close();
      await this.#driver.close();
      this.#logger.info('stopped; the filter keeps the last mapping');
    })();
    return this.#closing;
  }
}
