/**
 * Drains survive restarts in a small JSON file, written atomically (temp file, fsync, rename)
 * so a crash leaves either the old file or the new one, never half of one.
 */
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { PfsteerError } from '../errors.ts';

export interface PersistentState {
  /** Hosts drained at run time (`pfsteer drain`). */
  drained: string[];
  /** When each drain began (ISO time), runtime drains by host and config drains by host. */
  since?: Record<string, string>;
  configSince?: Record<string, string>;
}

/** Drain times only label drains, so a missing or unreadable one is dropped, never fatal. */
function timesOf(value: unknown): Record<string, string> {
  if (typeof value !== 'object' || value === null) return {};
  return Object.fromEntries(Object.entries(value).filter((e): e is [string, string] => typeof e[1] === 'string' && !Number.isNaN(Date.parse(e[1]))));
}

export async function readState(file: string): Promise<PersistentState> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { drained: [] };
    throw new PfsteerError('state-read', `cannot read the state file ${file}: ${(error as Error).message}`, { cause: error });
  }
  try {
    const parsed = JSON.parse(text) as { drained?: unknown; since?: unknown; config_since?: unknown };
    if (!Array.isArray(parsed.drained) || !parsed.drained.every((name) => typeof name === 'string')) throw new Error('expected {"drained": [host names]}');
    // Files written before drains had a source and a time have neither map.
    return { drained: [...new Set(parsed.drained)].sort(), since: timesOf(parsed.since), configSince: timesOf(parsed.config_since) };
  } catch (error) {
    throw new PfsteerError('state-parse', `the state file ${file} is not valid: ${(error as Error).message}`, { cause: error });
  }
}

export async function writeState(file: string, state: PersistentState): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  const handle = await open(temp, 'w', 0o644);
  try {
    await handle.writeFile(`${JSON.stringify({ drained: [...state.drained].sort(), since: state.since ?? {}, config_since: state.configSince ?? {} })}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, file);
  // The rename itself must reach the disk too, or a crash may bring back the old name.
  const directory = await open(dirname(file), 'r');
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
}
