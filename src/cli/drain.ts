/** `pfsteer drain` and `pfsteer undrain`: move a host's buckets away and back, keeping its states. */
import { Command, InvalidArgumentError } from 'commander';
import { parseDuration } from '../config/duration.ts';
import { callControl } from '../daemon/control-client.ts';
import { PfsteerError } from '../errors.ts';
import { controlSocket, type TargetOptions } from './control-target.ts';
import { EXIT } from './exit.ts';

function durationArgument(text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined) throw new InvalidArgumentError(`expected a duration such as 30s or 10m, got "${text}"`);
  return ms;
}

const POLL_MS = 500;

async function waitForStates(socket: string, host: string, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const { states } = await callControl<{ states: number }>(socket, 'GET', `/states/${encodeURIComponent(host)}`);
    process.stderr.write(`${host}: ${states} state(s) left\n`);
    if (states === 0) return true;
    if (performance.now() + POLL_MS > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

export function drainCommand(): Command {
  return new Command('drain')
    .description('move a host\'s buckets to other hosts for new connections; its existing states stay')
    .argument('<host>', 'host name from the config')
    .option('-c, --config <file>', 'the daemon\'s config file (to find its control socket)')
    .option('--socket <path>', 'the control socket, instead of -c')
    .option('--wait', 'return only when the filter holds no state to the host any more')
    .option('--timeout <duration>', 'with --wait: give up after this long (exit 1)', durationArgument, 600_000)
    .addHelpText('after', '\nThe drain persists across daemon restarts until `pfsteer undrain HOST`.')
    .action(async (host: string, options: TargetOptions & { wait?: boolean; timeout: number }) => {
      const socket = await controlSocket(options);
      const result = await callControl<{ buckets: number }>(socket, 'POST', `/drain/${encodeURIComponent(host)}`);
      process.stdout.write(`${host} drained (${result.buckets} buckets left)\n`);
      if (options.wait && !(await waitForStates(socket, host, options.timeout))) {
        throw new PfsteerError('drain-timeout', `${host} still has states after ${options.timeout} ms`);
      }
      process.exitCode = EXIT.ok;
    });
}

export function undrainCommand(): Command {
  return new Command('undrain')
    .description('give a drained host its buckets back')
    .argument('<host>', 'host name from the config')
    .option('-c, --config <file>', 'the daemon\'s config file (to find its control socket)')
    .option('--socket <path>', 'the control socket, instead of -c')
    .action(async (host: string, options: TargetOptions) => {
      const result = await callControl<{ buckets: number }>(await controlSocket(options), 'POST', `/undrain/${encodeURIComponent(host)}`);
      process.stdout.write(`${host} undrained (${result.buckets} buckets)\n`);
    });
}
