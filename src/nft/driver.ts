/**
 * The nft driver: the only part that runs nft and conntrack. Every change is one `nft -f -`
 * batch, which the kernel applies whole or not at all.
 */
import { execa } from 'execa';
import type { Config, Host } from '../config/model.ts';
import type { ApplyResult, BucketAssignment, Driver, ObservedBucket } from '../drivers/driver.ts';
import { PfsteerError } from '../errors.ts';
import type { IpAddress } from '../net/address.ts';
import { formatAddress } from '../net/address.ts';
import { decodeBuckets, layoutProblems } from './decode.ts';
import type { NftLayout } from './layout.ts';
import { nftLayoutOf } from './layout.ts';
import { emptyListing, parseListing, type NftListing } from './parse.ts';
import { mapType, renderAssignments, renderSetup } from './render.ts';

/** nft or conntrack failed; keeps the command, exit code and stderr. */
export class NftCommandError extends PfsteerError {
  readonly command: string[];
  readonly exitCode: number | undefined;
  readonly stderr: string;

  constructor(code: string, command: string[], exitCode: number | undefined, stderr: string, options?: { cause?: unknown }) {
    super(code, `${command.join(' ')} exited ${exitCode ?? 'abnormally'}: ${stderr.trim()}`, options);
    this.command = command;
    this.exitCode = exitCode;
    this.stderr = stderr;
  }
}

interface Run {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
}

const CONNTRACK_COUNT = /(\d+) flow entries have been (?:deleted|shown)/;

/**
 * Whether a `conntrack -L` line is a DNATed flow: the reply comes from another address than the
 * client dialled. (`--dst-nat ADDR` would say so too, but conntrack 1.4.7 ignores its address
 * for IPv6.)
 */
export function isTranslated(line: string): boolean {
  const dialled = /\bdst=(\S+)/.exec(line)?.[1];
  const replier = [...line.matchAll(/\bsrc=(\S+)/g)][1]?.[1];
  return dialled !== undefined && replier !== undefined && dialled !== replier;
}

export class NftDriver implements Driver {
  readonly kind = 'nft' as const;
  readonly layout: NftLayout;
  private readonly hosts: readonly Host[];
  private readonly config: Config['nft'];
  private ensured = false;
  /** Applies run one at a time: each batch is computed from a listing the next must not race. */
  private applying: Promise<unknown> = Promise.resolve();

  constructor(config: Config) {
    this.layout = nftLayoutOf(config);
    this.hosts = config.hosts;
    this.config = config.nft;
  }

  private async run(program: string, args: string[], input?: string): Promise<Run> {
    const argv = [...this.config.commandPrefix, program, ...args];
    const r = await execa(argv[0]!, argv.slice(1), {
      reject: false,
      timeout: this.config.timeout,
      ...(input === undefined ? {} : { input }),
      env: { LC_ALL: 'C' },
    });
    // A timeout or a program that never ran; a non-zero exit is for the caller to judge.
    if (r.timedOut || (r.failed && r.exitCode === undefined)) {
      throw new NftCommandError('nft-exec', argv, r.exitCode, r.stderr, { cause: r });
    }
    return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr };
  }

  private async batch(text: string): Promise<void> {
    const r = await this.run(this.config.nft, ['-f', '-'], text);
    if (r.exitCode !== 0) throw new NftCommandError('nft-batch', [this.config.nft, '-f', '-'], r.exitCode, r.stderr);
  }

  /** What the kernel holds in pfsteer's table now; empty when the table does not exist. */
  async list(): Promise<NftListing> {
    const args = ['-j', 'list', 'table', 'inet', this.layout.table];
    const r = await this.run(this.config.nft, args);
    if (r.exitCode !== 0) {
      // nft's own "no such table" (not a missing program, which also says ENOENT).
      if (/^Error: No such file or directory\nlist table/m.test(r.stderr)) return emptyListing();
      throw new NftCommandError('nft-list', [this.config.nft, ...args], r.exitCode, r.stderr);
    }
    return parseListing(r.stdout, this.layout.table, this.layout.chain);
  }

  /** Setup text when table, rules or map types differ from the layout; map elements survive. */
  private setupFor(listing: NftListing): { text: string; stale: Set<string> } | undefined {
    if (this.ensured && layoutProblems(this.layout, listing).length === 0) return undefined;
    const stale = new Set(
      this.layout.services.filter((s) => {
        const m = listing.maps.get(s.map);
        return m !== undefined && m.type !== mapType(s);
      }).map((s) => s.map),
    );
    return { text: renderSetup(this.layout, [...stale]), stale };
  }

  async observe(): Promise<ObservedBucket[]> {
    return decodeBuckets(this.layout, await this.list(), this.hosts);
  }

  /** Deletes pfsteer's table (its chain, maps and counters go with it); nothing when absent. */
  async flush(): Promise<string[]> {
    const listing = await this.list();
    if (!listing.tableFound) return [];
    await this.batch(`delete table inet ${this.layout.table}\n`);
    this.ensured = false;
    return [`nft table inet ${this.layout.table}`];
  }

  apply(assignments: readonly BucketAssignment[]): Promise<ApplyResult[]> {
    const next = this.applying.then(() => this.applyNow(assignments));
    this.applying = next;
    return next;
  }

  private async applyNow(assignments: readonly BucketAssignment[]): Promise<ApplyResult[]> {
    try {
      const listing = await this.list();
      const setup = this.setupFor(listing);
      for (const map of setup?.stale ?? []) listing.maps.delete(map);
      const text = (setup?.text ?? '') + renderAssignments(this.layout, assignments, listing);
      if (text !== '') await this.batch(text);
      this.ensured = true;
      return assignments.map((a) => ({ bucket: a.bucket, ok: true }));
    } catch (error) {
      const err = error instanceof Error ? error : new Error(String(error));
      return assignments.map((a) => ({ bucket: a.bucket, ok: false, error: err }));
    }
  }

  /** DNATed flows have the host as their reply source, whatever the client dialled. */
  private conntrackArgs(op: '-D' | '-L', address: IpAddress): string[] {
    return [op, '-f', address.family === 4 ? 'ipv4' : 'ipv6', '--reply-src', formatAddress(address)];
  }

  async killStates(address: IpAddress): Promise<number> {
    const args = this.conntrackArgs('-D', address);
    const r = await this.run(this.config.conntrack, args);
    const m = CONNTRACK_COUNT.exec(r.stderr);
    // conntrack exits 1 when a delete matched nothing; the summary line still says 0.
    if (!m) throw new NftCommandError('conntrack', [this.config.conntrack, ...args], r.exitCode, r.stderr);
    return Number(m[1]);
  }

  /**
   * Steered flows still carrying traffic: TCP in TIME_WAIT or CLOSE is over (conntrack keeps it
   * for minutes), so a drain need not wait for it; nor for flows the rules did not translate,
   * such as this daemon's own checks of the host.
   */
  async countStates(addresses: readonly IpAddress[]): Promise<number> {
    let total = 0;
    for (const a of addresses) {
      const args = this.conntrackArgs('-L', a);
      const r = await this.run(this.config.conntrack, args);
      if (!CONNTRACK_COUNT.test(r.stderr)) throw new NftCommandError('conntrack', [this.config.conntrack, ...args], r.exitCode, r.stderr);
      total += r.stdout.split('\n').filter((line) => line !== '' && !/ (TIME_WAIT|CLOSE) /.test(line) && isTranslated(line)).length;
    }
    return total;
  }

  async close(): Promise<void> {}
}
