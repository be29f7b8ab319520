/** `pfsteer status`: what the running daemon sees and did; `--compare` sets it against a peer's. */
import { readFile } from 'node:fs/promises';
import { text as readStream } from 'node:stream/consumers';
import { Command } from 'commander';
import { callControl } from '../daemon/control-client.ts';
import type { DrainWait } from '../daemon/drain-wait.ts';
import { UsageError } from '../errors.ts';
import { compareSides, describeReason, type Comparison } from '../pair/compare.ts';
import { PeerStatusError, readPairStatus, type MappingStatus } from '../pair/status.ts';
import { controlSocket, type TargetOptions } from './control-target.ts';
import { EXIT } from './exit.ts';

interface HostStatus {
  name: string;
  weight: number;
  state: string;
  drained: boolean;
  drains: Array<{ source: string; since: string }>;
  wait: (Omit<DrainWait, 'deadline' | 'checkedAt'> & { deadline: string; checkedAt?: string }) | null;
  buckets: number;
  checks: Array<{ name: string; state: string; last?: { code: string; detail: string; ms: number } }>;
}

interface Status {
  config: string;
  driver: string;
  buckets: number;
  ready: boolean;
  digest: string;
  hosts: HostStatus[];
  mapping: MappingStatus;
  unowned: number;
  empty: number;
  lastApply: { at: string; loaded: number; failed: number; moves: string; ms: number } | null;
  loads: number;
  pendingRetries: number;
  driftRepairs: number;
  lastError: { at: string; message: string } | null;
  /** Whether the filter holds the desired mapping, and since when. */
  filter?: { state: 'in-sync' | 'pending' | 'retrying'; since: string };
  /** The main ruleset's hook (pf); null before the first look or for drivers without one. */
  hook?: { ok: boolean; message: string } | null;
}

function waitText(wait: HostStatus['wait']): string {
  if (!wait) return 'states not counted yet';
  const counted = wait.checkedAt ? ` (counted ${wait.checkedAt})` : '';
  const failed = wait.error ? `; the last count failed: ${wait.error}` : '';
  switch (wait.outcome) {
    case 'empty':
      return `no state left${counted}: ready for maintenance`;
    case 'timed-out':
      return `${wait.states ?? '?'} state(s) left${counted}; gave up waiting at ${wait.deadline}${failed}`;
    case 'waiting':
      return `${wait.states ?? '?'} state(s) left${counted}; waiting until ${wait.deadline}${failed}`;
  }
}

function render(status: Status): string {
  const lines = [`${status.config}: driver ${status.driver}, ${status.buckets} buckets${status.ready ? '' : ' (waiting for first verdicts)'}`, `mapping digest ${status.digest}`, ''];
  lines.push('host         state    drained         buckets  checks');
  for (const host of status.hosts) {
    const checks = host.checks.map((c) => `${c.name}=${c.state}${c.last && !c.last.code.startsWith('ok') ? ` (${c.last.code}: ${c.last.detail})` : ''}`).join(', ');
    const drained = host.drains.map((d) => d.source).join('+') || 'no';
    lines.push(`${host.name.padEnd(12)} ${host.state.padEnd(8)} ${drained.padEnd(15)} ${String(host.buckets).padStart(7)}  ${checks}`);
  }
  const drained = status.hosts.filter((h) => h.drains.length > 0);
  if (drained.length > 0) {
    lines.push('', 'drains:');
    for (const host of drained) lines.push(`  ${host.name}: ${host.drains.map((d) => `${d.source} since ${d.since}`).join(', ')}; ${waitText(host.wait)}`);
  }
  if (status.unowned > 0) lines.push(`${status.unowned} bucket(s) not known to be loaded`);
  if (status.empty > 0) lines.push(`${status.empty} bucket(s) empty (policy fallthrough)`);
  lines.push('');
  lines.push(status.lastApply ? `last apply ${status.lastApply.at}: ${status.lastApply.loaded} loaded, ${status.lastApply.failed} failed (${status.lastApply.moves})` : 'nothing applied since start');
  lines.push(`loads ${status.loads}, pending retries ${status.pendingRetries}, drift repairs ${status.driftRepairs}`);
  if (status.lastError) lines.push(`last error ${status.lastError.at}: ${status.lastError.message}`);
  if (status.filter) lines.push(status.filter.state === 'in-sync' ? `filter in sync with the mapping since ${status.filter.since}` : `filter ${status.filter.state} since ${status.filter.since}: it does not hold the desired mapping yet`);
  if (status.hook && !status.hook.ok) lines.push(`PF.CONF HOOK MISSING: ${status.hook.message}`);
  return `${lines.join('\n')}\n`;
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const group = groups.get(key(item));
    if (group) group.push(item);
    else groups.set(key(item), [item]);
  }
  return groups;
}

const ownerText = (owner: string | null) => (owner === null ? '(unknown)' : owner === '' ? '(empty)' : owner);

/** Differing buckets grouped by their reasons, then by the pair of owners. */
export function renderComparison(c: Comparison, peer: string): string {
  const lines = [`digest here ${c.digests.here}, on the peer (${peer}) ${c.digests.peer}: ${c.equal ? 'the pair steers alike' : 'the pair steers differently'}`];
  if (c.config.length > 0) lines.push('config differs:', ...c.config.map((d) => `  ${d}`));
  if (c.views.length > 0) lines.push('hosts seen differently:', ...c.views.map((r) => `  ${describeReason(r)}`));
  if (!c.comparable) lines.push('every bucket differs: B, seed or partition put clients in other buckets');
  if (c.buckets.length > 0) {
    lines.push(`${c.buckets.length} bucket(s) differ:`);
    const groups = groupBy(c.buckets, (d) => d.reasons.map(describeReason).join('; '));
    for (const [reasons, list] of groups) {
      lines.push(`  ${reasons}:`);
      for (const [owners, same] of groupBy(list, (d) => `here ${ownerText(d.here)}, on the peer ${ownerText(d.peer)}`)) {
        lines.push(`    ${owners} (${same.length}): ${same.map((d) => d.bucket).join(' ')}`);
      }
    }
  } else if (c.comparable && c.views.length > 0) lines.push('no bucket differs now');
  for (const note of c.notes) lines.push(`note: ${note}`);
  return `${lines.join('\n')}\n`;
}

async function readPeer(source: string): Promise<string> {
  try {
    return source === '-' ? await readStream(process.stdin) : await readFile(source, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read the peer's status ${source}: ${(error as Error).message}`);
  }
}

async function compare(status: Status, source: string, json: boolean): Promise<void> {
  const origin = source === '-' ? 'standard input' : source;
  const text = await readPeer(source);
  let comparison: Comparison;
  try {
    const here = readPairStatus(JSON.stringify(status), 'this daemon\'s status');
    comparison = compareSides(here, readPairStatus(text, origin));
  } catch (error) {
    // A file that is not a status is a bad argument (exit 2), not a difference (exit 1).
    if (error instanceof PeerStatusError) throw new UsageError(error.message);
    throw error;
  }
  process.stdout.write(json ? `${JSON.stringify(comparison, null, 2)}\n` : renderComparison(comparison, origin));
  process.exitCode = comparison.equal ? EXIT.ok : EXIT.failure;
}

export function statusCommand(): Command {
  return new Command('status')
    .description('show hosts, their checks, drains and buckets, the mapping digest, whether the filter is in sync (and since when), the pf.conf hook, the last apply, pending retries and errors of the running daemon')
    .option('-c, --config <file>', 'the daemon\'s config file (to find its control socket)')
    .option('--socket <path>', 'the control socket, instead of -c')
    .option('--json', 'print the status (or, with --compare, the comparison) as JSON')
    .option('--compare <file>', 'compare with the peer firewall\'s `pfsteer status --json` (a file, or - for standard input): which buckets differ and why')
    .addHelpText(
      'after',
      `
With --compare, exit codes: 0 the two steer alike, 1 they differ (buckets, or config: B, seed,
partition, hosts, weights), 2 the file is not a pfsteer status JSON.

Example, on fw1:
  ssh fw2 pfsteer status -c /usr/local/etc/pfsteer.yaml --json | pfsteer status -c /usr/local/etc/pfsteer.yaml --compare -`,
    )
    .action(async (options: TargetOptions & { json?: boolean; compare?: string }) => {
      const status = await callControl<Status>(await controlSocket(options), 'GET', '/status');
      if (options.compare !== undefined) return compare(status, options.compare, options.json === true);
      process.stdout.write(options.json ? `${JSON.stringify(status, null, 2)}\n` : render(status));
    });
}
