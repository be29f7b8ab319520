/**
 * A host that goes silent, as a powered-off machine or a cut cable does: an nft table in its
 * namespace drops every packet in and out, so SYNs go unanswered and open flows stall without
 * a reset. Unlike taking the router's link down, nothing sends an ICMP error back.
 */
import type { Lab } from './netns.ts';

const TABLE = 'pfsteer_silence';

export async function silence(lab: Lab, ns: string): Promise<void> {
  await lab.exec(ns, ['nft', '-f', '-'], `table inet ${TABLE} {
  chain in { type filter hook input priority -300; policy drop; }
  chain out { type filter hook output priority -300; policy drop; }
}
`);
}

export async function unsilence(lab: Lab, ns: string): Promise<void> {
  await lab.exec(ns, ['nft', 'delete', 'table', 'inet', TABLE]);
}
