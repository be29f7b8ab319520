/** `pfsteer plan`: the anchors pfsteer would load for a healthy set, without touching pf. */
import { Command } from 'commander';
import { buildPartition, bucketTables } from '../buckets/partition.ts';
import { loadConfig } from '../config/load.ts';
import { buildMapper } from '../daemon/daemon.ts';
import { eligibleHosts } from '../daemon/plan.ts';
import { assignmentsFor } from '../drivers/assignments.ts';
import { UsageError } from '../errors.ts';
import type { HostState } from '../health/types.ts';
import { anchorName, mainRulesetSnippet, renderAnchor } from '../pf/render.ts';

interface PlanOptions {
  config: string;
  down?: string;
  json?: boolean;
  main?: boolean;
}

async function run(options: PlanOptions): Promise<void> {
  const config = await loadConfig(options.config);
  if (options.main) {
    process.stdout.write(mainRulesetSnippet(config));
    return;
  }
  const down = options.down ? options.down.split(',').map((s) => s.trim()) : [];
  for (const name of down) {
    if (!config.hosts.some((h) => h.name === name)) throw new UsageError(`--down names "${name}", which ${options.config} does not have`);
  }
  const states = new Map<string, HostState>(config.hosts.map((h) => [h.name, down.includes(h.name) ? 'down' : 'up']));
  const eligible = eligibleHosts(config, states, new Set());
  const owners = eligible.length > 0 ? buildMapper(config).owners(new Set(eligible)) : new Array<null>(config.buckets.count).fill(null);
  const tables = bucketTables(buildPartition(config.buckets));
  const anchors: Record<string, string> = {};
  for (const assignment of assignmentsFor(config, owners)) {
    anchors[anchorName(config, assignment.bucket)] = renderAnchor(config, tables[assignment.bucket]!, assignment);
  }
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ anchors })}\n`);
    return;
  }
  for (const [name, text] of Object.entries(anchors)) process.stdout.write(`# --- pfctl -a ${name} -f -\n${text}`);
}

export function planCommand(): Command {
  return new Command('plan')
    .description('print the bucket anchors pfsteer would load for a set of healthy hosts (pf is not touched)')
    .requiredOption('-c, --config <file>', 'configuration file')
    .option('--down <hosts>', 'hosts to treat as down, comma separated')
    .option('--json', 'print {"anchors": {"<anchor>": "<text>"}}')
    .option('--main', 'print only the line(s) to add once to pf.conf, and where')
    .addHelpText('after', '\nExample:\n  pfsteer plan -c /usr/local/etc/pfsteer.yaml --down lb2 | less')
    .action((options: PlanOptions) => run(options));
}
