/**
 * The one line pf.conf needs for pfsteer: `rdr-anchor "pfsteer"` (freebsd) or `anchor "pfsteer"`
 * (openbsd). Without it pf never looks into the anchor and nothing is steered, however right
 * the anchor is: the most likely setup mistake, so `run`, `inspect` and `status` look for it in
 * what `pfctl -s nat` / `pfctl -s rules` print for the main ruleset. Pure.
 */
import type { Config } from '../config/model.ts';
import type { HookCheck } from '../drivers/driver.ts';
import { hookLine } from './render.ts';

/** `@3 rdr-anchor "pfsteer" all` or `anchor "pfsteer/*" on em0 all`: the anchor rules a listing holds. */
function anchorRules(listing: string): Array<{ kind: string; name: string }> {
  const out: Array<{ kind: string; name: string }> = [];
  for (const line of listing.split('\n')) {
    const m = /^\s*(?:@\d+\s+)?(rdr-anchor|anchor|nat-anchor|binat-anchor)\s+"([^"]*)"/.exec(line);
    if (m) out.push({ kind: m[1]!, name: m[2]! });
  }
  return out;
}

export function findHook(config: Pick<Config, 'pf'>, listing: string): HookCheck {
  const anchor = config.pf.anchor;
  const kind = config.pf.dialect === 'freebsd' ? 'rdr-anchor' : 'anchor';
  const where = config.pf.dialect === 'freebsd' ? 'in the translation section of pf.conf, before any other rdr rule for the same addresses' : 'in the filter section of pf.conf, before the pass rules for the same addresses';
  const listed = config.pf.dialect === 'freebsd' ? 'pfctl -s nat' : 'pfctl -s rules';
  const rules = anchorRules(listing).filter((r) => r.kind === kind);
  if (rules.some((r) => r.name === anchor)) return { ok: true, message: '' };
  const fix = `add \`${hookLine(config)}\` ${where}, then reload pf (pfctl -f /etc/pf.conf)`;
  if (rules.some((r) => r.name === `${anchor}/*`)) {
    return { ok: false, message: `the main ruleset (${listed}) holds the old hook \`${kind} "${anchor}/*"\`, which does not evaluate pfsteer's anchor itself: replace it with \`${hookLine(config)}\` and reload pf` };
  }
  return { ok: false, message: `the main ruleset (${listed}) has no \`${hookLine(config)}\`, so nothing is steered: ${fix}` };
}
