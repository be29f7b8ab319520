/** `pfsteer check -c FILE`: validate a config and say what it describes. */
import { readFile } from 'node:fs/promises';
import { Command } from 'commander';
import { localWarnings } from '../config/environment.ts';
import { formatConfigError } from '../config/format-error.ts';
import type { Config } from '../config/model.ts';
import { ConfigError } from '../errors.ts';
import { serializeConfig } from '../config/serialize.ts';
import { readConfigOrReport } from './config-file.ts';
import { EXIT } from './exit.ts';

export function checkCommand(): Command {
  return new Command('check')
    .description('validate a config file and summarise what it describes')
    .requiredOption('-c, --config <file>', 'the config file to validate')
    .option('--print', 'print the config with every default filled in, as YAML on stdout (the verdict goes to stderr)')
    .addHelpText(
      'after',
      `
Every problem in the file is reported at once, each as FILE:LINE:COL: CODE: MESSAGE with the
offending line and a caret under the spot. What depends on this machine (a control.group that
/etc/group lacks) is a warning (FILE:LINE:COL: warning: CODE: ...) and leaves the exit code 0.

Exit codes:
  ${EXIT.ok}  the config is valid
  ${EXIT.usage}  the config is invalid or unreadable (problems on stderr)

Example:
  pfsteer check -c /usr/local/etc/pfsteer.yaml`,
    )
    .action(async (options: { config: string; print?: boolean }) => {
      process.exitCode = await runCheck(options.config, options.print === true);
    });
}

async function runCheck(file: string, print: boolean): Promise<number> {
  const config = await readConfigOrReport(file);
  if (!config) return EXIT.usage;
  // What only this machine can tell (a missing control group) warns; the exit stays 0.
  const text = await readFile(file, 'utf8');
  const warnings = await localWarnings(config, text);
  if (warnings.length > 0) process.stderr.write(`${formatConfigError(new ConfigError(file, warnings), text, 'warning: ')}\n`);
  // With --print stdout is the YAML alone, so it can be redirected into a file.
  const verdict = `configuration OK\n${summarize(config)}\n`;
  if (print) {
    process.stdout.write(serializeConfig(config));
    process.stderr.write(verdict);
  } else process.stdout.write(verdict);
  return EXIT.ok;
}

export function summarize(config: Config): string {
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  const target = config.driver === 'pf' ? `driver pf (${config.pf.dialect}, anchor ${config.pf.anchor})` : `driver ${config.driver}`;
  const drained = config.hosts.filter((h) => h.drain).map((h) => h.name);
  return [plural(config.services.length, 'service'), plural(config.hosts.length, 'host'), plural(config.buckets.count, 'bucket'), target, ...(drained.length > 0 ? [`drained by the config: ${drained.join(' ')}`] : [])].join(', ');
}
