/** What one emulated pfctl call prints and its exit status, and pfctl's fixed texts. */
import type { Os } from './grammar.ts';

export interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

export const OK: Outcome = { code: 0, stdout: '', stderr: '' };

export function failure(stderr: string, code = 1): Outcome {
  return { code, stdout: '', stderr };
}

/** pfctl's usage(), which exits 1. */
export function usage(os: Os): Outcome {
  const text =
    os === 'freebsd'
      ? 'usage: pfctl [-AdeghmNnOPqRrvz] [-a anchor] [-D macro=value] [-F modifier]\n\t[-f file] [-i interface] [-K host | network]\n\t[-k host | network | label | id] [-o level] [-p device]\n\t[-s modifier] [-t table -T command [address ...]] [-x level]\n'
      : 'usage: pfctl [-deghNnPqrvz] [-a anchor] [-D macro=value] [-F modifier] [-f file]\n\t[-i interface] [-K key] [-k key] [-L statefile] [-o level]\n\t[-p device] [-S statefile] [-s modifier [-R id]]\n\t[-t table -T command [address ...]] [-V rdomain] [-x level]\n';
  return failure(text);
}

export interface PrintOptions {
  quiet: boolean;
  dryRun: boolean;
}

/** pfctl's xprintf: a summary line on stderr, silenced by -q, marked under -n. */
export function summary(options: PrintOptions, text: string): string {
  if (options.quiet) return '';
  return `${text}${options.dryRun ? ' (syntax only)' : ''}.\n`;
}
