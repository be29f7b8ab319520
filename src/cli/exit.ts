/** Process exit codes, documented in `pfsteer --help`. */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
} as const;
