/** `pfsteer run`: the steering daemon in the foreground, logging NDJSON to stdout. */
import { Command, Option } from 'commander';
import { pino } from 'pino';
import { Daemon } from '../daemon/daemon.ts';
import { realParts } from '../daemon/parts.ts';
import { ConfigError } from '../errors.ts';
import { readFile } from 'node:fs/promises';
import { formatConfigError } from '../config/format-error.ts';
import { EXIT } from './exit.ts';

interface RunOptions {
  config: string;
  logLevel: string;
}

async function run(options: RunOptions): Promise<void> {
  const logger = pino({ level: options.logLevel, base: { pid: process.pid } });
  // Handlers first: a SIGHUP during start-up (reading the filter, waiting for the first verdicts)
  // must not kill the process with Node's default action, and a SIGTERM then must stop it cleanly.
  let daemon: Daemon | undefined;
  let reloadAsked = false;
  const stopAsked = new Promise<'stop'>((resolve) => {
    const stop = (signal: string) => {
      logger.info({ signal }, 'stopping');
      resolve('stop');
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  const reload = (running: Daemon): void => {
    void running.reload().catch((error: unknown) => logger.error({ err: error }, 'reload failed'));
  };
  process.on('SIGHUP', () => {
    logger.info(daemon ? 'SIGHUP: reloading the config' : 'SIGHUP during start-up: reloading once started');
    if (daemon) reload(daemon);
    else reloadAsked = true;
  });
  try {
    daemon = await Daemon.create(options.config, realParts, logger);
  } catch (error) {
    if (error instanceof ConfigError) {
      const text = await readFile(options.config, 'utf8').catch(() => '');
      process.stderr.write(`${formatConfigError(error, text)}\n`);
      process.exitCode = EXIT.usage;
      return;
    }
    logger.fatal({ err: error }, 'cannot start');
    process.exitCode = EXIT.failure;
    return;
  }
  const started = daemon.start().then(
    () => 'started' as const,
    (error: unknown) => error,
  );
  // Asked before the daemon existed: the daemon queues it behind the start just begun.
  if (reloadAsked) reload(daemon);
  const first = await Promise.race([started, stopAsked]);
  if (first !== 'started' && first !== 'stop') {
    logger.fatal({ err: first }, 'cannot start');
    process.exitCode = EXIT.failure;
    return;
  }
  if (first === 'started') await stopAsked;
  await daemon.close();
  process.exitCode = EXIT.ok;
}

export function daemonRunCommand(): Command {
  return new Command('run')
    .description('run the steering daemon: health checks, mapping, and only the bucket anchors that change')
    .requiredOption('-c, --config <file>', 'configuration file')
    .addOption(new Option('--log-level <level>', 'least severe log level written').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'))
    .addHelpText(
      'after',
      `
Signals:
  SIGHUP           reload the config; an invalid one is logged with its errors and the old one keeps running
  SIGTERM, SIGINT  stop checks and exit 0, leaving the filter exactly as it is (fail-static)

Logs are pino NDJSON on stdout; pipe them to pino-pretty to read, or let rc.d send them to syslog.`,
    )
    .action((options: RunOptions) => run(options));
}
