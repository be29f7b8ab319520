/**
 * A daemon on the memory driver with real HTTP checks against loopback backends, in a fresh
 * directory: what the control-socket and state-file tests abuse.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { pino, type Logger } from 'pino';
import { parseConfig } from '../../src/config/load.ts';
import { callControl } from '../../src/daemon/control-client.ts';
import type { ControlLimits } from '../../src/daemon/control.ts';
import { buildMapper, Daemon, type DaemonParts } from '../../src/daemon/daemon.ts';
import { realParts } from '../../src/daemon/parts.ts';
import { MemoryDriver } from '../../src/drivers/memory.ts';
import { startBackends, type Backend } from '../support/net.ts';
import { until } from '../support/until.ts';

export const B = 32;
const INTERVAL = 250;
const TIMEOUT = 200;

export interface FixtureOptions {
  hosts?: number;
  /** Where the state file goes (default: in the fixture's directory). */
  stateFile?: string;
  controlLimits?: ControlLimits;
  logger?: Logger;
}

export class Fixture {
  readonly dir: string;
  readonly backends: Backend[];
  readonly driver = new MemoryDriver();
  readonly stateFile: string;
  readonly parts: DaemonParts;
  readonly logger: Logger;
  daemon: Daemon | undefined;

  private constructor(dir: string, backends: Backend[], options: FixtureOptions) {
    this.dir = dir;
    this.backends = backends;
    this.stateFile = options.stateFile ?? join(dir, 'state.json');
    this.logger = options.logger ?? pino({ level: 'silent' });
    this.parts = { createDriver: () => this.driver, createHealth: realParts.createHealth, ...(options.controlLimits ? { controlLimits: options.controlLimits } : {}) };
  }

  static async create(options: FixtureOptions = {}): Promise<Fixture> {
    const dir = await mkdtemp(join(tmpdir(), 'pfsteer-fx-'));
    const fixture = new Fixture(dir, await startBackends(options.hosts ?? 3), options);
    await writeFile(fixture.file, fixture.config());
    return fixture;
  }

  get file(): string {
    return join(this.dir, 'pfsteer.yaml');
  }

  get socket(): string {
    return join(this.dir, 'control.sock');
  }

  config(extraHosts = ''): string {
    const hosts = this.backends
      .map((b, i) => `  lb${i + 1}:\n    addresses: {std: 10.0.1.${11 + i}}\n    checks:\n      - {type: http, address: 127.0.0.1, port: ${b.port}, path: /haproxy_check}\n`)
      .join('');
    return `defaults: {interval: ${INTERVAL}ms, timeout: ${TIMEOUT}ms, rise: 1, fall: 1, jitter: 0ms}
buckets: {count: ${B}}
driver: memory
control: {socket: ${this.socket}, mode: "0600"}
daemon: {state_file: ${this.stateFile}, drift_interval: 1s, coalesce: 5ms}
services:
  std: {interface: em0, external: [203.0.113.10], ports: [80, 443]}
hosts:
${hosts}${extraHosts}`;
  }

  async start(): Promise<Daemon> {
    this.daemon = await Daemon.start(this.file, this.parts, this.logger);
    return this.daemon;
  }

  /** Owner of every bucket as the filter holds it. */
  owners(): Array<string | null> {
    return Array.from({ length: B }, (_, b) => this.driver.buckets.get(b)?.host ?? null);
  }

  /**
   * Waits until the filter holds the mapping of the hosts `/status` calls up and undrained, read
   * afresh each time (a check may flap on a loaded machine); returns the drained hosts.
   */
  async steersAsStatusSays(withinMs = 5_000): Promise<string[]> {
    const mapper = buildMapper(parseConfig(this.config(), this.file));
    const started = performance.now();
    for (;;) {
      const status = await callControl<{ ready: boolean; hosts: Array<{ name: string; drained: boolean; state: string }> }>(this.socket, 'GET', '/status');
      const drained = status.hosts.filter((h) => h.drained).map((h) => h.name);
      const eligible = status.hosts.filter((h) => !h.drained && h.state === 'up').map((h) => h.name);
      if (status.ready && (eligible.length === 0 || mapper.owners(new Set(eligible)).every((o, b) => o === this.owners()[b]))) return drained;
      if (performance.now() - started > withinMs) assert.fail(`the filter does not hold the mapping of ${eligible.join(', ')} after ${withinMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Takes backend `i` down and waits until its buckets left, then brings it back and waits until the filter steers as status says. */
  async failover(i: number): Promise<void> {
    const host = `lb${i + 1}`;
    this.backends[i]!.healthy = false;
    await until(() => !this.owners().includes(host), 5_000, `${host}'s buckets moved`);
    this.backends[i]!.healthy = true;
    const started = performance.now();
    for (;;) {
      const status = await callControl<{ hosts: Array<{ name: string; state: string }> }>(this.socket, 'GET', '/status');
      if (status.hosts.find((h) => h.name === host)?.state === 'up') break;
      if (performance.now() - started > 5_000) assert.fail(`${host} not up again within 5 s`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await this.steersAsStatusSays();
  }

  async close(): Promise<void> {
    await this.daemon?.close();
    for (const b of this.backends) b.server.close();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Writes `bytes` to the Unix socket and returns all it answers until it closes or `quietMs` pass in silence. */
export function sendRaw(socket: string, bytes: string | Buffer, quietMs = 1_000): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const client = connect(socket);
    let timer = setTimeout(() => client.destroy(), quietMs);
    const finish = (): void => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('latin1'));
    };
    client.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      clearTimeout(timer);
      timer = setTimeout(() => client.destroy(), quietMs);
    });
    client.on('close', finish);
    client.on('error', () => undefined);
    client.write(bytes);
  });
}

/** Status codes of every HTTP response in `text`, in order. */
export function statuses(text: string): number[] {
  return [...text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
}
