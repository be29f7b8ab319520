/** hfm configuration text -> pfsteer.yaml text and notes, or a ConfigError with every located problem. */
import { ConfigError } from '../errors.ts';
import { convertHfm, type Converted } from './convert.ts';
import { readHfm } from './rules.ts';
import { parseUcl } from './ucl.ts';

/** Far larger than any monitor configuration; bounds the work a hostile file can cause. */
const MAX_BYTES = 1_048_576;

export function importHfm(text: string, file: string): Converted {
  if (text.length > MAX_BYTES) throw new ConfigError(file, [{ code: 'file-too-large', message: `expected an hfm configuration of at most ${MAX_BYTES} bytes, got ${text.length}` }]);
  const parsed = parseUcl(text);
  if (!parsed.ok) throw new ConfigError(file, parsed.issues);
  const read = readHfm(parsed.root);
  if (!read.ok) throw new ConfigError(file, read.issues.toSorted((a, b) => (a.pos?.line ?? 0) - (b.pos?.line ?? 0) || (a.pos?.col ?? 0) - (b.pos?.col ?? 0)));
  if (read.rules.length === 0) {
    throw new ConfigError(file, [{ code: 'hfm-no-rules', message: 'no hfm rule (a block with a `test`) was found; there is nothing to convert', pos: { line: 1, col: 1 } }]);
  }
  return convertHfm(read.rules, file);
}
