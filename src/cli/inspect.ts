/** `pfsteer inspect`: what the filter holds, what it should hold, and every difference. */
import { Command } from 'commander';
import { buildPartition } from '../buckets/partition.ts';
import { loadConfig } from '../config/load.ts';
import type { Config } from '../config/model.ts';
import { callControl } from '../daemon/control-client.ts';
import { buildMapper } from '../daemon/daemon.ts';
import { createDriver } from '../daemon/parts.ts';
import { UsageError } from '../errors.ts';
import type { HostState } from '../health/types.ts';
import type { FilterReading, HealthView, InspectReport } from '../inspect/report.ts';
import { answerClient, buildReport, clientBucket, expectedAssignments } from '../inspect/report.ts';
import { digestOfBuckets } from '../mapping/digest.ts';
import { parseAddress } from '../net/address.ts';
import { PfDriver } from '../pf/driver.ts';
import { statesWithDown } from './down-option.ts';
import { EXIT } from './exit.ts';

interface InspectOptions {
  config: string;
  client?: string;
  json?: boolean;
  down?: string;
}

interface DaemonStatus {
  hosts: Array<{ name: string; state: HostState; drained: boolean }>;
  filter?: { state: string; since: string };
}

async function healthView(config: Config, options: InspectOptions): Promise<{ view: HealthView; note?: string }> {
  if (options.down !== undefined) return { view: { source: 'option', states: statesWithDown(config, options.down, options.config), drained: new Set() } };
  try {
    const status = await callControl<DaemonStatus>(config.control.socket, 'GET', '/status', 3000);
    // While the daemon moves buckets, a prefix in two tables is a move in progress, not damage.
    const moving = status.filter && status.filter.state !== 'in-sync' ? `the daemon's filter is ${status.filter.state} since ${status.filter.since}: a bucket in two tables may be a move in progress` : undefined;
    return {
      view: { source: 'daemon', states: new Map(status.hosts.map((h) => [h.name, h.state])), drained: new Set(status.hosts.filter((h) => h.drained).map((h) => h.name)) },
      ...(moving ? { note: moving } : {}),
    };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return { view: { source: 'assumed', states: new Map(config.hosts.map((h) => [h.name, 'up'])), drained: new Set() }, note: `${reason}; expecting every host up (use --down to say otherwise)` };
  }
}

/** pf: the anchor's rules, tables and counters, the main ruleset's hook, anchors that do not belong. */
export async function readPf(driver: PfDriver, config: Config): Promise<FilterReading> {
  const hook = await driver.checkHook();
  const reading = await driver.readAnchor();
  const problems: string[] = [];
  if (!hook.ok) problems.push(`hook: ${hook.message}`);
  if (!reading.present) problems.push(`anchor ${config.pf.anchor} is not loaded (is \`pfsteer run\` running?)`);
  for (const child of reading.children) {
    problems.push(/\/b\d{4,}$/.test(child) ? `old per-bucket anchor ${child} (the layout before one anchor; \`pfsteer run\` removes it)` : `extra anchor ${child}: pfsteer loads none under ${config.pf.anchor}`);
  }
  problems.push(...reading.problems.map((p) => `anchor ${config.pf.anchor}: ${p}`));
  return { buckets: reading.buckets, problems, hostCounters: reading.counters };
}

async function observe(config: Config): Promise<FilterReading> {
  const driver = createDriver(config);
  try {
    if (driver instanceof PfDriver) return await readPf(driver, config);
    return { buckets: await driver.observe(), problems: [] };
  } finally {
    await driver.close();
  }
}

function routesText(routes: InspectReport['buckets'][number]['routes']): string {
  return routes.map((r) => `${r.service}->${r.address}${r.port === undefined ? '' : `:${r.port}`}`).join(' ');
}

function renderText(report: InspectReport, config: Config): string {
  const health = { daemon: 'health from the running daemon', option: 'health from --down', assumed: 'every host assumed up' }[report.health];
  const lines = [`${config.driver}: ${config.buckets.count} buckets, partition by ${report.partition === 'prefix' ? 'source prefix tables' : 'jhash of each source address'}; ${health}`, ''];
  lines.push('host         state    drained  buckets  expected  evaluations   states');
  for (const h of report.hosts) {
    lines.push(`${h.name.padEnd(12)} ${(h.state ?? '-').padEnd(8)} ${(h.drained ? 'yes' : 'no').padEnd(8)} ${String(h.buckets).padStart(7)} ${String(h.expected).padStart(9)} ${String(h.evaluations).padStart(12)} ${String(h.states).padStart(8)}`);
  }
  lines.push('', `bucket  host         ${config.driver === 'nft' ? 'key         ' : 'tables      '} routes`);
  for (const b of report.buckets) {
    const host = b.host === undefined ? '?' : (b.host ?? '(empty)');
    lines.push(`${String(b.bucket).padStart(6)}  ${host.padEnd(12)} ${b.where.padEnd(12)} ${routesText(b.routes)}`);
  }
  lines.push('');
  if (report.inconsistencies.length === 0) lines.push('no inconsistencies');
  else lines.push(`${report.inconsistencies.length} inconsistenc${report.inconsistencies.length === 1 ? 'y' : 'ies'}:`, ...report.inconsistencies.map((i) => `  ${i}`));
  return `${lines.join('\n')}\n`;
}

async function run(options: InspectOptions): Promise<void> {
  const config = await loadConfig(options.config);
  if (config.driver === 'memory') throw new UsageError('driver memory keeps nothing outside a running daemon; inspect reads pf or nft');
  const client = options.client === undefined ? undefined : parseAddress(options.client);
  if (options.client !== undefined && !client) throw new UsageError(`--client "${options.client}" is not an IPv4 or IPv6 address`);
  const { view, note } = await healthView(config, options);
  if (note && !options.json) process.stderr.write(`pfsteer: ${note}\n`);
  const reading = await observe(config);
  const report = buildReport(config, reading, expectedAssignments(config, buildMapper(config), view), view);
  if (client) {
    const answer = answerClient(config, report, clientBucket(config, buildPartition(config.buckets), client), client);
    const problems = [...report.problems, ...report.buckets[answer.bucket]!.problems];
    if (options.json) process.stdout.write(`${JSON.stringify({ client: answer, inconsistencies: problems })}\n`);
    else {
      const lines = [`${answer.address}: bucket ${answer.bucket} (${answer.where})`];
      for (const s of answer.services) {
        const now = s.address === undefined ? `not redirected (${s.host === null ? 'empty bucket' : 'no rule'})` : `${s.host} at ${s.address}${s.port === undefined ? '' : ` port ${s.port}`}`;
        lines.push(`  ${s.service}: ${now}${s.expected !== undefined && s.expected !== s.host ? ` (config and health imply ${s.expected ?? 'empty'})` : ''}`);
      }
      if (answer.services.length === 0) lines.push('  no service of this address family');
      for (const p of problems) lines.push(`  inconsistency: ${p}`);
      process.stdout.write(`${lines.join('\n')}\n`);
    }
    if (problems.length > 0) process.exitCode = EXIT.failure;
    return;
  }
  process.stdout.write(options.json ? `${JSON.stringify({ ...report, digest: digestOfBuckets(config, report.buckets) })}\n` : renderText(report, config));
  if (report.inconsistencies.length > 0) process.exitCode = EXIT.failure;
}

export function inspectCommand(): Command {
  return new Command('inspect')
    .description('read the live anchor and its tables (pf) or maps (nft) and show owners per bucket and service, hosts with bucket counts and rule counters, the pf.conf hook, and every inconsistency')
    .requiredOption('-c, --config <file>', 'configuration file')
    .option('--client <address>', 'answer for one client address: its bucket, the table holding it, and where each service sends it')
    .option('--down <hosts>', 'judge against these hosts down and the rest up, instead of asking the running daemon')
    .option('--json', 'print the report as JSON')
    .addHelpText(
      'after',
      `
Health: the running daemon's view (its control socket), else --down, else every host up.
Exit codes: 0 consistent, 1 inconsistencies found or the filter could not be read, 2 bad arguments or config.

Examples:
  pfsteer inspect -c /usr/local/etc/pfsteer.yaml
  pfsteer inspect -c /usr/local/etc/pfsteer.yaml --client 198.51.100.7`,
    )
    .action((options: InspectOptions) => run(options));
}
