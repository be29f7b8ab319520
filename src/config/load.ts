/**
 * Config text -> validated model, or a ConfigError carrying every problem with its position.
 * Reading the file is the only I/O; parseConfig is pure.
 */
import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument } from 'yaml';
import { ConfigError, type ConfigIssue } from '../errors.ts';
import { aliasTargets, checkAliasExpansion } from './aliases.ts';
import { MAX_DEPTH, tooDeep } from './depth.ts';
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
  const deep = tooDeep(text);
  if (deep) throw new ConfigError(file, [{ code: 'too-deep', message: `the config nests more than ${MAX_DEPTH} levels deep here; a config needs about eight`, pos: deep }]);
  const lines = new LineCounter();
  // Repeated keys are the reader's to find (reader.ts says why).
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: false, strict: true });
  const syntax: ConfigIssue[] = [...doc.errors, ...doc.warnings].map((e) => ({
    code: 'yaml-syntax',
    message: `${e.message.split('\n')[0]} (${e.code})`,
    pos: lines.linePos(e.pos[0]),
  }));
  // Past a syntax error the tree is a guess.
  if (syntax.length > 0) throw new ConfigError(file, sortIssues(syntax));
  if (doc.contents === null) throw new ConfigError(file, [{ code: 'empty-file', message: 'the config file is empty; it needs at least `services` and `hosts`', pos: { line: 1, col: 1 } }]);
  const targets = aliasTargets(doc);
  const expansion = checkAliasExpansion(doc, targets);
  if (expansion) throw new ConfigError(file, [{ code: expansion.code, message: expansion.message, pos: lines.linePos(expansion.alias.range?.[0] ?? 0) }]);
  const reader = new Reader(targets, lines);
  const config = validateDocument(reader, doc.contents, file);
  if (reader.issues.length > 0 || !config) throw new ConfigError(file, sortIssues(reader.issues));
  return config;
}

function sortIssues(issues: ConfigIssue[]): ConfigIssue[] {
  const key = (issue: ConfigIssue) => (issue.pos ? issue.pos.line * 1e6 + issue.pos.col : 0);
  return issues.toSorted((a, b) => key(a) - key(b));
}
