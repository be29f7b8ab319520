/**
 * A host that goes silent: every IP packet to and from it dropped in its own namespace, as when
 * it loses power or its link (no reset, no ICMP). `measureSilentMove` times, from the drop, the
 * daemon's verdict and the moment its buckets moved (its `applied` log line, written once nft
 * holds the new map), on the wall clock the daemon's log lines carry.
 */
import type { DaemonProcess, LogLine } from './daemon-process.ts';
import type { Backend, Testbed } from './harness.ts';

const TABLE = 'pfsteer_silence';

/** Drops every packet of `b`; returns when the drop is in effect, with the wall-clock window it took effect in. */
export async function silence(bed: Testbed, b: Backend): Promise<{ before: number; after: number }> {
  const before = Date.now();
  await bed.lab.exec(b.ns, ['nft', '-f', '-'], `table inet ${TABLE} {
  chain in { type filter hook prerouting priority -400; policy drop; }
  chain out { type filter hook output priority -400; policy drop; }
}
`);
  return { before, after: Date.now() };
}

export async function unsilence(bed: Testbed, b: Backend): Promise<void> {
  await bed.lab.exec(b.ns, ['nft', 'delete', 'table', 'inet', TABLE]);
}

export interface SilentMove {
  /** How long the nft command that made the host silent took: the drop began somewhere in it. */
  dropCommandMs: number;
  /** From the drop to the host's down verdict. */
  downMs: number;
  /** From the drop to its buckets moved (nft loaded). */
  movedMs: number;
  /** Why the daemon judged it down, as it logged it. */
  reason: string;
}

const timeOf = (line: LogLine) => Number(line.time);

/** Silences `b` under the running daemon and waits (at most `withinMs`) until its buckets moved. */
export async function measureSilentMove(bed: Testbed, daemon: DaemonProcess, b: Backend, withinMs: number): Promise<SilentMove> {
  const from = daemon.lines.length;
  const drop = await silence(bed, b);
  const down = await daemon.waitForLog(`${b.name} going down`, withinMs, (l) => l.msg === `${b.name} up -> down`, from);
  const at = daemon.lines.indexOf(down);
  const applied = await daemon.waitForLog(`${b.name}'s buckets moving`, withinMs, (l) => l.msg === 'applied', at);
  return {
    dropCommandMs: drop.after - drop.before,
    downMs: timeOf(down) - drop.after,
    movedMs: timeOf(applied) - drop.after,
    reason: String(down.reason),
  };
}

/** Ends the silence and waits until the daemon has `b` up and steering again. */
export async function restore(bed: Testbed, daemon: DaemonProcess, b: Backend, withinMs: number): Promise<void> {
  const from = daemon.lines.length;
  await unsilence(bed, b);
  const up = await daemon.waitForLog(`${b.name} coming back`, withinMs, (l) => l.msg === `${b.name} down -> up`, from);
  await daemon.waitForLog(`${b.name}'s buckets coming back`, withinMs, (l) => l.msg === 'applied', daemon.lines.indexOf(up));
}
