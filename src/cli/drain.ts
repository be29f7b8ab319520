/** `pfsteer drain` and `pfsteer undrain`: move a host's buckets away and back, keeping its states. */
import { Command, InvalidArgumentError } from 'commander';
import { parseDuration } from '../config/duration.ts';
import { callControl, ControlError } from '../daemon/control-client.ts';
import { DRAIN_TIMEOUT_MS } from '../daemon/drain-wait.ts';
import { PfsteerError, UsageError } from '../errors.ts';
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
    .option('--timeout <duration>', 'with --wait: give up after this long (exit 1)', durationArgument, DRAIN_TIMEOUT_MS)
    .addHelpText(
      'after',
      `
The drain persists across daemon restarts until \`pfsteer undrain HOST\`. It is this firewall's
only: to drain a host on both firewalls of a pair, set \`drain: true\` under the host in the
config both read and reload them. A host the config drains already is left as it is (--wait
still waits for its states).`,
    )
    .action(async (host: string, options: TargetOptions & { wait?: boolean; timeout: number }) => {
      const socket = await controlSocket(options);
      const result = await callControl<{ buckets: number; source: string }>(socket, 'POST', `/drain/${encodeURIComponent(host)}`);
      process.stdout.write(result.source === 'config' ? `${host} is drained by the config already (${result.buckets} buckets left)\n` : `${host} drained (${result.buckets} buckets left)\n`);
      if (options.wait && !(await waitForStates(socket, host, options.timeout))) {
        throw new PfsteerError('drain-timeout', `${host} still has states after ${options.timeout} ms`);
      }
      process.exitCode = EXIT.ok;
    });
}

export function undrainCommand(): Command {
  return new Command('undrain')
    .description('give a host drained at run time its buckets back')
    .argument('<host>', 'host name from the config')
    .option('-c, --config <file>', 'the daemon\'s config file (to find its control socket)')
    .option('--socket <path>', 'the control socket, instead of -c')
    .addHelpText('after', '\nA drain from the config (hosts.HOST.drain) is refused here (exit 2): it is the pair\'s, so it ends in the config, on both firewalls.')
    .action(async (host: string, options: TargetOptions) => {
      const result = await callControl<{ buckets: number; drained: boolean }>(await controlSocket(options), 'POST', `/undrain/${encodeURIComponent(host)}`).catch((error: unknown) => {
        throw error instanceof ControlError && error.code === 'drained-by-config' ? new UsageError(error.message) : error;
      });
      process.stdout.write(result.drained ? `${host}: runtime drain removed; the config still drains it\n` : `${host} undrained (${result.buckets} buckets)\n`);
    });
}
