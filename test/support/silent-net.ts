/**
 * A silent network: a namespace with addresses whose every packet an nft rule drops, so a SYN
 * sent to them is never answered, as with a host that lost power or its link. Code that must
 * reach them runs inside the namespace (`Lab.inside`); the checks' own loopback targets work
 * there too. Needs root, as the e2e suite does; torn down by the Lab even on failure.
 */
import { Lab, requireNetns } from '../e2e/netns.ts';

/** Addresses nothing answers from, inside the namespace. */
export const SILENT4 = '10.253.0.2';
export const SILENT6 = 'fd00:253::2';

export interface SilentNet {
  lab: Lab;
  ns: string;
}

export async function createSilentNet(tag: string): Promise<SilentNet> {
  await requireNetns();
  const lab = new Lab(tag);
  try {
    const ns = await lab.netns('s');
    await lab.exec(ns, ['ip', 'addr', 'add', `${SILENT4}/32`, 'dev', 'lo']);
    await lab.exec(ns, ['ip', '-6', 'addr', 'add', `${SILENT6}/128`, 'dev', 'lo', 'nodad']);
    // Dropped on arrival, like a host that is gone: the sender sees nothing, not even a reset.
    await lab.exec(ns, ['nft', '-f', '-'], `table inet silent {
  chain input {
    type filter hook input priority 0; policy accept;
    ip daddr ${SILENT4} drop
    ip6 daddr ${SILENT6} drop
  }
}
`);
    return { lab, ns };
  } catch (error) {
    await lab.destroy();
    throw error;
  }
}
