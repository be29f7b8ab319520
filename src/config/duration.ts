/**
 * Durations as operators write them: `250ms`, `1s`, `1.5s`, `2m`, `1h`. Bare numbers are refused
 * because `timeout: 2` could mean seconds or milliseconds and a wrong guess is silent.
 */

const UNITS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;
type Unit = keyof typeof UNITS;

const DURATION = /^(0|[1-9][0-9]{0,8})(?:\.([0-9]{1,3}))?(ms|s|m|h)$/;

/** Milliseconds, or undefined when the text is not a duration of a whole number of ms. */
export function parseDuration(text: string): number | undefined {
  const match = DURATION.exec(text);
  if (!match) return undefined;
  const unit = UNITS[match[3] as Unit];
  const whole = Number(match[1]) * unit;
  const fraction = match[2] === undefined ? 0 : (Number(match[2]) * unit) / 10 ** match[2].length;
  if (!Number.isInteger(fraction)) return undefined;
  const ms = whole + fraction;
  return Number.isSafeInteger(ms) ? ms : undefined;
}

/** The shortest exact text for `ms`, in the largest unit that divides it. */
export function formatDuration(ms: number): string {
  for (const unit of ['h', 'm', 's'] as const) {
    if (ms !== 0 && ms % UNITS[unit] === 0) return `${ms / UNITS[unit]}${unit}`;
  }
  return `${ms}ms`;
}
