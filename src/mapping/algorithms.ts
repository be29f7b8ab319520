/** Every mapping by name: the default first, then the references it is measured against. */
import { bounded } from './bounded.ts';
import { jump } from './jump.ts';
import { maglev } from './maglev.ts';
import { modn } from './modn.ts';
import { preference } from './preference.ts';
import { rendezvous } from './rendezvous.ts';
import { ring } from './ring.ts';
import type { Algorithm } from './types.ts';

export const DEFAULT_ALGORITHM = preference;

export const ALGORITHMS: readonly Algorithm[] = [preference, modn, ring, jump, rendezvous, maglev, bounded];

export function algorithmNamed(name: string): Algorithm | undefined {
  return ALGORITHMS.find((algorithm) => algorithm.name === name);
}
