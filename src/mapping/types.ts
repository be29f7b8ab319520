/**
 * A mapping algorithm is built once per configured universe (hosts, weights, B, seed) and then
 * answers, for any healthy subset, the owner of every bucket. Building may be costly; answering
 * is what runs on every health change. Both are pure.
 */
export interface HostSpec {
  name: string;
  weight: number;
}

export interface MappingInput {
  hosts: readonly HostSpec[];
  buckets: number;
  seed: number;
}

/** Owner host name per bucket (index = bucket); null where no host is healthy. */
export type Owners = (string | null)[];

export interface Mapper {
  owners(healthy: ReadonlySet<string>): Owners;
}

export interface Algorithm {
  name: string;
  /** One line for tables and --help. */
  summary: string;
  build(input: MappingInput): Mapper;
}
