/**
 * `pfsteer flush`: removes everything pfsteer loaded into the filter (pf: its anchor with its
 * rules and tables, and any old per-bucket anchors; nft: its table), for decommissioning. A
 * running daemon would load it all again on its next pass: stop it first. SIGTERM, by contrast,
 * leaves the filter as it is.
 */
import { createInterface } from 'node:readline/promises';
import { Command } from 'commander';
import { loadConfig } from '../config/load.ts';
import { createDriver } from '../daemon/parts.ts';
import { UsageError } from '../errors.ts';
import { EXIT } from './exit.ts';

interface FlushOptions {
  config: string;
  yes?: boolean;
}

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } catch {
    // stdin closed without an answer: no.
    return false;
  } finally {
    rl.close();
  }
}

async function run(options: FlushOptions): Promise<void> {
  const config = await loadConfig(options.config);
  if (config.driver === 'memory') throw new UsageError('driver memory keeps nothing outside a running daemon; there is nothing to flush');
  const what = config.driver === 'pf' ? `pf anchor "${config.pf.anchor}" with its rules and tables` : `nft table inet ${config.nft.table}`;
  if (!options.yes && !(await confirm(`Remove ${what}? Steering stops for every client. [y/N] `))) {
    process.stderr.write('pfsteer: nothing removed\n');
    process.exitCode = EXIT.failure;
    return;
  }
  const driver = createDriver(config);
  try {
    const removed = (await driver.flush?.()) ?? [];
    process.stdout.write(removed.length === 0 ? 'nothing of pfsteer was loaded\n' : `removed:\n${removed.map((r) => `  ${r}\n`).join('')}`);
  } finally {
    await driver.close();
  }
}

export function flushCommand(): Command {
  return new Command('flush')
    .description('remove everything pfsteer loaded into the filter (pf anchor and its tables, or the nft table): for decommissioning')
    .requiredOption('-c, --config <file>', 'configuration file')
    .option('--yes', 'do not ask')
    .addHelpText('after', '\nStop the daemon first: a running daemon loads the anchor again on its next pass.\nExit codes: 0 removed (or nothing there), 1 not confirmed or pfctl/nft failed, 2 bad arguments or config.')
    .action((options: FlushOptions) => run(options));
}
