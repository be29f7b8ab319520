/**
 * What `status --json` carries so that two firewalls can be compared: the mapping (digest,
 * parameters, every bucket's owner) and per host its weight, health and drains. Also the reader
 * of a peer's status JSON, which says plainly when a file is something else.
 */
import { PfsteerError } from '../errors.ts';
import type { EffectiveMapping, PartitionSpec } from '../mapping/digest.ts';
import type { DrainSource } from '../daemon/drains.ts';

/**
 * The mapping as JSON. JSON has no undefined, so an owner is a host name, `""` for an empty
 * bucket (policy fallthrough), or `null` where the daemon does not know what the filter holds.
 */
export interface MappingStatus {
  digest: string;
  buckets: number;
  seed: number;
  partition: PartitionSpec;
  owners: Array<string | null>;
}

export interface HostPairStatus {
  name: string;
  weight: number;
  state: string;
  drains: Array<{ source: DrainSource; since: string }>;
}

/** The part of a status the comparison reads, normalised. */
export interface PairSide {
  digest: string;
  mapping: EffectiveMapping;
  hosts: Array<{ name: string; weight: number; state: string; drains: DrainSource[] }>;
}

export function mappingStatus(mapping: EffectiveMapping, digest: string): MappingStatus {
  const owners = Array.from({ length: mapping.buckets }, (_, b) => {
    const owner = mapping.owners[b];
    return owner === undefined ? null : (owner ?? '');
  });
  return { digest, buckets: mapping.buckets, seed: mapping.seed, partition: mapping.partition, owners };
}

export class PeerStatusError extends PfsteerError {
  constructor(origin: string, problem: string) {
    super('peer-status', `${origin} is not a pfsteer status JSON (the output of \`pfsteer status --json\`): ${problem}`);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0;

function readPartition(value: unknown, fail: (problem: string) => never): PartitionSpec {
  if (!isObject(value)) fail('`mapping.partition` is missing');
  if (value.kind === 'jhash') return { kind: 'jhash' };
  if (value.kind === 'prefix' && isCount(value.inetPrefix) && isCount(value.inet6Prefix)) return { kind: 'prefix', inetPrefix: value.inetPrefix, inet6Prefix: value.inet6Prefix };
  return fail('`mapping.partition` is neither {kind: "prefix", inetPrefix, inet6Prefix} nor {kind: "jhash"}');
}

/** Parses and checks a status JSON; every way it can be wrong is a PeerStatusError naming the field. */
export function readPairStatus(text: string, origin: string): PairSide {
  const fail = (problem: string): never => {
    throw new PeerStatusError(origin, problem);
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return fail(`not JSON (${(error as Error).message})`);
  }
  if (!isObject(parsed)) return fail('expected a JSON object');
  const { mapping, hosts } = parsed;
  if (!isObject(mapping)) return fail('it has no `mapping` (a pfsteer without the mapping digest, or another file)');
  if (typeof mapping.digest !== 'string' || !/^[0-9a-f]{16}$/.test(mapping.digest)) fail('`mapping.digest` is not 16 hex digits');
  if (!isCount(mapping.buckets) || mapping.buckets === 0) fail('`mapping.buckets` is not a bucket count');
  if (!isCount(mapping.seed)) fail('`mapping.seed` is not a seed');
  const buckets = mapping.buckets as number;
  const owners = mapping.owners;
  if (!Array.isArray(owners) || owners.length !== buckets) fail(`\`mapping.owners\` is not a list of ${buckets} owners`);
  const bad = (owners as unknown[]).findIndex((o) => o !== null && typeof o !== 'string');
  if (bad >= 0) fail(`\`mapping.owners[${bad}]\` is neither a host name, "" nor null`);
  if (!Array.isArray(hosts)) return fail('it has no `hosts` list');
  const sides = hosts.map((h: unknown, i) => {
    if (!isObject(h) || typeof h.name !== 'string' || !isCount(h.weight) || typeof h.state !== 'string' || !Array.isArray(h.drains)) {
      return fail(`\`hosts[${i}]\` lacks name, weight, state or drains`);
    }
    const drains = h.drains.map((d: unknown) => (isObject(d) && (d.source === 'config' || d.source === 'runtime') ? d.source : fail(`\`hosts[${i}].drains\` has a drain without a source`)));
    return { name: h.name, weight: h.weight, state: h.state, drains };
  });
  return {
    digest: mapping.digest as string,
    mapping: {
      buckets,
      seed: mapping.seed as number,
      partition: readPartition(mapping.partition, fail),
      owners: (owners as Array<string | null>).map((o) => (o === null ? undefined : o === '' ? null : o)),
    },
    hosts: sides,
  };
}
