/**
 * bench:failover's reference methods, run as `pfsteer run` is (inside the router namespace, the
 * real Daemon with its health checks, drains and kill policy) but with a driver that steers the
 * reference's way. The daemon's own mapping gives a bucket to every host that is up, so the set
 * of hosts owning buckets is the healthy set; from it this driver computes its own owners:
 *
 *   modn         pf `source-hash`: the bucket's hash (a 32-bit key, a much larger range than the
 *                hosts) modulo the number of up hosts, through the nft bucket map
 *   maglev       Maglev owners (src/mapping/maglev.ts), through the nft bucket map
 *   round-robin  no map: `numgen inc mod N` over the up hosts, in its own nft table
 *
 * Usage: node bench/failover-steer.ts CONFIG modn|maglev|round-robin
 */
import { execa } from 'execa';
import { pino } from 'pino';
import type { Config } from '../src/config/model.ts';
import { Daemon } from '../src/daemon/daemon.ts';
import { realParts } from '../src/daemon/parts.ts';
import type { ApplyResult, BucketAssignment, Driver, ObservedBucket } from '../src/drivers/driver.ts';
import { algorithmNamed } from '../src/mapping/algorithms.ts';
import { formatAddress, type IpAddress } from '../src/net/address.ts';
import { NftDriver } from '../src/nft/driver.ts';

const RR_TABLE = 'pfsteer_rr';

class ReferenceDriver implements Driver {
  readonly kind = 'nft' as const;
  readonly #config: Config;
  readonly #method: string;
  readonly #nft: NftDriver;
  /** What the daemon believes the filter holds: its own mapping, bucket by bucket. */
  readonly #held = new Map<number, BucketAssignment>();
  #applied = '';

  constructor(config: Config, method: string) {
    this.#config = config;
    this.#method = method;
    this.#nft = new NftDriver(config);
  }

  async observe(): Promise<ObservedBucket[]> {
    return [...this.#held.values()].map((assignment) => ({ bucket: assignment.bucket, assignment, problems: [] }));
  }

  async apply(assignments: readonly BucketAssignment[]): Promise<ApplyResult[]> {
    for (const a of assignments) this.#held.set(a.bucket, a);
    const up = [...new Set([...this.#held.values()].map((a) => a.host).filter((h): h is string => h !== null))].sort();
    const key = up.join(',');
    if (key !== this.#applied) {
      if (this.#method === 'round-robin') await this.#roundRobin(up);
      else await this.#buckets(new Set(up));
      this.#applied = key;
    }
    return assignments.map((a) => ({ bucket: a.bucket, ok: true }));
  }

  async #buckets(up: ReadonlySet<string>): Promise<void> {
    const { hosts, buckets } = this.#config;
    const mapper = algorithmNamed(this.#method)!.build({ hosts: hosts.map((h) => ({ name: h.name, weight: h.weight })), buckets: buckets.count, seed: buckets.seed });
    const owners = mapper.owners(up);
    const all = owners.map((host, bucket): BucketAssignment => {
      const h = hosts.find((x) => x.name === host);
      return { bucket, host, routes: h ? Object.entries(h.targets).map(([service, t]) => ({ service, address: t.address, ...(t.port === undefined ? {} : { port: t.port }) })) : [] };
    });
    const results = await this.#nft.apply(all);
    const failed = results.find((r) => !r.ok);
    if (failed) throw failed.error;
  }

  async #roundRobin(up: readonly string[]): Promise<void> {
    const service = this.#config.services[0]!;
    const external = service.external.kind === 'addresses' ? formatAddress(service.external.addresses[0]!.address) : '';
    const targets = up.map((name, i) => {
      const t = this.#config.hosts.find((h) => h.name === name)!.targets[service.name]!;
      return `${i} : ${formatAddress(t.address)} . ${t.port ?? service.ports[0]}`;
    });
    const rule = `ip daddr ${external} tcp dport ${service.ports[0]} dnat ip to numgen inc mod ${up.length} map { ${targets.join(', ')} }`;
    const text = `table ip ${RR_TABLE} {}\nflush table ip ${RR_TABLE}\ntable ip ${RR_TABLE} {\n  chain pre {\n    type nat hook prerouting priority dstnat; policy accept;\n    ${up.length > 0 ? rule : ''}\n  }\n}\n`;
    const r = await execa(this.#config.nft.nft, ['-f', '-'], { input: text, reject: false });
    if (r.exitCode !== 0) throw new Error(`nft -f: ${r.stderr}\n${text}`);
  }

  killStates(address: IpAddress): Promise<number> {
    return this.#nft.killStates(address);
  }

  countStates(addresses: readonly IpAddress[]): Promise<number> {
    return this.#nft.countStates(addresses);
  }

  async close(): Promise<void> {}
}

const [file, method] = process.argv.slice(2);
if (!file || !method || !(method === 'round-robin' || algorithmNamed(method))) {
  process.stderr.write('usage: node bench/failover-steer.ts CONFIG modn|maglev|round-robin\n');
  process.exit(2);
}
const logger = pino({ level: 'info', base: { pid: process.pid, method } });
const daemon = await Daemon.start(file, { createDriver: (config) => new ReferenceDriver(config, method), createHealth: realParts.createHealth }, logger);
await new Promise<void>((resolve) => process.once('SIGTERM', resolve));
await daemon.close();
