/**
 * From the mapping's owners to what each bucket should hold: the owning host's internal
 * address for every service. Pure; every driver renders these.
 */
import type { Config } from '../config/model.ts';
import { sameAddress } from '../net/address.ts';
import type { Owners } from '../mapping/types.ts';
import type { BucketAssignment, ServiceRoute } from './driver.ts';

export function assignmentFor(config: Config, bucket: number, owner: string | null): BucketAssignment {
  if (owner === null) return { bucket, host: null, routes: [] };
  const host = config.hosts.find((h) => h.name === owner);
  if (!host) throw new Error(`assignment: bucket ${bucket} names host ${owner}, which the config does not have`);
  const routes: ServiceRoute[] = config.services.map((service) => {
    const target = host.targets[service.name]!;
    return { service: service.name, address: target.address, ...(target.port === undefined ? {} : { port: target.port }) };
  });
  return { bucket, host: owner, routes };
}

export function assignmentsFor(config: Config, owners: Owners): BucketAssignment[] {
  return owners.map((owner, bucket) => assignmentFor(config, bucket, owner));
}

/** Same host and same routes, in any order of services. */
export function sameAssignment(a: BucketAssignment | undefined, b: BucketAssignment | undefined): boolean {
  if (!a || !b) return a === b;
  if (a.bucket !== b.bucket || a.host !== b.host || a.routes.length !== b.routes.length) return false;
  return a.routes.every((route) => {
    const other = b.routes.find((r) => r.service === route.service);
    return other !== undefined && other.port === route.port && sameAddress(other.address, route.address);
  });
}
