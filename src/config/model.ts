/**
 * The typed configuration every other stage reads. Produced only by the loader, after
 * validation, so consumers never re-check ranges or names. Durations are milliseconds.
 */
import type { Cidr, Family, IpAddress } from '../net/address.ts';

export type Dialect = 'freebsd' | 'openbsd';
export type DriverName = 'pf' | 'nft' | 'memory';
export type AllDownPolicy = 'keep' | 'fallthrough';
export type Protocol = 'tcp' | 'udp';

/** Timing shared by every check unless the check overrides it (haproxy meanings for rise/fall). */
export interface CheckTiming {
  interval: number;
  timeout: number;
  rise: number;
  fall: number;
  /** Interval while a check is changing state (haproxy `fastinter`). */
  fastinter: number;
  /** Interval while a check is down (haproxy `downinter`). */
  downinter: number;
  /** Up to this much random delay is added to each start so checks do not run in lockstep. */
  jitter: number;
}

export interface BucketsConfig {
  /** B: a power of two in 16..65536 (nft: up to 4096). */
  count: number;
  /** Seed of the source partition hash and of the mapping; pinned so both firewalls agree. */
  seed: number;
  /** Source prefix length for IPv4 clients. */
  inetPrefix: number;
  /** Source prefix length for IPv6 clients inside 2000::/3. */
  inet6Prefix: number;
}

export interface PfConfig {
  /** pfsteer's anchor: per-host source tables and their rules. */
  anchor: string;
  dialect: Dialect;
  /** Path of pfctl. */
  pfctl: string;
  /** Run pfctl through this, e.g. `[doas]` or `[sudo, -n]`. */
  commandPrefix: string[];
  /** Deadline of one pfctl call. */
  timeout: number;
  /** How many pfctl calls run at once. */
  concurrency: number;
  /** pf limits the layout must fit: `set limit table-entries`, and `set limit tables` (OpenBSD only). */
  tableEntriesLimit: number;
  tablesLimit: number;
}

export interface NftConfig {
  nft: string;
  conntrack: string;
  /** The nftables table pfsteer owns. */
  table: string;
  commandPrefix: string[];
  timeout: number;
}

export interface ControlConfig {
  socket: string;
  /** File mode of the socket, e.g. 0o660. */
  mode: number;
  group?: string;
}

export interface MetricsConfig {
  /** Optional TCP listener for Prometheus; the control socket serves metrics too. */
  listen?: { host: string; port: number };
}

export interface DaemonConfig {
  /** Where drains persist across restarts. */
  stateFile: string;
  /** How often pf is re-read to repair drift. */
  driftInterval: number;
  /** Events closer together than this are applied in one pass. */
  coalesce: number;
  /** Longest wait for first verdicts before moving any bucket. */
  startupGrace?: number;
}

export interface PolicyConfig {
  allDown: AllDownPolicy;
  killStatesOnDown: boolean;
}

/** The service's external addresses: a pf table the operator maintains, or literal addresses. */
export type ExternalAddresses =
  | { kind: 'table'; table: string }
  | { kind: 'addresses'; addresses: Cidr[] };

export interface Service {
  name: string;
  interface: string;
  family: 'inet' | 'inet6';
  protocol: Protocol;
  external: ExternalAddresses;
  ports: number[];
}

/** Where one host receives one service's traffic. */
export interface ServiceTarget {
  address: IpAddress;
  port?: number;
}

/** A command run without a shell: argv[0] is the program. */
export interface CommandSpec {
  argv: string[];
  env: Record<string, string>;
  cwd?: string;
  timeout: number;
  killAfter: number;
}

interface CheckBase extends CheckTiming {
  /** Unique within its host; defaults to the type plus its index. */
  name: string;
}

export interface ExecCheck extends CheckBase {
  type: 'exec';
  command: string[];
  env: Record<string, string>;
  cwd?: string;
  /** Grace after SIGINT before SIGKILL goes to the process group (hfm timeout_kill). */
  killAfter: number;
  /** Bytes of output kept to show on failure. */
  maxOutput: number;
}

export interface HttpCheck extends CheckBase {
  type: 'http' | 'https';
  /** Address and port to connect to, independent of the Host header and SNI name. */
  address: IpAddress;
  port: number;
  path: string;
  /** Host header and TLS SNI name; defaults to the address. */
  host?: string;
  method: string;
  expectStatus: number[];
  expectBody?: string;
  tlsVerify: boolean;
  ca?: string;
  clientCert?: { cert: string; key: string };
  /** Open a fresh connection per check (the handshake is part of what is checked). */
  fresh: boolean;
}

export interface TcpCheck extends CheckBase {
  type: 'tcp';
  address: IpAddress;
  port: number;
  send?: string;
  expect?: string;
}

export type Check = ExecCheck | HttpCheck | TcpCheck;

export interface Host {
  name: string;
  weight: number;
  /** One target per service name. */
  targets: Record<string, ServiceTarget>;
  checks: Check[];
  onUp?: CommandSpec;
  onDown?: CommandSpec;
  /**
   * Set (true) when the config drains the host (`drain: true`): both firewalls of a pair read the
   * same file, so both move its buckets away, unlike a runtime `pfsteer drain` on one of them.
   */
  drain?: boolean;
}

export interface Config {
  /** Path the config was read from, for messages. */
  file: string;
  defaults: CheckTiming;
  buckets: BucketsConfig;
  driver: DriverName;
  pf: PfConfig;
  nft: NftConfig;
  policy: PolicyConfig;
  control: ControlConfig;
  metrics: MetricsConfig;
  daemon: DaemonConfig;
  /** In file order; rendering sorts by name where order matters. */
  services: Service[];
  hosts: Host[];
}

export function familyOf(service: Service): Family {
  return service.family === 'inet' ? 4 : 6;
}
