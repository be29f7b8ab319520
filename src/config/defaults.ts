/**
 * What an omitted key means. One table, so the loader, the serializer and the reference text
 * cannot drift apart.
 */
import type { CheckTiming } from './model.ts';

export const DEFAULT_TIMING: Readonly<Omit<CheckTiming, 'fastinter' | 'downinter'>> = {
  interval: 2000,
  timeout: 1000,
  rise: 2,
  fall: 3,
  jitter: 0,
};

export const DEFAULTS = {
  buckets: {
    count: 256,
    seed: 0,
    inetPrefix: 16,
    /**
     * 2000::/3 cut into /19 prefixes is 2^16 entries, as many as IPv4 at /16: together 131072,
     * inside pf's default 200000 table entries with room for the operator's own tables. Finer
     * prefixes need `pf.table_entries_limit` raised.
     */
    inet6Prefix: 19,
  },
  driver: 'pf',
  pf: {
    anchor: 'pfsteer',
    dialect: 'freebsd',
    pfctl: '/sbin/pfctl',
    timeout: 10_000,
    concurrency: 4,
    tableEntriesLimit: 200_000,
    tablesLimit: 1000,
  },
  nft: {
    nft: '/usr/sbin/nft',
    conntrack: '/usr/sbin/conntrack',
    table: 'pfsteer',
    timeout: 10_000,
  },
  policy: { allDown: 'keep', killStatesOnDown: 'unreachable' },
  control: { socket: '/var/run/pfsteer.sock', mode: 0o660 },
  daemon: { stateFile: '/var/db/pfsteer/state.json', driftInterval: 30_000, coalesce: 20 },
  service: { family: 'inet', protocol: 'tcp' },
  host: { weight: 1 },
  command: { timeout: 10_000, killAfter: 2000 },
  exec: { killAfter: 2000, maxOutput: 4096 },
  http: { path: '/', method: 'GET', expectStatus: [200], tlsVerify: true, fresh: true },
} as const;
