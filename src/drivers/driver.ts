/**
 * The one interface through which pfsteer changes and reads the packet filter. The daemon,
 * `plan` and `inspect` speak only this; `pf`, `nft` and `memory` implement it.
 *
 * The unit is a bucket: every bucket has at most one owning host, and a driver turns that into
 * its own form (a pf anchor, an nft map element). Applying one bucket is atomic: afterwards pf
 * holds either the old or the new form of that bucket, never a mix.
 */
import type { IpAddress } from '../net/address.ts';

/** Where one service's clients of one bucket are sent. */
export interface ServiceRoute {
  service: string;
  address: IpAddress;
  port?: number;
}

/** What one bucket should hold. `host: null` means an empty bucket (policy `fallthrough`). */
export interface BucketAssignment {
  bucket: number;
  host: string | null;
  routes: ServiceRoute[];
}

/** What the driver found for one bucket when it read the filter back. */
export interface ObservedBucket {
  bucket: number;
  /** Decoded assignment; `undefined` when absent or not decodable. */
  assignment?: BucketAssignment;
  /** Everything that differs from what this layout would render, by name; empty when clean. */
  problems: string[];
  /** Rule counters summed over the bucket, where the filter keeps them (pf). */
  counters?: { evaluations: number; packets: number; bytes: number; states: number };
}

export interface ObserveOptions {
  /**
   * Also read table contents (default true). Periodic drift checks skip them: tables are
   * constant and reading them triples the calls.
   */
  tables?: boolean;
}

export interface ApplyResult {
  bucket: number;
  ok: boolean;
  error?: Error;
}

export interface Driver {
  readonly kind: 'pf' | 'nft' | 'memory';
  /** Read every bucket the filter holds under pfsteer's name. */
  observe(options?: ObserveOptions): Promise<ObservedBucket[]>;
  /** Refuses, before anything is loaded, a layout the filter's limits cannot hold. */
  prepare?(): Promise<void>;
  /** Load each assignment atomically per bucket; one result per assignment, in order. */
  apply(assignments: readonly BucketAssignment[]): Promise<ApplyResult[]>;
  /** Kill filter states whose redirect target is `address`; returns how many went. */
  killStates(address: IpAddress): Promise<number>;
  /** Count filter states whose redirect target is one of `addresses`. */
  countStates(addresses: readonly IpAddress[]): Promise<number>;
  close(): Promise<void>;
}
