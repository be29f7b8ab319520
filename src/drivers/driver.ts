/**
 * The one interface through which pfsteer changes and reads the packet filter. The daemon,
 * `plan` and `inspect` speak only this; `pf`, `nft` and `memory` implement it.
 *
 * The unit is a bucket: every bucket has at most one owning host, and a driver turns that into
 * its own form (the prefixes in a host's pf table, an nft map element). Applying never leaves a
 * bucket half-routed: while it moves, its clients go to its old or its new owner, and a failed
 * bucket is reported so the caller retries it.
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
}

/** What the caller knows beyond the changes, for drivers whose unit of loading is larger than a bucket. */
export interface ApplyContext {
  /** The whole desired mapping, every bucket in order (the changes are among them). */
  desired: readonly BucketAssignment[];
}

/** Whether the main ruleset hands traffic to pfsteer. */
export interface HookCheck {
  ok: boolean;
  /** What is wrong and what to add where; empty when ok. */
  message: string;
}

export interface ApplyResult {
  bucket: number;
  ok: boolean;
  error?: Error;
}

export interface Driver {
  readonly kind: 'pf' | 'nft' | 'memory';
  /** Read every bucket the filter holds under pfsteer's name. */
  observe(): Promise<ObservedBucket[]>;
  /** Refuses, before anything is loaded, a layout the filter's limits cannot hold. */
  prepare?(): Promise<void>;
  /** Load the assignments, each bucket old or new at every instant; one result per assignment, in order. */
  apply(assignments: readonly BucketAssignment[], context?: ApplyContext): Promise<ApplyResult[]>;
  /** Reads the main ruleset: is pfsteer's hook there? (Drivers that own their whole table need none.) */
  checkHook?(): Promise<HookCheck>;
  /** Removes everything pfsteer loaded into the filter; returns what it removed, one line each. */
  flush?(): Promise<string[]>;
  /** Kill filter states whose redirect target is `address`; returns how many went. */
  killStates(address: IpAddress): Promise<number>;
  /** Count filter states whose redirect target is one of `addresses`. */
  countStates(addresses: readonly IpAddress[]): Promise<number>;
  close(): Promise<void>;
}
