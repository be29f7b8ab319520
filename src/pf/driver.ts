/**
 * The pf driver: pfsteer's one anchor through the real pfctl.
 *
 * Two ways to change it. The whole anchor (rules and every table with its contents) is one
 * `pfctl -a <anchor> -f -`, which pf commits as one transaction: used at start, when the rules
 * change (a reload), and to repair anything the driver cannot account for. A health change,
 * drain or undrain only moves bucket prefixes between host tables: per table that gains, one
 * `pfctl -a <anchor> -t T -T add -f -`, then per table that loses, one `-T delete -f -` (or
 * `-T flush` when it empties). Adds go first (make-before-break): while a bucket moves its
 * prefixes are in its old owner's table, then in both (the first rule wins: old or new owner),
 * then in its new owner's only; never in none. Each table command is atomic in pf. A failed add
 * leaves the bucket with its old owner and its delete is not sent; a failed delete leaves it in
 * both tables; either way the bucket is reported failed and the retry sends what is missing.
 * A command whose outcome is unknown (timeout, pfctl that did not run) makes the next apply a
 * whole-anchor load, which converges from any state.
 *
 * Killing a host's states: an rdr'd state keeps the client's view (to the external address) as
 * its wire key and the host's address as its stack key. `pfctl -k 0.0.0.0/0 -k <host>` matches
 * the wire key and so misses them; FreeBSD's `-k nat` switches the match to the stack key
 * (pfctl(8): "killed based on their pre-NAT address"), which is the host. OpenBSD's pfctl has no
 * such switch, so there the driver lists states with `-s state -vv` and kills each one whose
 * stack-side destination is the host by its id.
 */
import type { Logger } from 'pino';
import type { BucketTable } from '../buckets/partition.ts';
import { bucketTables, buildPartition } from '../buckets/partition.ts';
import type { Config } from '../config/model.ts';
import { mapBounded } from '../drivers/bounded.ts';
import type { ApplyContext, ApplyResult, BucketAssignment, Driver, HookCheck, ObservedBucket } from '../drivers/driver.ts';
import { PfsteerError } from '../errors.ts';
import type { Cidr, IpAddress } from '../net/address.ts';
import { formatAddress, formatCidr, sameAddress } from '../net/address.ts';
import { decodeAnchor, type DecodedAnchor } from './decode.ts';
import { findHook } from './hook.ts';
import { isClosing, parseAnchors, parseKilled, parseMemory, parseStates, parseTableNames, parseTableShow } from './output.ts';
import type { Pfctl } from './pfctl.ts';
import { PfctlError, pfctlOk, pfctlRunner } from './pfctl.ts';
import { familiesOf, renderAnchor, tableName, type PfFamily } from './render.ts';
import { parseRuleset, type PfRule } from './rules.ts';

/** Everything read from the anchor, decoded. */
export interface AnchorReading extends DecodedAnchor {
  /** Anchors under pfsteer's: the old per-bucket layout (`pfsteer/bNNNN`) or strangers. */
  children: string[];
  /** Whether the anchor existed at all. */
  present: boolean;
}

export interface PfDriverOptions {
  pfctl?: Pfctl;
  logger?: Logger;
}

/** What one apply sent, for tests and the bench. */
export interface ApplyStats {
  calls: number;
  entries: number;
  wholeAnchor: boolean;
}

/** pfctl says this when an anchor has never been loaded and nothing refers to it. */
const NO_ANCHOR = /DIOCGETRULES|DIOCGETRULESETS|Invalid argument|does not exist/i;

export class PfDriver implements Driver {
  readonly kind = 'pf' as const;
  readonly tables: BucketTable[];
  private readonly config: Config;
  private readonly pfctl: Pfctl;
  private readonly logger: Logger | undefined;
  /**
   * Per table, the buckets whose prefixes it holds, exactly; undefined when the driver cannot
   * account for the anchor (not read yet, unknown contents, rules not the config's).
   */
  private held: Map<string, Set<number>> | undefined;
  /** Old-layout anchors seen when reading; removed after the next whole-anchor load. */
  private oldChildren: string[] = [];
  /** Tables the anchor held that this layout does not use (a host removed from the config). */
  private staleTables: string[] = [];
  /** Serialises applies and reads: two interleaved diffs would each start from a stale `held`. */
  private applying: Promise<unknown> = Promise.resolve();
  /** Ends reads in flight at close, so a stopping daemon does not wait on a slow pfctl listing. */
  private readonly closing = new AbortController();
  lastApply: ApplyStats | undefined;

  constructor(config: Config, options: PfDriverOptions = {}) {
    this.config = config;
    this.pfctl = options.pfctl ?? pfctlRunner(config.pf);
    this.logger = options.logger;
    this.tables = bucketTables(buildPartition(config.buckets));
  }

  private families(): PfFamily[] {
    return familiesOf(this.config);
  }

  /** What the layout needs of pf's `set limit tables` (OpenBSD only) and `set limit table-entries`. */
  demand(): { tables: number; tableEntries: number } {
    const families = this.families();
    let entries = 0;
    for (const t of this.tables) for (const f of families) entries += t[f].length;
    return { tables: this.config.hosts.length * families.length, tableEntries: entries };
  }

  async prepare(): Promise<void> {
    const r = await pfctlOk(this.pfctl, ['-s', 'memory']);
    const limits = parseMemory(r.stdout, 'pfctl -s memory');
    const need = this.demand();
    const problems: string[] = [];
    // Only OpenBSD has a table-count limit (and prints its pool); FreeBSD pfctl rejects `set limit tables`.
    const tables = this.config.pf.dialect === 'openbsd' ? (limits.get('tables') ?? this.config.pf.tablesLimit) : undefined;
    if (tables !== undefined && need.tables > tables) problems.push(`${need.tables} tables, pf allows ${tables}: add "set limit tables ${need.tables * 2}" to pf.conf`);
    const entries = limits.get('table-entries') ?? this.config.pf.tableEntriesLimit;
    if (need.tableEntries > entries) {
      problems.push(`${need.tableEntries} table entries, pf allows ${entries}: add "set limit table-entries ${need.tableEntries * 2}" to pf.conf, or use coarser buckets.inet_prefix`);
    }
    if (problems.length > 0) throw new PfsteerError('pf-limits', `the bucket layout does not fit pf's limits: ${problems.join('; ')}`);
  }

  private anchor(): string {
    return this.config.pf.anchor;
  }

  /** `pfctl -a ANCHOR ...args`, its output parsed; `missing` while the anchor does not exist. */
  private async show<T>(args: string[], parse: (text: string, source: string) => T, missing: T): Promise<T> {
    const argv = ['-a', this.anchor(), ...args];
    const r = await this.pfctl(argv, undefined, this.closing.signal);
    if (r.exitCode !== 0) {
      if (NO_ANCHOR.test(r.stderr)) return missing;
      throw new PfctlError(r.command, r.exitCode, r.stderr, `exited ${r.exitCode}`);
    }
    return parse(r.stdout, `pfctl ${argv.join(' ')}`);
  }

  private readRules(): Promise<PfRule[] | undefined> {
    const what = this.config.pf.dialect === 'freebsd' ? 'nat' : 'rules';
    return this.show<PfRule[] | undefined>(['-vv', '-P', '-s', what], (text, source) => parseRuleset(text, source).rules, undefined);
  }

  private readChildren(): Promise<string[]> {
    return this.show(['-s', 'Anchors'], parseAnchors, []);
  }

  private readTableNames(): Promise<string[]> {
    return this.show(['-s', 'Tables'], parseTableNames, []);
  }

  private async readTable(name: string): Promise<Cidr[] | undefined> {
    const args = ['-a', this.anchor(), '-t', name, '-T', 'show'];
    const r = await this.pfctl(args, undefined, this.closing.signal);
    if (r.exitCode !== 0) {
      if (/Table does not exist/i.test(r.stderr)) return undefined;
      throw new PfctlError(r.command, r.exitCode, r.stderr, `exited ${r.exitCode}`);
    }
    return parseTableShow(r.stdout, `pfctl ${args.join(' ')}`);
  }

  /**
   * The anchor's rules and tables, decoded per bucket: 3 calls plus one per table, whatever B
   * is. Drift checks read the table contents too, since they are the mapping.
   */
  async readAnchor(): Promise<AnchorReading> {
    const children = await this.readChildren();
    const rules = await this.readRules();
    const names = rules === undefined ? [] : await this.readTableNames();
    const expected = new Set(this.config.hosts.flatMap((h) => this.families().map((f) => tableName(h.name, f))));
    const contents = new Map<string, readonly Cidr[]>();
    if (rules !== undefined) {
      const all = [...new Set([...names, ...expected])];
      const read = await mapBounded(all, this.config.pf.concurrency, async (name) => [name, await this.readTable(name)] as const);
      for (const [name, cidrs] of read) if (cidrs !== undefined) contents.set(name, cidrs);
    }
    const known = this.heldOwners();
    const decoded = decodeAnchor(this.config, this.tables, { rules: rules ?? [], tables: contents }, (b) => known[b] ?? null);
    this.oldChildren = children.filter((c) => this.isOldBucketAnchor(c));
    this.staleTables = names.filter((n) => !expected.has(n));
    this.held = this.accountable(decoded) ? this.heldFrom(contents, known) : undefined;
    return { ...decoded, children, present: rules !== undefined };
  }

  /** `pfsteer/b0042`: the per-bucket layout before this one. */
  private isOldBucketAnchor(name: string): boolean {
    return name.startsWith(`${this.anchor()}/b`) && /^\d{4,}$/.test(name.slice(this.anchor().length + 2));
  }

  /** Whether table diffs can start from what was read: the rules are the config's and every table holds whole buckets. */
  private accountable(decoded: DecodedAnchor): boolean {
    if (decoded.problems.length > 0 || decoded.badRules.size > 0) return false;
    // A bucket in two tables is an interrupted move, which table commands finish; split buckets are not.
    return decoded.buckets.every((b) => b.assignment !== undefined || b.problems.every((p) => p.includes(' is in the tables of ')));
  }

  /** Buckets per table from what was read; a bucket without prefixes keeps the owner it was loaded with. */
  private heldFrom(contents: ReadonlyMap<string, readonly Cidr[]>, known: ReadonlyArray<string | null | undefined>): Map<string, Set<number>> {
    const bucketOf = new Map<string, number>();
    this.tables.forEach((t, bucket) => {
      for (const f of this.families()) for (const c of t[f]) bucketOf.set(formatCidr(c), bucket);
    });
    const held = new Map<string, Set<number>>();
    for (const [name, cidrs] of contents) held.set(name, new Set(cidrs.map((c) => bucketOf.get(formatCidr(c))!)));
    known.forEach((owner, bucket) => {
      if (!owner || this.families().some((f) => this.tables[bucket]![f].length > 0)) return;
      for (const f of this.families()) held.get(tableName(owner, f))?.add(bucket);
    });
    return held;
  }

  private cidrsOf(buckets: Iterable<number>, table: string): Cidr[] {
    const family: PfFamily = table.endsWith('-v6') ? 'inet6' : 'inet';
    return [...buckets].sort((a, b) => a - b).flatMap((b) => this.tables[b]![family]);
  }

  /** Queued behind a running apply: a read in the middle of a move would see half of it and take it for the state. */
  private serialised<T>(work: () => Promise<T>): Promise<T> {
    const next = this.applying.then(work);
    this.applying = next.catch(() => undefined);
    return next;
  }

  async observe(): Promise<ObservedBucket[]> {
    const reading = await this.serialised(() => this.readAnchor());
    if (reading.problems.length === 0) return reading.buckets;
    // Something wrong with the anchor as a whole: every bucket is suspect, and one load repairs all.
    const note = `anchor ${this.anchor()}: ${reading.problems[0]}${reading.problems.length > 1 ? ` (and ${reading.problems.length - 1} more)` : ''}`;
    return reading.buckets.map((b) => ({ bucket: b.bucket, problems: [...b.problems, note] }));
  }

  /** The text a whole-anchor load sends for these owners. */
  render(owners: ReadonlyArray<string | null>): string {
    return renderAnchor(this.config, this.tables, owners);
  }

  apply(assignments: readonly BucketAssignment[], context?: ApplyContext): Promise<ApplyResult[]> {
    return this.serialised(() => this.applyNow(assignments, context));
  }

  /** Owner per bucket as last loaded or read (null: in no table), from the first family's tables. */
  private heldOwners(): Array<string | null | undefined> {
    const owners = new Array<string | null | undefined>(this.config.buckets.count).fill(this.held ? null : undefined);
    const family = this.families()[0];
    if (!this.held || !family) return owners;
    for (const host of this.config.hosts) for (const b of this.held.get(tableName(host.name, family)) ?? []) owners[b] = host.name;
    return owners;
  }

  /** Owner per bucket after this apply: the context's mapping, else what is held with the changes on top. */
  private desiredOwners(assignments: readonly BucketAssignment[], context: ApplyContext | undefined): Array<string | null> {
    const owners = context ? new Array<string | null>(this.config.buckets.count).fill(null) : this.heldOwners().map((o) => o ?? null);
    if (context) for (const a of context.desired) owners[a.bucket] = a.host;
    for (const a of assignments) owners[a.bucket] = a.host;
    return owners;
  }

  private async applyNow(assignments: readonly BucketAssignment[], context: ApplyContext | undefined): Promise<ApplyResult[]> {
    if (assignments.length === 0) return [];
    const owners = this.desiredOwners(assignments, context);
    if (!this.held) return this.loadWhole(assignments, owners);
    return this.moveEntries(assignments, owners);
  }

  private async loadWhole(assignments: readonly BucketAssignment[], owners: Array<string | null>): Promise<ApplyResult[]> {
    const text = this.render(owners);
    this.lastApply = { calls: 1, entries: 0, wholeAnchor: true };
    try {
      // `-o none`: pfctl's optimizer (on by default, for filter rules: OpenBSD's pass rules) would
      // reorder the rules, fold address lists into tables of its own and drop covered rules, so
      // pf would hold something other than what was rendered and read-back would see drift.
      await pfctlOk(this.pfctl, ['-o', 'none', '-a', this.anchor(), '-f', '-'], text);
    } catch (error) {
      // A refused load leaves pf as it was; a timed-out one is unknown: `held` stays undefined either way.
      return assignments.map((a) => ({ bucket: a.bucket, ok: false, error: asError(error) }));
    }
    const held = new Map<string, Set<number>>();
    for (const host of this.config.hosts) for (const f of this.families()) held.set(tableName(host.name, f), new Set());
    owners.forEach((owner, bucket) => {
      if (owner !== null) for (const f of this.families()) held.get(tableName(owner, f))!.add(bucket);
    });
    this.held = held;
    await this.removeLeftovers();
    return assignments.map((a) => ({ bucket: a.bucket, ok: true }));
  }

  /** After a whole-anchor load: the old per-bucket anchors and tables of removed hosts go. */
  private async removeLeftovers(): Promise<void> {
    const old = this.oldChildren;
    this.oldChildren = [];
    if (old.length > 0) {
      this.logger?.warn(
        { removed: old.length, hook: this.config.pf.dialect === 'freebsd' ? `rdr-anchor "${this.anchor()}"` : `anchor "${this.anchor()}"` },
        `the pf.conf hook changed: pfsteer now loads one anchor "${this.anchor()}" instead of one per bucket under "${this.anchor()}/*"; removing ${old.length} old bucket anchors. pf.conf must hold the new line in place of the old`,
      );
      await mapBounded(old, this.config.pf.concurrency, (name) => this.quietly(['-a', name, '-F', 'all']));
    }
    const stale = this.staleTables;
    this.staleTables = [];
    await mapBounded(stale, this.config.pf.concurrency, (name) => this.quietly(['-a', this.anchor(), '-t', name, '-T', 'kill']));
  }

  /** Cleanup that must not fail an apply: what it could not remove, inspect names. */
  private async quietly(args: string[]): Promise<void> {
    try {
      const r = await this.pfctl(args);
      if (r.exitCode !== 0) this.logger?.warn({ command: r.command.join(' '), stderr: r.stderr.trim() }, 'could not remove a leftover of the old layout');
    } catch (error) {
      this.logger?.warn({ err: error }, 'could not remove a leftover of the old layout');
    }
  }

  private async tableCommand(table: string, command: 'add' | 'delete' | 'flush', buckets: readonly number[]): Promise<void> {
    const args = ['-a', this.anchor(), '-t', table, '-T', command];
    if (command === 'flush') {
      await pfctlOk(this.pfctl, args);
    } else {
      const cidrs = this.cidrsOf(buckets, table);
      // Buckets without prefixes in this family: nothing to send, the table is already right.
      if (cidrs.length === 0) return;
      this.lastApply!.entries += cidrs.length;
      await pfctlOk(this.pfctl, [...args, '-f', '-'], cidrs.map((c) => `${formatCidr(c)}\n`).join(''));
    }
    this.lastApply!.calls++;
  }

  private async moveEntries(assignments: readonly BucketAssignment[], owners: ReadonlyArray<string | null>): Promise<ApplyResult[]> {
    const held = this.held!;
    this.lastApply = { calls: 0, entries: 0, wholeAnchor: false };
    const adds = new Map<string, number[]>();
    const deletes = new Map<string, number[]>();
    for (const host of this.config.hosts) {
      for (const f of this.families()) {
        const name = tableName(host.name, f);
        const now = held.get(name) ?? new Set<number>();
        const add = owners.flatMap((o, b) => (o === host.name && !now.has(b) ? [b] : []));
        const del = [...now].filter((b) => owners[b] !== host.name);
        if (add.length > 0) adds.set(name, add);
        if (del.length > 0) deletes.set(name, del.sort((a, b) => a - b));
      }
    }
    const failed = new Map<number, Error>();
    let unknown = false;
    const run = async (table: string, command: 'add' | 'delete' | 'flush', buckets: number[]): Promise<void> => {
      try {
        await this.tableCommand(table, command, buckets);
        const set = held.get(table) ?? new Set<number>();
        held.set(table, set);
        for (const b of buckets) {
          if (command === 'add') set.add(b);
          else set.delete(b);
        }
      } catch (error) {
        // pfctl exited non-zero: pf refused the whole command. Anything else: outcome unknown.
        if (!(error instanceof PfctlError && error.exitCode !== undefined && error.exitCode !== 0)) unknown = true;
        for (const b of buckets) if (!failed.has(b)) failed.set(b, asError(error));
      }
    };
    await mapBounded([...adds], this.config.pf.concurrency, ([table, buckets]) => run(table, 'add', buckets));
    // A bucket leaves its old table only once it is in its new one.
    const ready = [...deletes].map(([table, buckets]) => [table, buckets.filter((b) => !failed.has(b))] as const).filter(([, b]) => b.length > 0);
    await mapBounded(ready, this.config.pf.concurrency, ([table, buckets]) => run(table, buckets.length === held.get(table)?.size ? 'flush' : 'delete', [...buckets]));
    if (unknown) this.held = undefined;
    return assignments.map((a) => {
      const error = failed.get(a.bucket);
      return error ? { bucket: a.bucket, ok: false, error } : { bucket: a.bucket, ok: true };
    });
  }

  async checkHook(): Promise<HookCheck> {
    const what = this.config.pf.dialect === 'freebsd' ? 'nat' : 'rules';
    const r = await pfctlOk(this.pfctl, ['-s', what], undefined, this.closing.signal);
    return findHook(this.config, r.stdout);
  }

  async flush(): Promise<string[]> {
    const removed: string[] = [];
    for (const child of await this.readChildren()) {
      await pfctlOk(this.pfctl, ['-a', child, '-F', 'all']);
      removed.push(`anchor ${child}`);
    }
    const names = await this.readTableNames();
    const r = await this.pfctl(['-a', this.anchor(), '-F', 'all']);
    if (r.exitCode !== 0 && !NO_ANCHOR.test(r.stderr)) throw new PfctlError(r.command, r.exitCode, r.stderr, `exited ${r.exitCode}`);
    if (r.exitCode === 0) removed.push(`anchor ${this.anchor()}: its rules and ${names.length} table(s)${names.length > 0 ? ` (${names.join(', ')})` : ''}`);
    this.held = undefined;
    return removed;
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

  /** Cancels reads in flight; a load or table command in flight finishes (pf takes each whole). */
  async close(): Promise<void> {
    this.closing.abort();
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
