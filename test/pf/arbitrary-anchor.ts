/**
 * Random configs and owners for the pf anchor's tests: partitions small enough to render many
 * anchors per second, and a spread of owners that leaves some buckets empty.
 */
import fc from 'fast-check';
import type { Config } from '../../src/config/model.ts';
import { arbConfig } from '../config/arbitrary-config.ts';

export const arbSmallConfig = arbConfig().chain((config) =>
  fc
    .record({ count: fc.constantFrom(16, 32, 64), inetPrefix: fc.integer({ min: 6, max: 10 }), inet6Prefix: fc.integer({ min: 4, max: 10 }) })
    .map((b): Config => ({ ...config, buckets: { ...config.buckets, ...b } })),
);

/** Owners spread over the hosts by `seed`, one bucket in N + 1 left empty (null). */
export function randomOwners(config: Config, seed: number): Array<string | null> {
  return Array.from({ length: config.buckets.count }, (_, b) => {
    const k = (b * 2654435761 + seed) % (config.hosts.length + 1);
    return k === config.hosts.length ? null : config.hosts[k]!.name;
  });
}
