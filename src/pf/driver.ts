/**
 * The pf driver: pfsteer's anchors through the real pfctl. One `pfctl -a <anchor>/bNNNN -f -`
 * per changed bucket, which pf loads as one transaction, so a bucket is always wholly old or
 * wholly new; several load at once, up to `pf.concurrency`.
 *
 * Killing a host's states: an rdr'd state keeps the client's view (to the external address) as
 * its wire key and the host's address as its stack key. `pfctl -k 0.0.0.0/0 -k <host>` matches
 * the wire key and so misses them; FreeBSD's `-k nat` switches the match to the stack key
 * (pfctl(8): "killed based on their pre-NAT address"), which is the host. OpenBSD's pfctl has no
 * such switch, so there the driver lists states with `-s state -vv` and kills each one whose
 * stack-side destination is the host by its id.
 */
import type { BucketTable } from '../buckets/partition.ts';
import { bucketTables, buildPartition } from '../buckets/partition.ts';
import type { Config } from '../config/model.ts';
import { mapBounded } from '../drivers/bounded.ts';
import type { ApplyResult, BucketAssignment, Driver, ObservedBucket, ObserveOptions } from '../drivers/driver.ts';
import { PfsteerError } from '../errors.ts';
import type { Cidr, IpAddress } from '../net/address.ts';
import { formatAddress, sameAddress } from '../net/address.ts';
import { decodeAnchor } from './decode.ts';
import { isClosing, parseAnchors, parseKilled, parseMemory, parseStates, parseTableShow } from './output.ts';
import type { Pfctl } from './pfctl.ts';
import { PfctlError, pfctlOk, pfctlRunner } from './pfctl.ts';
import { anchorName, renderAnchor, tableName } from './render.ts';
import { parseRuleset } from './rules.ts';

export interface AnchorReading {
  buckets: ObservedBucket[];
  /** Anchors under pfsteer's parent that are no bucket of this layout. */
  extra: string[];
}

export class PfDriver implements Driver {
  readonly kind = 'pf' as const;
  readonly tables: BucketTable[];
  private readonly config: Config;
  private readonly pfctl: Pfctl;

  constructor(config: Config, pfctl: Pfctl = pfctlRunner(config.pf)) {
    this.config = config;
    this.pfctl = pfctl;
    this.tables = bucketTables(buildPartition(config.buckets));
  }

  private families(): Array<'inet' | 'inet6'> {
    return (['inet', 'inet6'] as const).filter((f) => this.config.services.some((s) => s.family === f));
  }

  /** What the layout needs of pf's `set limit tables` and `set limit table-entries`. */
  demand(): { tables: number; tableEntries: number } {
    const families = this.families();
    let entries = 0;
    for (const t of this.tables) for (const f of families) entries += (f === 'inet' ? t.inet : t.inet6).length;
    return { tables: this.tables.length * families.length, tableEntries: entries };
  }

  async prepare(): Promise<void> {
    const r = await pfctlOk(this.pfctl, ['-s', 'memory']);
    const limits = parseMemory(r.stdout, 'pfctl -s memory');
    const need = this.demand();
    // FreeBSD prints no `tables` pool; there the configured value is all we know.
    const tables = limits.get('tables') ?? this.config.pf.tablesLimit;
    const entries = limits.get('table-entries') ?? this.config.pf.tableEntriesLimit;
    const problems: string[] = [];
    if (need.tables > tables) problems.push(`${need.tables} tables, pf allows ${tables}: add "set limit tables ${need.tables * 2}" to pf.conf`);
    if (need.tableEntries > entries) problems.push(`${need.tableEntries} table entries, pf allows ${entries}: add "set limit table-entries ${need.tableEntries * 2}" to pf.conf, or use coarser buckets.inet_prefix`);
    if (problems.length > 0) throw new PfsteerError('pf-limits', `the bucket layout does not fit pf's limits: ${problems.join('; ')}`);
  }

  private anchorPattern(): RegExp {
    const parent = this.config.pf.anchor.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    return new RegExp(`^${parent}/b(\\d{4,})$`);
  }

  /** Every bucket anchor decoded, plus anything else found under the parent anchor. */
  async readAnchors(options: ObserveOptions = {}): Promise<AnchorReading> {
    const parent = this.config.pf.anchor;
    const listed = parseAnchors((await pfctlOk(this.pfctl, ['-a', parent, '-s', 'Anchors'])).stdout, `pfctl -a ${parent} -s Anchors`);
    const pattern = this.anchorPattern();
    const present = new Set<number>();
    const extra: string[] = [];
    for (const name of listed) {
      const m = pattern.exec(name);
      const bucket = m ? Number(m[1]) : -1;
      if (m && bucket < this.config.buckets.count && anchorName(this.config, bucket) === name) present.add(bucket);
      else extra.push(name);
    }
    const all = Array.from({ length: this.config.buckets.count }, (_, b) => b);
    const buckets = await mapBounded(all, this.config.pf.concurrency, async (bucket): Promise<ObservedBucket> => {
      const name = anchorName(this.config, bucket);
      if (!present.has(bucket)) return { bucket, problems: [`anchor ${name} is missing`] };
      return decodeAnchor(this.config, bucket, this.tables[bucket]!, {
        rules: await this.readRules(name),
        ...(options.tables === false ? {} : { tables: await this.readTables(name, bucket) }),
      });
    });
    return { buckets, extra };
  }

  private async readRules(name: string) {
    const what = this.config.pf.dialect === 'freebsd' ? 'nat' : 'rules';
    const args = ['-a', name, '-vv', '-P', '-s', what];
    return parseRuleset((await pfctlOk(this.pfctl, args)).stdout, `pfctl ${args.join(' ')}`).rules;
  }

  private async readTables(name: string, bucket: number): Promise<Map<string, Cidr[] | undefined>> {
    const out = new Map<string, Cidr[] | undefined>();
    for (const family of this.families()) {
      const table = tableName(bucket, family);
      const args = ['-a', name, '-t', table, '-T', 'show'];
      const r = await this.pfctl(args);
      if (r.exitCode !== 0) {
        if (/Table does not exist/i.test(r.stderr)) {
          out.set(table, undefined);
          continue;
        }
        throw new PfctlError(r.command, r.exitCode, r.stderr, `exited ${r.exitCode}`);
      }
      out.set(table, parseTableShow(r.stdout, `pfctl ${args.join(' ')}`));
    }
    return out;
  }

  async observe(options?: ObserveOptions): Promise<ObservedBucket[]> {
    return (await this.readAnchors(options)).buckets;
  }

  /** The text `apply` loads for one assignment. */
  render(assignment: BucketAssignment): string {
    return renderAnchor(this.config, this.tables[assignment.bucket]!, assignment);
  }

  apply(assignments: readonly BucketAssignment[]): Promise<ApplyResult[]> {
    return mapBounded(assignments, this.config.pf.concurrency, async (a): Promise<ApplyResult> => {
      try {
        await pfctlOk(this.pfctl, ['-a', anchorName(this.config, a.bucket), '-f', '-'], this.render(a));
        return { bucket: a.bucket, ok: true };
      } catch (error) {
        return { bucket: a.bucket, ok: false, error: error instanceof Error ? error : new Error(String(error)) };
      }
    });
  }

  async killStates(address: IpAddress): Promise<number> {
    if (this.config.pf.dialect === 'freebsd') {
      const any = address.family === 4 ? '0.0.0.0/0' : '::/0';
      const r = await pfctlOk(this.pfctl, ['-k', 'nat', '-k', any, '-k', formatAddress(address)]);
      return parseKilled(r.stderr) ?? 0;
    }
    const listing = await pfctlOk(this.pfctl, ['-s', 'state', '-vv']);
    const ids = parseStates(listing.stdout, 'pfctl -s state -vv')
      .filter((s) => sameAddress(s.destination, address))
      .map((s) => {
        if (s.id === undefined) throw new PfsteerError('pf-parse', 'pfctl -s state -vv printed a state without an id');
        return s.id;
      });
    const killed = await mapBounded(ids, this.config.pf.concurrency, async (id) => parseKilled((await pfctlOk(this.pfctl, ['-k', 'id', '-k', id])).stderr) ?? 0);
    return killed.reduce((a, b) => a + b, 0);
  }

  /**
   * Live client connections steered to `addresses`: inbound states pf translated to them. The
   * firewall's own connections to a host (health checks) are not rdr'd and do not count, nor
   * do closed connections pf still remembers.
   */
  async countStates(addresses: readonly IpAddress[]): Promise<number> {
    if (addresses.length === 0) return 0;
    const r = await pfctlOk(this.pfctl, ['-s', 'state']);
    return parseStates(r.stdout, 'pfctl -s state').filter((s) => s.direction === 'in' && s.translated && !isClosing(s) && addresses.some((a) => sameAddress(a, s.destination))).length;
  }

  async close(): Promise<void> {}
}
