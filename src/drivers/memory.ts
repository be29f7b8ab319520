/**
 * A filter held in memory: what `plan` compares against when asked for no driver, and what
 * in-process tests of the daemon run on. It records every load, and can be told to fail.
 */
import { sameAddress, type IpAddress } from '../net/address.ts';
import { PfsteerError } from '../errors.ts';
import type { ApplyResult, BucketAssignment, Driver, ObservedBucket } from './driver.ts';

export class MemoryDriver implements Driver {
  readonly kind = 'memory' as const;
  readonly buckets = new Map<number, BucketAssignment>();
  /** Every bucket load in order, for tests that count them. */
  readonly loads: number[] = [];
  /** States per redirect target, as pf would count them. */
  readonly states: Array<{ address: IpAddress; count: number }> = [];
  /** Loads of these buckets fail until removed. */
  readonly failing = new Set<number>();

  async observe(): Promise<ObservedBucket[]> {
    return [...this.buckets.values()].map((assignment) => ({ bucket: assignment.bucket, assignment, problems: [] }));
  }

  async apply(assignments: readonly BucketAssignment[]): Promise<ApplyResult[]> {
    return assignments.map((assignment) => {
      this.loads.push(assignment.bucket);
      if (this.failing.has(assignment.bucket)) {
        return { bucket: assignment.bucket, ok: false, error: new PfsteerError('memory-fail', `bucket ${assignment.bucket} set to fail`) };
      }
      this.buckets.set(assignment.bucket, assignment);
      return { bucket: assignment.bucket, ok: true };
    });
  }

  async killStates(address: IpAddress): Promise<number> {
    let killed = 0;
    for (const entry of this.states) {
      if (sameAddress(entry.address, address)) {
        killed += entry.count;
        entry.count = 0;
      }
    }
    return killed;
  }

  async countStates(addresses: readonly IpAddress[]): Promise<number> {
    return this.states.filter((s) => addresses.some((a) => sameAddress(a, s.address))).reduce((sum, s) => sum + s.count, 0);
  }

  async close(): Promise<void> {}
}
