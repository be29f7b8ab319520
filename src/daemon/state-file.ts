/**
 * Drains survive restarts in a small JSON file, written atomically (a temporary file of its own
 * name, fsync, rename) so a crash leaves either the old file or the new one, never half of one.
 * Callers serialise writes; the unique temporary names keep even unserialised writers (two
 * daemons by mistake) from renaming each other's files away.
 */
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
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

/** The state file could not be read or written; `code` says which. */
export class StateFileError extends PfsteerError {}

export async function readState(file: string): Promise<PersistentState> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { drained: [] };
    throw new StateFileError('state-read', `cannot read the state file ${file}: ${(error as Error).message}`, { cause: error });
  }
  try {
    const parsed = JSON.parse(text) as { drained?: unknown; since?: unknown; config_since?: unknown };
    if (!Array.isArray(parsed.drained) || !parsed.drained.every((name) => typeof name === 'string')) throw new Error('expected {"drained": [host names]}');
    // Files written before drains had a source and a time have neither map.
    return { drained: [...new Set(parsed.drained)].sort(), since: timesOf(parsed.since), configSince: timesOf(parsed.config_since) };
  } catch (error) {
    throw new StateFileError('state-parse', `the state file ${file} is not valid: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Copies a state file that cannot be read next to it (`FILE.bad-<time>`), so an operator can see
 * what it held after the daemon has started without it; undefined when even copying fails.
 */
export async function keepBadState(file: string, now = new Date()): Promise<string | undefined> {
  const copy = `${file}.bad-${now.toISOString().replace(/[:.]/g, '-')}`;
  try {
    await copyFile(file, copy);
    return copy;
  } catch {
    return undefined;
  }
}

export async function writeState(file: string, state: PersistentState): Promise<void> {
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await mkdir(dirname(file), { recursive: true });
    const handle = await open(temp, 'wx', 0o644);
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
  } catch (error) {
    // A full disk leaves a short or empty temporary file; it must not pile up.
    await rm(temp, { force: true }).catch(() => undefined);
    throw new StateFileError('state-write', `cannot write the state file ${file}: ${(error as Error).message}`, { cause: error });
  }
}
