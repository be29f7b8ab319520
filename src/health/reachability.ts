/**
 * What a failed check says about its host: it could not be reached at all, it answered and said
 * it is not ready, or it tells nothing about the host. Pure; the daemon uses it to decide
 * whether a down host's states are killed (`policy.kill_states_on_down: unreachable`).
 *
 * Why the difference matters: a host that cannot be reached leaves half-open states behind, and
 * a client's retransmitted SYN follows its state to the dead host even after its bucket moved;
 * killing them lets the retransmit land on the new owner. A host that answers "not ready"
 * (haproxy's `monitor fail`, 503) is being drained on purpose and its live connections must
 * finish, so its states stay.
 */
import type { Check, KillStatesPolicy } from '../config/model.ts';
import { CHECK_CODES, type KnownCheckCode } from './codes.ts';
import type { CheckCode } from './types.ts';

export type Reachability = 'unreachable' | 'answered' | 'inconclusive';

type CheckType = Check['type'];

/**
 * A code's meaning for each kind of check. `timeout` differs: a tcp or http check that times out
 * got no connection (or, for http, no answer; haproxy answers its monitor-uri itself, so a live
 * haproxy does not leave it waiting), while an exec check that times out is a script that hung,
 * which says nothing of the host.
 */
const BY_CODE = {
  ok: 'answered',
  refused: 'unreachable',
  reset: 'unreachable',
  unreachable: 'unreachable',
  timeout: { exec: 'inconclusive', tcp: 'unreachable', http: 'unreachable', https: 'unreachable' },
  'connect-timeout': 'unreachable',
  // TCP was accepted but no handshake came: a failure to connect all the same.
  'tls-timeout': 'unreachable',
  // Connected (and through TLS), then no answer: the host is there, perhaps only busy.
  'response-timeout': 'inconclusive',
  'body-timeout': 'inconclusive',
  // The handshake did not complete: as much a failure to connect as a refused SYN.
  'tls-handshake': 'unreachable',
  // It completed a handshake with a certificate we reject: it answers, misconfigured.
  'tls-verify': 'answered',
  error: 'inconclusive',
  'http-status': 'answered',
  'http-body': 'answered',
  'tcp-expect': 'answered',
  'exit-code': 'inconclusive',
  'exit-unreachable': 'unreachable',
  // Exit 0 with a grandchild outside the group: a passing verdict, the host said it is ready.
  escaped: 'answered',
  killed: 'inconclusive',
  'spawn-failed': 'inconclusive',
} as const satisfies Record<KnownCheckCode, Reachability | Record<CheckType, Reachability>>;

const KNOWN: ReadonlySet<string> = new Set(CHECK_CODES);

export function isClassified(code: CheckCode): code is KnownCheckCode {
  return KNOWN.has(code);
}

/** A code no one classified is inconclusive: killing states is the step that cannot be undone. */
export function reachability(type: CheckType, code: CheckCode): Reachability {
  if (!isClassified(code)) return 'inconclusive';
  const meaning: Reachability | Record<CheckType, Reachability> = BY_CODE[code];
  return typeof meaning === 'string' ? meaning : meaning[type];
}

/** One failing check of a host that went down, as it was when the host went down. */
export interface FailedCheck {
  check: string;
  type: CheckType;
  code: CheckCode;
}

export interface KillDecision {
  kill: boolean;
  /** Why, for logs and the `reason` label: the policy, or the codes that decided. */
  reason: string;
}

/**
 * Whether a host that went down (not drained) has its states killed. Under `unreachable` every
 * failing check must say so: one check that got an answer proves the host is there.
 */
export function decideKill(policy: KillStatesPolicy, failed: readonly FailedCheck[]): KillDecision {
  if (policy === 'never') return { kill: false, reason: 'never' };
  if (policy === 'always') return { kill: true, reason: 'always' };
  const codes = [...new Set(failed.map((f) => f.code))].sort().join('+') || 'none';
  const kill = failed.length > 0 && failed.every((f) => reachability(f.type, f.code) === 'unreachable');
  return { kill, reason: codes };
}
