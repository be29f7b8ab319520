/**
 * The test side of the pf emulator: a fresh emulated pf in a temporary folder, with what tests
 * need beyond pfctl: the main ruleset, routing answers for packets (which also open states, as a
 * connection would), the call log, fault injection.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IpAddress } from '../../src/net/address.ts';
import { formatAddress } from '../../src/net/address.ts';
import type { Os } from './grammar.ts';
import { parseRuleset } from './grammar.ts';
import type { Evaluation, Packet, RouteAnswer } from './evaluate.ts';
import { evaluate } from './evaluate.ts';
import { loadedAnchor } from './ruleset.ts';
import type { CallRecord, Faults, PfMemory } from './store.ts';
import { emptyMemory, Store } from './store.ts';

export const PFCTL_EMULATOR = fileURLToPath(new URL('./pfctl.js', import.meta.url));

export class PfEmulator {
  readonly dir: string;
  readonly pfctl = PFCTL_EMULATOR;
  readonly store: Store;

  constructor(os: Os = 'freebsd', dir = mkdtempSync(join(tmpdir(), 'pfsteer-pf-'))) {
    this.dir = dir;
    this.store = new Store(dir);
    writeFileSync(join(dir, 'os'), os);
    this.store.update((m) => Object.assign(m, emptyMemory(os), { main: m.main, mainTables: m.mainTables, mainCounters: m.mainCounters }));
  }

  /** What a child process needs in its environment to reach this emulator. */
  env(): Record<string, string> {
    return { PFSTEER_PF_EMULATOR: this.dir };
  }

  memory(): PfMemory {
    return this.store.read();
  }

  /** Loads the main ruleset as `pfctl -f pf.conf` would; throws on a syntax error. */
  loadMain(text: string): void {
    this.store.update((m) => {
      const ruleset = parseRuleset(text, m.os);
      const loaded = loadedAnchor(text, ruleset, m.mainTables);
      m.main = text;
      m.mainTables = loaded.tables;
      m.mainCounters = loaded.counters;
    });
  }

  /**
   * Where a new connection goes. With `establish`, pf also records it as a state (and counts
   * it on the rule), as a real connection would; a `no rdr` that decided translates nothing and
   * counts nothing but its evaluation.
   */
  route(packet: Packet, options: { establish?: boolean; clientPort?: number } = {}): RouteAnswer {
    return this.store.update((m) => {
      const { answer, evaluated, matched } = evaluate(m, packet);
      const countersOf = (anchor: string) => (anchor === '' ? m.mainCounters : m.anchors[anchor]?.counters);
      for (const [anchor, indexes] of evaluated) {
        const counters = countersOf(anchor);
        if (counters) for (const i of indexes) if (counters[i]) counters[i].evaluations++;
      }
      if (options.establish && matched && !matched.no && answer.anchor !== null) {
        const c = countersOf(matched.anchor)?.[matched.index];
        if (c) {
          c.packets++;
          c.bytes += 60;
          c.states++;
        }
        m.states.push({
          id: (m.nextStateId++).toString(16).padStart(16, '0'),
          protocol: packet.protocol ?? 'tcp',
          interface: 'all',
          client: formatAddress(packet.source),
          clientPort: options.clientPort ?? 40000 + (m.nextStateId % 20000),
          external: formatAddress(packet.destination),
          externalPort: packet.port,
          host: answer.address,
          hostPort: answer.port,
          anchor: matched.anchor,
        });
      }
      return answer;
    });
  }

  /**
   * How pf evaluates a new connection now: its answer, the rules it visits and the table
   * lookups it makes (with skip steps, see evaluate.ts). Changes nothing.
   */
  evaluate(packet: Packet): Evaluation {
    return evaluate(this.memory(), packet);
  }

  /** Routing answers for many packets against one snapshot; opens no states, counts nothing. */
  routeMany(packets: readonly Packet[]): RouteAnswer[] {
    const memory = this.memory();
    return packets.map((p) => evaluate(memory, p).answer);
  }

  /** Connections to `host` end (the client closed them). */
  closeStates(host: IpAddress): void {
    const text = formatAddress(host);
    this.store.update((m) => {
      m.states = m.states.filter((s) => s.host !== text);
    });
  }

  statesTo(host: IpAddress): number {
    const text = formatAddress(host);
    return this.memory().states.filter((s) => s.host === text).length;
  }

  removeAnchor(name: string): void {
    this.store.update((m) => {
      delete m.anchors[name];
    });
  }

  faults(faults: Faults): void {
    this.store.setFaults(faults);
  }

  calls(): CallRecord[] {
    return this.store.calls();
  }

  /** Calls that loaded rules (`-f`). */
  loads(): CallRecord[] {
    return this.calls().filter((c) => c.argv.includes('-f'));
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true, maxRetries: 5 });
  }
}
