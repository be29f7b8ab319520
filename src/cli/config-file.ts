/** Reading a config for a command that reports its problems itself, as `pfsteer check` does. */
import { readFile } from 'node:fs/promises';
import { formatConfigError } from '../config/format-error.ts';
import { parseConfig } from '../config/load.ts';
import type { Config } from '../config/model.ts';
import { ConfigError } from '../errors.ts';

/** The config, or undefined once every problem with it (located) is on stderr. */
export async function readConfigOrReport(file: string): Promise<Config | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    process.stderr.write(`${file}: read-failed: cannot read the config file: ${(error as NodeJS.ErrnoException).code ?? String(error)}\n`);
    return undefined;
  }
  try {
    return parseConfig(text, file);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${formatConfigError(error, text)}\n${error.issues.length} problem(s) in ${file}\n`);
    return undefined;
  }
}
