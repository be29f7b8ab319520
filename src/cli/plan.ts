/** `pfsteer plan`: the anchor pfsteer would load for a healthy set, without touching pf. */
import { Command } from 'commander';
import { buildPartition, bucketTables } from '../buckets/partition.ts';
import { loadConfig } from '../config/load.ts';
import { buildMapper } from '../daemon/daemon.ts';
import { eligibleHosts } from '../daemon/plan.ts';
import { createDriver } from '../daemon/parts.ts';
import { assignmentsFor, sameAssignment } from '../drivers/assignments.ts';
import type { BucketAssignment } from '../drivers/driver.ts';
import { UsageError } from '../errors.ts';
import type { Config } from '../config/model.ts';
import { statesWithDown } from './down-option.ts';
import { mainRulesetSnippet, renderAnchor } from '../pf/render.ts';

interface PlanOptions {
  config: string;
  down?: string;
  json?: boolean;
  main?: boolean;
  diff?: boolean;
}

interface Change {
  bucket: number;
  /** What the filter holds: a host, null for an empty bucket, "missing" or "unreadable". */
  from: string | null;
  to: string | null;
}

/** The buckets that differ from what the filter holds, read with the configured driver. */
async function diffAgainstFilter(config: Config, wanted: BucketAssignment[]): Promise<Change[]> {
  if (config.driver === 'memory') throw new UsageError('--diff reads the filter, and driver memory holds nothing outside a daemon');
  const driver = createDriver(config);
  try {
    const observed = new Map((await driver.observe()).map((o) => [o.bucket, o]));
    return wanted
      .filter((a) => {
        const o = observed.get(a.bucket);
        return !o || o.problems.length > 0 || !sameAssignment(o.assignment, a);
      })
      .map((a) => {
        const o = observed.get(a.bucket);
        const from = o?.assignment && o.problems.length === 0 ? o.assignment.host : o?.problems.some((p) => p.includes('missing')) ? 'missing' : 'unreadable';
        return { bucket: a.bucket, from, to: a.host };
      });
  } finally {
    await driver.close();
  }
}

async function run(options: PlanOptions): Promise<void> {
  const config = await loadConfig(options.config);
  if (options.main) {
    process.stdout.write(mainRulesetSnippet(config));
    return;
  }
  const states = statesWithDown(config, options.down, options.config);
  const eligible = eligibleHosts(config, states, new Set());
  const owners = eligible.length > 0 ? buildMapper(config).owners(new Set(eligible)) : new Array<null>(config.buckets.count).fill(null);
  const tables = bucketTables(buildPartition(config.buckets));
  const wanted = assignmentsFor(config, owners);
  const anchors: Record<string, string> = { [config.pf.anchor]: renderAnchor(config, tables, owners) };
  const diff = options.diff ? await diffAgainstFilter(config, wanted) : undefined;
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ anchors, ...(diff ? { diff } : {}) })}\n`);
    return;
  }
  if (diff) {
    const label = (h: string | null): string => h ?? '(empty)';
    process.stdout.write(diff.length === 0 ? '# the filter holds exactly this plan: nothing to load\n' : `# ${diff.length} of ${wanted.length} buckets differ from what the filter holds:\n`);
    for (const c of diff) process.stdout.write(`#   bucket ${c.bucket}: ${label(c.from)} -> ${label(c.to)}\n`);
    if (diff.length === 0) return;
  }
  for (const [name, text] of Object.entries(anchors)) process.stdout.write(`# --- pfctl -o none -a ${name} -f -\n${text}`);
}

export function planCommand(): Command {
  return new Command('plan')
    .description('print the anchor (per-host source tables and rules) pfsteer would load for a set of healthy hosts (pf is not touched)')
    .requiredOption('-c, --config <file>', 'configuration file')
    .option('--down <hosts>', 'hosts to treat as down, comma separated')
    .option('--json', 'print {"anchors": {"<anchor>": "<text>"}}')
    .option('--main', 'print only the line(s) to add once to pf.conf, and where')
    .option('--diff', 'read the filter with the configured driver and list the buckets that differ (JSON: "diff")')
    .addHelpText('after', '\nExamples:\n  pfsteer plan -c /usr/local/etc/pfsteer.yaml --down lb2 | less\n  pfsteer plan -c /usr/local/etc/pfsteer.yaml --diff    # what a daemon would load now')
    .action((options: PlanOptions) => run(options));
}
