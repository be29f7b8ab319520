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
import type { Mapper } from '../mapping/types.ts';
import { formatAddress, sameAddress, type IpAddress } from '../net/address.ts';
import { ControlServer } from './control.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { Reconciler } from './reconciler.ts';
import { readState, writeState } from './state-file.ts';

export interface DaemonParts {
  createDriver(config: Config, logger: Logger): Driver;
  createHealth(config: Config, logger: Logger, metrics: Metrics): HealthEngine;
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
  readonly #drained = new Set<string>();
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
    this.metrics = createMetrics();
    this.#driver = parts.createDriver(config, logger);
    this.#health = parts.createHealth(config, logger, this.metrics);
    this.#reconciler = new Reconciler({
      config,
      mapper: buildMapper(config),
      driver: this.#driver,
      logger,
      metrics: this.metrics,
      states: () => this.#health.states(),
      drained: () => this.#drained,
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
    const known = new Set(config.hosts.map((h) => h.name));
    for (const host of (await readState(config.daemon.stateFile)).drained) {
      if (known.has(host)) this.#drained.add(host);
      else this.#logger.warn({ host }, 'state file drains a host the config no longer has; ignored');
    }
    for (const host of config.hosts) this.metrics.hostDrained.set({ host: host.name }, this.#drained.has(host.name) ? 1 : 0);
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
    this.#reconciler.startDrift(config.daemon.driftInterval);
    this.#logger.info({ states: Object.fromEntries(this.#health.states()), drained: [...this.#drained] }, 'steering');
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
    if (transition.to === 'down' && host && this.#config.policy.killStatesOnDown && !this.#drained.has(host.name)) {
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

  async drain(name: string): Promise<object> {
    this.#host(name);
    this.#drained.add(name);
    await writeState(this.#config.daemon.stateFile, { drained: [...this.#drained] });
    this.metrics.hostDrained.set({ host: name }, 1);
    this.#logger.info({ host: name }, `${name} drained: its buckets move, its states stay`);
    if (this.#ready) await this.#reconciler.run();
    return { host: name, drained: true, buckets: this.#reconciler.owners().filter((o) => o === name).length };
  }

  async undrain(name: string): Promise<object> {
    this.#host(name);
    this.#drained.delete(name);
    await writeState(this.#config.daemon.stateFile, { drained: [...this.#drained] });
    this.metrics.hostDrained.set({ host: name }, 0);
    this.#logger.info({ host: name }, `${name} undrained`);
    if (this.#ready) await this.#reconciler.run();
    return { host: name, drained: false, buckets: this.#reconciler.owners().filter((o) => o === name).length };
  }

  async statesTo(name: string): Promise<object> {
    const host = this.#host(name);
    const states = await this.#driver.countStates(hostAddresses(host));
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
    for (const name of [...this.#drained]) if (!config.hosts.some((h) => h.name === name)) this.#drained.delete(name);
    this.#reconciler.replace({ config, mapper: buildMapper(config), driver });
    this.#health.update(config.hosts);
    await oldDriver.close();
    try {
      await this.#reconciler.adopt();
    } catch (error) {
      this.#logger.error({ err: error }, 'cannot read the filter after reload; every bucket will be loaded');
    }
    if (this.#ready) await this.#reconciler.run();
    this.#logger.info({ hosts: config.hosts.length, services: config.services.length, buckets: config.buckets.count }, 'reloaded');
    return { ok: true };
  }

  status(): object {
    const owners = this.#reconciler.owners();
    const health = new Map(this.#health.status().map((s) => [s.host, s]));
    return {
      config: this.#file,
      driver: this.#config.driver,
      buckets: this.#config.buckets.count,
      ready: this.#steering,
      startedAt: new Date(this.#startedAt).toISOString(),
      hosts: this.#config.hosts.map((host) => ({
        name: host.name,
        weight: host.weight,
        state: health.get(host.name)?.state ?? 'unknown',
        drained: this.#drained.has(host.name),
        buckets: owners.filter((o) => o === host.name).length,
        checks: health.get(host.name)?.checks ?? [],
      })),
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
      await this.#reconciler.close();
      await this.#driver.close();
      this.#logger.info('stopped; the filter keeps the last mapping');
    })();
    return this.#closing;
  }
}
