/**
 * Whether two configs render the filter alike for the same bucket owners: then what the filter
 * was recorded to hold under one is still true under the other, and a reload need not read it
 * back. Hosts are left out on purpose: their addresses are part of every bucket's assignment,
 * which the plan compares bucket by bucket anyway.
 */
import type { Config } from '../config/model.ts';

function renderingOf(config: Config): string {
  return JSON.stringify([config.driver, config.pf, config.nft, config.buckets, config.services]);
}

export function sameLayout(a: Config, b: Config): boolean {
  return renderingOf(a) === renderingOf(b);
}
