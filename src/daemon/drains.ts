/**
 * Who drained which host, and since when. A host is drained by the config (`hosts.NAME.drain`,
 * read by both firewalls of a pair alike) or at run time (`pfsteer drain`, this firewall only);
 * the mapping avoids it while either holds. No I/O and no clock: times come in as arguments.
 */
import type { Host } from '../config/model.ts';
import type { PersistentState } from './state-file.ts';

export type DrainSource = 'config' | 'runtime';

export interface Drain {
  source: DrainSource;
  /** Epoch milliseconds. */
  since: number;
}

/** Hosts whose drained state changed: the mapping must move their buckets, the waits follow. */
export interface DrainChanges {
  started: string[];
  ended: string[];
}

function times(map: ReadonlyMap<string, number>): Record<string, string> {
  return Object.fromEntries([...map].sort(([a], [b]) => (a < b ? -1 : 1)).map(([host, since]) => [host, new Date(since).toISOString()]));
}

function parsedTime(text: string | undefined, fallback: number): number {
  const ms = text === undefined ? Number.NaN : Date.parse(text);
  return Number.isNaN(ms) ? fallback : ms;
}

export class Drains {
  readonly #config = new Map<string, number>();
  readonly #runtime = new Map<string, number>();
  #hosts = new Set<string>();

  /**
   * Runtime drains the state file kept, for hosts the config still has; the rest are returned
   * so the caller can say they were ignored. A drain whose time was not kept starts `now`.
   */
  restore(state: PersistentState, hosts: readonly Host[], now: number): string[] {
    const known = new Set(hosts.map((h) => h.name));
    const unknown: string[] = [];
    for (const host of state.drained) {
      if (known.has(host)) this.#runtime.set(host, parsedTime(state.since?.[host], now));
      else unknown.push(host);
    }
    this.applyConfig(hosts, now, state.configSince);
    return unknown;
  }

  /**
   * The drains a (re)loaded config asks for. A config drain that continues keeps its time; one
   * the state file remembers from before a restart takes that time. Runtime drains of hosts the
   * config no longer has end.
   */
  applyConfig(hosts: readonly Host[], now: number, remembered: Readonly<Record<string, string>> = {}): DrainChanges {
    const before = new Set(this.#hosts);
    const known = new Set(hosts.map((h) => h.name));
    const wanted = new Set(hosts.filter((h) => h.drain).map((h) => h.name));
    for (const host of [...this.#config.keys()]) if (!wanted.has(host)) this.#config.delete(host);
    for (const host of wanted) if (!this.#config.has(host)) this.#config.set(host, parsedTime(remembered[host], now));
    for (const host of [...this.#runtime.keys()]) if (!known.has(host)) this.#runtime.delete(host);
    return this.#update(before);
  }

  addRuntime(host: string, now: number): DrainChanges {
    const before = new Set(this.#hosts);
    if (!this.#runtime.has(host)) this.#runtime.set(host, now);
    return this.#update(before);
  }

  removeRuntime(host: string): DrainChanges {
    const before = new Set(this.#hosts);
    this.#runtime.delete(host);
    return this.#update(before);
  }

  /** Hosts the mapping must avoid: drained by either source. */
  hosts(): ReadonlySet<string> {
    return this.#hosts;
  }

  /** A host's drains, the config's first. */
  of(host: string): Drain[] {
    const out: Drain[] = [];
    const config = this.#config.get(host);
    const runtime = this.#runtime.get(host);
    if (config !== undefined) out.push({ source: 'config', since: config });
    if (runtime !== undefined) out.push({ source: 'runtime', since: runtime });
    return out;
  }

  has(host: string, source: DrainSource): boolean {
    return (source === 'config' ? this.#config : this.#runtime).has(host);
  }

  /** What the state file keeps: runtime drains and the times of both kinds. */
  persisted(): PersistentState {
    return { drained: [...this.#runtime.keys()].sort(), since: times(this.#runtime), configSince: times(this.#config) };
  }

  /** A copy to change and persist before the daemon adopts it: a drain that cannot be saved does not happen. */
  clone(): Drains {
    const copy = new Drains();
    for (const [host, since] of this.#config) copy.#config.set(host, since);
    for (const [host, since] of this.#runtime) copy.#runtime.set(host, since);
    copy.#hosts = new Set(this.#hosts);
    return copy;
  }

  #update(before: ReadonlySet<string>): DrainChanges {
    this.#hosts = new Set([...this.#config.keys(), ...this.#runtime.keys()]);
    return { started: [...this.#hosts].filter((h) => !before.has(h)).sort(), ended: [...before].filter((h) => !this.#hosts.has(h)).sort() };
  }
}
