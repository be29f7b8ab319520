/** `pfsteer probe -c FILE [HOST...]`: run the named hosts' checks once, now, and say what they find. */
import { Command } from 'commander';
import type { Config, Host } from '../config/model.ts';
import { nearest } from '../config/suggest.ts';
import { UsageError } from '../errors.ts';
import { checkSession } from '../health/run-check.ts';
import type { CheckResult } from '../health/types.ts';
import { readConfigOrReport } from './config-file.ts';
import { EXIT } from './exit.ts';

interface ProbeOptions {
  config: string;
  json?: boolean;
}

interface ProbedCheck extends CheckResult {
  name: string;
  type: string;
}

interface ProbedHost {
  name: string;
  /** Up when every check passed, as the daemon judges a host whose checks all agree. */
  state: 'up' | 'down';
  checks: ProbedCheck[];
}

export function probeCommand(): Command {
  return new Command('probe')
    .description("run the checks of the named hosts (all hosts if none are named) once, now, and print every result; pf and any running daemon are not touched")
    .argument('[hosts...]', 'host names from the config')
    .requiredOption('-c, --config <file>', 'configuration file')
    .option('--json', 'print {"up": bool, "hosts": [{"name", "state", "checks": [{"name", "type", "ok", "code", "detail", "ms"}]}]}')
    .addHelpText(
      'after',
      `
Each check runs once with its configured timeout; rise and fall do not apply, so a host is up
when every one of its checks passes this time.

Exit codes:
  ${EXIT.ok}  every probed host is up
  ${EXIT.failure}  at least one probed host is down
  ${EXIT.usage}  the config is invalid or unreadable, or a host name is not in it

Example:
  pfsteer probe -c /usr/local/etc/pfsteer.yaml lb1`,
    )
    .action(async (names: string[], options: ProbeOptions) => {
      process.exitCode = await runProbe(options.config, names, options.json === true);
    });
}

async function runProbe(file: string, names: readonly string[], json: boolean): Promise<number> {
  const config = await readConfigOrReport(file);
  if (!config) return EXIT.usage;
  const hosts = selectHosts(config, names, file);
  const probed = await Promise.all(hosts.map(probeHost));
  const up = probed.every((host) => host.state === 'up');
  if (json) process.stdout.write(`${JSON.stringify({ up, hosts: probed })}\n`);
  else process.stdout.write(formatText(probed));
  return up ? EXIT.ok : EXIT.failure;
}

function selectHosts(config: Config, names: readonly string[], file: string): Host[] {
  if (names.length === 0) return config.hosts;
  const known = config.hosts.map((h) => h.name);
  return [...new Set(names)].map((name) => {
    const host = config.hosts.find((h) => h.name === name);
    if (host) return host;
    const near = nearest(name, known);
    throw new UsageError(`no host "${name}" in ${file}${near ? `; did you mean "${near}"?` : `; it has ${known.join(', ')}`}`);
  });
}

async function probeHost(host: Host): Promise<ProbedHost> {
  const checks = await Promise.all(
    host.checks.map(async (check): Promise<ProbedCheck> => {
      const session = checkSession(check);
      let result: CheckResult;
      try {
        const run = session.run(new AbortController().signal);
        result = await run.result;
        // The command exits only once nothing of an exec check is left running.
        await run.gone;
      } finally {
        await session.close();
      }
      return { name: check.name, type: check.type, ...result, ms: Math.round(result.ms) };
    }),
  );
  return { name: host.name, state: checks.every((c) => c.ok) ? 'up' : 'down', checks };
}

function formatText(hosts: readonly ProbedHost[]): string {
  const lines: string[] = [];
  for (const host of hosts) {
    lines.push(`${host.name} ${host.state}${host.checks.length === 0 ? ' (no checks)' : ''}`);
    const nameWidth = Math.max(...host.checks.map((c) => c.name.length));
    const codeWidth = Math.max(...host.checks.map((c) => c.code.length));
    for (const check of host.checks) {
      lines.push(`  ${check.name.padEnd(nameWidth)}  ${check.code.padEnd(codeWidth)}  ${`${check.ms} ms`.padStart(7)}  ${check.detail}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
