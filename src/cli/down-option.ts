/** `--down lb2,lb3`: a health view with those hosts down and every other host up. */
import type { Config } from '../config/model.ts';
import { UsageError } from '../errors.ts';
import type { HostState } from '../health/types.ts';

export function statesWithDown(config: Config, option: string | undefined, file: string): Map<string, HostState> {
  const down = (option ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  for (const name of down) {
    if (!config.hosts.some((h) => h.name === name)) throw new UsageError(`--down names "${name}", which ${file} does not have`);
  }
  return new Map(config.hosts.map((h) => [h.name, down.includes(h.name) ? 'down' : 'up']));
}
