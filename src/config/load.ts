/**
 * Config text -> validated model, or a ConfigError carrying every problem with its position.
 * Reading the file is the only I/O; parseConfig is pure.
 */
import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument } from 'yaml';
import { ConfigError, type ConfigIssue } from '../errors.ts';
import type { Config } from './model.ts';
import { Reader } from './reader.ts';
import { validateDocument } from './validate.ts';

/** Larger than any sane config; bounds the work a hostile file can cause. */
const MAX_BYTES = 1_048_576;

export async function loadConfig(file: string): Promise<Config> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new ConfigError(file, [{ code: 'read-failed', message: `cannot read the config file: ${reason}` }], { cause: error });
  }
  return parseConfig(text, file);
}

export function parseConfig(text: string, file: string): Config {
  if (text.length > MAX_BYTES) {
    throw new ConfigError(file, [{ code: 'file-too-large', message: `expected a config of at most ${MAX_BYTES} bytes, got ${text.length}` }]);
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, strict: true });
  const syntax: ConfigIssue[] = [...doc.errors, ...doc.warnings].map((e) => ({
    code: e.code === 'DUPLICATE_KEY' ? 'duplicate-key' : 'yaml-syntax',
    message: e.code === 'DUPLICATE_KEY' ? 'this key appears twice in the same mapping; keep one' : `${e.message.split('\n')[0]} (${e.code})`,
    pos: lines.linePos(e.pos[0]),
  }));
  // Past a syntax error the tree is a guess; only duplicate keys leave it trustworthy.
  if (syntax.some((issue) => issue.code === 'yaml-syntax')) throw new ConfigError(file, sortIssues(syntax));
  if (doc.contents === null) throw new ConfigError(file, [{ code: 'empty-file', message: 'the config file is empty; it needs at least `services` and `hosts`', pos: { line: 1, col: 1 } }]);
  const reader = new Reader(doc, lines);
  const config = validateDocument(reader, doc.contents, file);
  const issues = [...syntax, ...reader.issues];
  if (issues.length > 0 || !config) throw new ConfigError(file, sortIssues(issues));
  return config;
}

function sortIssues(issues: ConfigIssue[]): ConfigIssue[] {
  const key = (issue: ConfigIssue) => (issue.pos ? issue.pos.line * 1e6 + issue.pos.col : 0);
  return issues.toSorted((a, b) => key(a) - key(b));
}
