/**
 * haproxy's rise/fall for one check, as a pure step function. A check starts unknown and its
 * first result decides at once (so a restarted daemon judges every host within one interval);
 * after that it takes `fall` consecutive failures to go down and `rise` successes to come up.
 */
import type { HostState } from './types.ts';

export interface RiseFall {
  state: HostState;
  /** Consecutive results against the current state. */
  streak: number;
}

export const INITIAL: RiseFall = { state: 'unknown', streak: 0 };

export function step(current: RiseFall, ok: boolean, rise: number, fall: number): RiseFall {
  if (current.state === 'unknown') return { state: ok ? 'up' : 'down', streak: 0 };
  const against = current.state === 'up' ? !ok : ok;
  if (!against) return { state: current.state, streak: 0 };
  const streak = current.streak + 1;
  if (streak >= (current.state === 'up' ? fall : rise)) return { state: current.state === 'up' ? 'down' : 'up', streak: 0 };
  return { state: current.state, streak };
}

/** A host is up when every check is up, down when any is down, unknown otherwise. */
export function hostState(checks: readonly HostState[]): HostState {
  if (checks.some((s) => s === 'down')) return 'down';
  if (checks.length > 0 && checks.every((s) => s === 'up')) return 'up';
  return checks.length === 0 ? 'up' : 'unknown';
}
