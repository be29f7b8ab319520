/** `pfsteer status`: what the running daemon sees and did. */
import { Command } from 'commander';
import { callControl } from '../daemon/control-client.ts';
import { controlSocket, type TargetOptions } from './control-target.ts';

interface Status {
  config: string;
  driver: string;
  buckets: number;
  ready: boolean;
  hosts: Array<{ name: string; weight: number; state: string; drained: boolean; buckets: number; checks: Array<{ name: string; state: string; last?: { code: string; detail: string; ms: number } }> }>;
  unowned: number;
  empty: number;
  lastApply: { at: string; loaded: number; failed: number; moves: string; ms: number } | null;
  loads: number;
  pendingRetries: number;
  driftRepairs: number;
  lastError: { at: string; message: string } | null;
  stateFile?: { path: string; problem: { code: string; message: string; copy: string | null } | null };
}

function render(status: Status): string {
  const lines = [`${status.config}: driver ${status.driver}, ${status.buckets} buckets${status.ready ? '' : ' (waiting for first verdicts)'}`, ''];
  lines.push('host         state    drained  buckets  checks');
  for (const host of status.hosts) {
    const checks = host.checks.map((c) => `${c.name}=${c.state}${c.last && !c.last.code.startsWith('ok') ? ` (${c.last.code}: ${c.last.detail})` : ''}`).join(', ');
    lines.push(`${host.name.padEnd(12)} ${host.state.padEnd(8)} ${(host.drained ? 'yes' : 'no').padEnd(8)} ${String(host.buckets).padStart(7)}  ${checks}`);
  }
  if (status.unowned > 0) lines.push(`${status.unowned} bucket(s) not known to be loaded`);
  if (status.empty > 0) lines.push(`${status.empty} bucket(s) empty (policy fallthrough)`);
  lines.push('');
  lines.push(status.lastApply ? `last apply ${status.lastApply.at}: ${status.lastApply.loaded} loaded, ${status.lastApply.failed} failed (${status.lastApply.moves})` : 'nothing applied since start');
  lines.push(`loads ${status.loads}, pending retries ${status.pendingRetries}, drift repairs ${status.driftRepairs}`);
  if (status.lastError) lines.push(`last error ${status.lastError.at}: ${status.lastError.message}`);
  const bad = status.stateFile?.problem;
  if (bad) lines.push(`STATE FILE UNUSABLE at start, drains lost until set again: ${bad.message}${bad.copy ? ` (copy: ${bad.copy})` : ''}`);
  return `${lines.join('\n')}\n`;
}

export function statusCommand(): Command {
  return new Command('status')
    .description('show hosts, their checks and buckets, the last apply, pending retries and errors of the running daemon')
    .option('-c, --config <file>', 'the daemon\'s config file (to find its control socket)')
    .option('--socket <path>', 'the control socket, instead of -c')
    .option('--json', 'print the status as JSON')
    .action(async (options: TargetOptions & { json?: boolean }) => {
      const status = await callControl<Status>(await controlSocket(options), 'GET', '/status');
      process.stdout.write(options.json ? `${JSON.stringify(status, null, 2)}\n` : render(status));
    });
}
