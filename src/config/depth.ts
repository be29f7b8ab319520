/**
 * How deep a YAML text nests, read from the raw characters before the parser sees them: yaml's
 * lexer, parser and composer take seconds on 100 000 nested brackets (and recurse until the
 * stack runs out), while a config nests about eight levels. One linear pass counts open flow
 * collections, compact block entries (`- - - x`) and indentation levels; it only has to be
 * exact enough to never refuse a sane config.
 */
import type { SourcePosition } from '../errors.ts';

export const MAX_DEPTH = 64;

/** Where nesting first exceeds MAX_DEPTH, or undefined. */
export function tooDeep(text: string): SourcePosition | undefined {
  const indents: number[] = [];
  let flow = 0;
  let line = 1;
  let i = 0;
  while (i < text.length) {
    const lineStart = i;
    while (text[i] === ' ') i++;
    const indent = i - lineStart;
    const blank = i >= text.length || text[i] === '\n' || text[i] === '\r' || text[i] === '#';
    if (!blank && flow === 0) {
      while (indents.length > 0 && indents.at(-1)! >= indent) indents.pop();
      indents.push(indent);
    }
    // At a node's start a quote opens a quoted scalar and a bracket a flow collection.
    let atNodeStart = true;
    let compact = 0;
    while (i < text.length && text[i] !== '\n') {
      const c = text[i]!;
      if (c === '#' && (i === lineStart || text[i - 1] === ' ' || text[i - 1] === '\t')) {
        while (i < text.length && text[i] !== '\n') i++;
        break;
      }
      if (atNodeStart && (c === '"' || c === "'")) {
        const end = closingQuote(text, i);
        for (let j = i; j < end; j++) if (text[j] === '\n') line++;
        i = end;
        atNodeStart = false;
        continue;
      }
      if (atNodeStart && (c === '[' || c === '{')) flow++;
      else if (flow > 0 && (c === ']' || c === '}')) flow--;
      else if (flow === 0 && atNodeStart && (c === '-' || c === '?') && (text[i + 1] === ' ' || text[i + 1] === undefined || text[i + 1] === '\n')) compact++;
      const depth = flow + indents.length + compact;
      if (depth > MAX_DEPTH) return { line, col: i - lineStart + 1 };
      if (c === ' ' || c === '\t') {
        i++;
        continue;
      }
      atNodeStart = c === '[' || c === '{' || c === ',' || c === '-' || c === '?' || (c === ':' && (text[i + 1] === ' ' || flow > 0));
      i++;
    }
    i++;
    line++;
  }
  return undefined;
}

/** The index just past a quoted scalar that starts at `start` (or the end of the text). */
function closingQuote(text: string, start: number): number {
  const quote = text[start]!;
  let i = start + 1;
  while (i < text.length) {
    const c = text[i]!;
    if (quote === '"' && c === '\\') i += 2;
    else if (c === quote && quote === "'" && text[i + 1] === "'") i += 2;
    else if (c === quote) return i + 1;
    else i++;
  }
  return text.length;
}
