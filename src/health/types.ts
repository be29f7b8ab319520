/**
 * What the health engine tells the rest of pfsteer. Checks never throw: every run ends in a
 * CheckResult value, and the engine turns those into host transitions.
 */

/** A host is `unknown` from start until its first verdict settles. */
export type HostState = 'unknown' | 'up' | 'down';

/**
 * Stable result codes, e.g. `ok`, `timeout`, `refused`, `tls-handshake`, `http-status`,
 * `exit-code`, `killed`, `spawn-failed`, and `escaped` (exit 0, but a descendant left the
 * process group holding the output open: up, and reported); a network check cut by its deadline
 * names the phase: `connect-timeout`, `tls-timeout`, `response-timeout`, `body-timeout`.
 */
export type CheckCode = string;

export interface CheckResult {
  ok: boolean;
  code: CheckCode;
  detail: string;
  /** Duration on the monotonic clock, in milliseconds. */
  ms: number;
}

export interface HostTransition {
  host: string;
  from: HostState;
  to: HostState;
  /** Why, in one line: "3 of 3 failed: http-status 503". */
  reason: string;
  /** Wall-clock time of the verdict (epoch ms), for logs and status. */
  at: number;
}

export interface CheckStatus {
  name: string;
  state: HostState;
  last?: CheckResult;
}

export interface HostStatus {
  host: string;
  state: HostState;
  checks: CheckStatus[];
}

/**
 * The health engine as the daemon uses it: checks run on their own timers from start() until
 * close(); every host verdict change reaches the transition listeners.
 */
export interface HealthEngine {
  start(): void;
  states(): ReadonlyMap<string, HostState>;
  status(): HostStatus[];
  onTransition(listener: (transition: HostTransition) => void): void;
  /** Reload: new hosts and checks; unchanged checks keep their state. */
  update(hosts: readonly import('../config/model.ts').Host[]): void;
  close(): Promise<void>;
}
