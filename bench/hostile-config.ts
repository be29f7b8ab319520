/**
 * `npm run bench:hostile-config`: what hostile configs cost the loader. Each named case (the
 * alias amplifications of issue 16, an alias bomb, deep nesting, a huge mapping) is loaded 3
 * times: median CPU (this process) and wall time, and the verdict with its position. Then the
 * injection matrix of test/hostile/config-cases.ts (every payload through every string field),
 * counted. Prints the "## Config loader and checks" section of bench/results/hostile.md.
 *
 * `--case NAME` loads one case once and prints one JSON line: how the before-figures were taken
 * from an older tree, one process per case under `timeout`.
 */
import { stringify } from 'yaml';
import { parseConfig } from '../src/config/load.ts';
import { ConfigError } from '../src/errors.ts';
import { aliasBomb, aliasedChecksOfSize, deepDashes, deepFlow, describeField, FIELDS, judge, manyKeys, PAYLOADS, withValue } from '../test/hostile/config-cases.ts';

const CASES: Record<string, () => string> = {
  'aliased checks, 118 KB': () => aliasedChecksOfSize(118_000, 20),
  'aliased checks, 358 KB': () => aliasedChecksOfSize(358_000, 60),
  'aliased checks, 265 KB, invalid': () => aliasedChecksOfSize(265_000, 40, true),
  'alias bomb, 10 levels of 10': () => aliasBomb(10),
  'flow nesting, 100 000 deep': () => deepFlow(100_000),
  'block nesting (- - -), 200 000 deep': () => deepDashes(200_000),
  'one mapping of 40 000 keys': () => manyKeys(40_000),
};

interface Run {
  cpuMs: number;
  wallMs: number;
  verdict: string;
}

function load(text: string): Run {
  const cpu = process.cpuUsage();
  const started = performance.now();
  let verdict = 'loaded';
  try {
    parseConfig(text, 'hostile.yaml');
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const first = error.issues[0]!;
    verdict = `${first.code}${first.pos ? `@${first.pos.line}:${first.pos.col}` : ''}${error.issues.length > 1 ? ` (+${error.issues.length - 1})` : ''}`;
  }
  const used = process.cpuUsage(cpu);
  return { cpuMs: (used.user + used.system) / 1000, wallMs: performance.now() - started, verdict };
}

const one = process.argv.indexOf('--case');
if (one >= 0) {
  const name = process.argv[one + 1]!;
  process.stdout.write(`${JSON.stringify({ name, ...load(CASES[name]!()) })}\n`);
  process.exit(0);
}

const median = (values: number[]) => values.toSorted((a, b) => a - b)[Math.floor(values.length / 2)]!;
// The first load compiles the loader; it is not a hostile case's cost.
load(aliasBomb(1));
const rows: string[] = [];
for (const [name, build] of Object.entries(CASES)) {
  const text = build();
  const runs = [load(text), load(text), load(text)];
  rows.push(`| ${name} | ${(text.length / 1000).toFixed(0)} KB | ${runs[0]!.verdict} | ${median(runs.map((r) => r.cpuMs)).toFixed(0)} | ${median(runs.map((r) => r.wallMs)).toFixed(0)} |`);
}

const counts = { rejected: 0, accepted: 0 };
const matrixCpu = process.cpuUsage();
for (const field of FIELDS) for (const payload of PAYLOADS) counts[judge(stringify(withValue(field, payload)), `${describeField(field)} = ${JSON.stringify(payload)}`)]++;
const matrixUsed = process.cpuUsage(matrixCpu);

process.stdout.write(
  [
    '## Config loader and checks',
    '',
    `Measured with \`npm run bench:hostile-config\` (node ${process.version}); CPU is this process's, medians of 3 loads.`,
    '',
    '| case | size | verdict (first issue) | CPU ms | wall ms |',
    '|---|---:|---|---:|---:|',
    ...rows,
    '',
    `Injection matrix: ${PAYLOADS.length} payloads (pf, nft, shell, YAML, HTTP syntax) through ${FIELDS.length} string fields and keys = ` +
      `${FIELDS.length * PAYLOADS.length} configs: ${counts.rejected} refused with a position, ${counts.accepted} accepted with the payload ` +
      `rendered as one plain word; ${FIELDS.length * PAYLOADS.length} held (${((matrixUsed.user + matrixUsed.system) / 1000).toFixed(0)} ms CPU in all).`,
    '',
  ].join('\n'),
);
