/** A ConfigError as a compiler prints it: `file:line:col: code: message`, the line, a caret. */
import type { ConfigError } from '../errors.ts';

/** `label` goes before each code, e.g. `warning: ` for problems that do not stop the config. */
export function formatConfigError(error: ConfigError, text?: string, label = ''): string {
  const lines = text?.split(/\r?\n/);
  const out: string[] = [];
  for (const issue of error.issues) {
    if (!issue.pos) {
      out.push(`${error.file}: ${label}${issue.code}: ${issue.message}`);
      continue;
    }
    const { line, col } = issue.pos;
    out.push(`${error.file}:${line}:${col}: ${label}${issue.code}: ${issue.message}`);
    const source = lines?.[line - 1];
    if (source !== undefined) {
      // Tabs keep their width so the caret lands under the right character.
      const visible = source.replace(/[\x00-\x08\x0a-\x1f\x7f]/g, ' ');
      out.push(`  ${visible}`, `  ${visible.slice(0, col - 1).replace(/[^\t]/g, ' ')}^`);
    }
  }
  return out.join('\n');
}
