/**
 * The reconcile plan: from health, drains and what the filter holds to the buckets that must be
 * loaded. Pure: the loop around it does the I/O, so every decision here is tested exhaustively.
 */
import type { AllDownPolicy, Config } from '../config/model.ts';
import { assignmentsFor, sameAssignment } from '../drivers/assignments.ts';
import type { BucketAssignment } from '../drivers/driver.ts';
import type { HostState } from '../health/types.ts';
import type { Mapper } from '../mapping/types.ts';

export interface PlanInput {
  config: Config;
  mapper: Mapper;
  states: ReadonlyMap<string, HostState>;
  drained: ReadonlySet<string>;
  /** What the filter holds per bucket, as last read or applied; absent = unknown or missing. */
  applied: ReadonlyMap<number, BucketAssignment>;
}

export interface Move {
  bucket: number;
  from: string | null | undefined;
  to: string | null;
}

export interface Plan {
  /** Hosts the mapping may use: not down and not drained. Unknown hosts keep their buckets. */
  eligible: string[];
  /** Every bucket as it should be, in bucket order. */
  desired: BucketAssignment[];
  /** Buckets to load, in bucket order. */
  changes: BucketAssignment[];
  moves: Move[];
  /** Set when no host is eligible: what the policy decided. */
  allDown?: AllDownPolicy;
}

export function eligibleHosts(config: Config, states: ReadonlyMap<string, HostState>, drained: ReadonlySet<string>): string[] {
  return config.hosts.map((h) => h.name).filter((name) => states.get(name) !== 'down' && !drained.has(name));
}

export function plan(input: PlanInput): Plan {
  const { config, applied } = input;
  const eligible = eligibleHosts(config, input.states, input.drained);
  let desired: BucketAssignment[];
  if (eligible.length > 0) {
    desired = assignmentsFor(config, input.mapper.owners(new Set(eligible)));
  } else if (config.policy.allDown === 'fallthrough') {
    desired = assignmentsFor(config, new Array<null>(config.buckets.count).fill(null));
  } else {
    // `keep`: buckets the filter already holds stay as they are; only missing ones are filled,
    // from the last mapping that had hosts, which is the mapping with every host eligible.
    const last = assignmentsFor(config, input.mapper.owners(new Set(config.hosts.map((h) => h.name))));
    desired = last.map((assignment) => applied.get(assignment.bucket) ?? assignment);
  }
  const changes = desired.filter((assignment) => !sameAssignment(applied.get(assignment.bucket), assignment));
  return {
    eligible,
    desired,
    changes,
    moves: changes.map((c) => ({ bucket: c.bucket, from: applied.get(c.bucket)?.host, to: c.host })),
    ...(eligible.length === 0 ? { allDown: config.policy.allDown } : {}),
  };
}

/** "lb2 -> lb1 x12, lb2 -> lb3 x11": the moves of one pass, grouped, for one log line. */
export function summarizeMoves(moves: readonly Move[]): string {
  const groups = new Map<string, number>();
  for (const move of moves) {
    const key = `${move.from === undefined ? '(unknown)' : (move.from ?? '(empty)')} -> ${move.to ?? '(empty)'}`;
    groups.set(key, (groups.get(key) ?? 0) + 1);
  }
  return [...groups].map(([key, count]) => `${key} x${count}`).join(', ');
}
