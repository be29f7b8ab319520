/** Where the daemon's control socket is: --socket, or the one the config names. */
import { loadConfig } from '../config/load.ts';
import { UsageError } from '../errors.ts';

export interface TargetOptions {
  config?: string;
  socket?: string;
}

export async function controlSocket(options: TargetOptions): Promise<string> {
  if (options.socket) return options.socket;
  if (!options.config) throw new UsageError('say which daemon: -c FILE (its config) or --socket PATH');
  return (await loadConfig(options.config)).control.socket;
}
