/**
 * `pfsteer simulate`: how a mapping spreads buckets over a set of hosts, and what moves when
 * hosts go down or join. Pure computation, nothing is read or written.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { UsageError } from '../errors.ts';
import { ALGORITHMS, DEFAULT_ALGORITHM, algorithmNamed } from '../mapping/algorithms.ts';
import { balanceOf, movedBuckets } from '../mapping/measure.ts';
import type { HostSpec, Owners } from '../mapping/types.ts';
import { nameProblem } from '../config/names.ts';

function parseBuckets(text: string): number {
  const value = Number(text);
  if (!/^[0-9]+$/.test(text) || value < 2 || value > 65536) {
    throw new InvalidArgumentError(`expected a whole number of buckets from 2 to 65536, got "${text}"`);
  }
  return value;
}

function parseSeed(text: string): number {
  if (!/^(?:[0-9]+|0x[0-9a-fA-F]+)$/.test(text) || Number(text) > 0xffffffff) {
    throw new InvalidArgumentError(`expected a seed from 0 to 4294967295, got "${text}"`);
  }
  return Number(text);
}

/** `lb1,lb2,lb3:2` -> hosts with weights (default 1). */
export function parseHostList(text: string): HostSpec[] {
  const hosts = text.split(',').map((item): HostSpec => {
    const [name = '', weight = '1', ...rest] = item.trim().split(':');
    const problem = rest.length > 0 ? `expected name[:weight], got "${item}"` : nameProblem('host', name);
    if (problem) throw new UsageError(problem);
    if (!/^[1-9][0-9]{0,3}$/.test(weight)) throw new UsageError(`expected a weight from 1 to 9999 after "${name}:", got "${weight}"`);
    return { name, weight: Number(weight) };
  });
  const names = new Set(hosts.map((h) => h.name));
  if (names.size !== hosts.length) throw new UsageError(`a host appears twice in "${text}"`);
  return hosts;
}

interface SimulateOptions {
  buckets: number;
  hosts: string;
  down?: string;
  add?: string;
  algorithm: string;
  seed: number;
  json?: boolean;
}

function balanceRows(owners: Owners, hosts: readonly HostSpec[]): string[] {
  const { counts } = balanceOf(owners, hosts);
  const total = hosts.reduce((sum, h) => sum + h.weight, 0);
  const rows = ['host         weight  buckets    share  deviation'];
  for (const host of hosts) {
    const exact = (owners.length * host.weight) / total;
    const count = counts.get(host.name)!;
    rows.push(
      `${host.name.padEnd(12)} ${String(host.weight).padStart(6)} ${String(count).padStart(8)} ${exact.toFixed(2).padStart(8)} ${(count - exact).toFixed(2).padStart(10)}`,
    );
  }
  return rows;
}

function run(options: SimulateOptions): void {
  const algorithm = algorithmNamed(options.algorithm);
  if (!algorithm) {
    throw new UsageError(`unknown algorithm "${options.algorithm}"; expected one of ${ALGORITHMS.map((a) => a.name).join(', ')}`);
  }
  const hosts = parseHostList(options.hosts);
  const down = options.down ? options.down.split(',').map((s) => s.trim()) : [];
  for (const name of down) {
    if (!hosts.some((h) => h.name === name)) throw new UsageError(`--down names "${name}", which is not in --hosts`);
  }
  const added = options.add ? parseHostList(options.add) : [];
  for (const host of added) {
    if (hosts.some((h) => h.name === host.name)) throw new UsageError(`--add names "${host.name}", which is already in --hosts`);
  }
  const input = { hosts, buckets: options.buckets, seed: options.seed };
  const before = algorithm.build(input).owners(new Set(hosts.map((h) => h.name)));
  const universe = [...hosts, ...added];
  const live = universe.filter((h) => !down.includes(h.name));
  const after = added.length > 0 || down.length > 0 ? algorithm.build({ ...input, hosts: universe }).owners(new Set(live.map((h) => h.name))) : before;
  const moved = movedBuckets(before, after);
  const minimum = minimumMoves(before, down, added, universe, live, options.buckets);
  const report = {
    algorithm: algorithm.name,
    buckets: options.buckets,
    seed: options.seed,
    hosts: live.map((h) => ({ name: h.name, weight: h.weight, buckets: balanceOf(after, live).counts.get(h.name) })),
    balance: { maxDeviation: balanceOf(after, live).maxDeviation, peakOverMean: balanceOf(after, live).peakOverMean },
    ...(after !== before ? { moved, minimum, movedOverMinimum: minimum > 0 ? moved / minimum : null, ownersBefore: before } : {}),
    owners: after,
  };
  if (options.json) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
    return;
  }
  const lines = [`${algorithm.name}: ${options.buckets} buckets, seed ${options.seed}`];
  if (after !== before) {
    lines.push('', 'before:', ...balanceRows(before, hosts), '', `after (${[...down.map((d) => `${d} down`), ...added.map((a) => `${a.name} added`)].join(', ')}):`);
  }
  lines.push(...balanceRows(after, live));
  lines.push(`max deviation ${report.balance.maxDeviation.toFixed(2)} buckets, peak/mean ${report.balance.peakOverMean.toFixed(3)}`);
  if (after !== before) {
    lines.push(`moved ${moved} buckets; minimum ${minimum.toFixed(2)}; moved/minimum ${minimum > 0 ? (moved / minimum).toFixed(3) : 'n/a'}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

/**
 * The least any mapping must move: the buckets the downed hosts held, plus the exact share
 * an added host must receive.
 */
function minimumMoves(before: Owners, down: string[], added: HostSpec[], universe: HostSpec[], live: HostSpec[], buckets: number): number {
  const lost = before.filter((owner) => owner !== null && down.includes(owner)).length;
  const total = live.reduce((sum, h) => sum + h.weight, 0);
  const gained = added.filter((h) => live.includes(h)).reduce((sum, h) => sum + (buckets * h.weight) / total, 0);
  return universe.length > 0 ? lost + gained : 0;
}

export function simulateCommand(): Command {
  return new Command('simulate')
    .description('show how a mapping spreads buckets over hosts, and what moves when hosts go down or join')
    .requiredOption('--hosts <list>', 'hosts as name[:weight], comma separated, e.g. lb1,lb2,lb3:2')
    .addOption(new Option('--buckets <n>', 'number of buckets').argParser(parseBuckets).default(256))
    .option('--down <list>', 'hosts to take down, comma separated')
    .option('--add <list>', 'hosts to add to the configuration, name[:weight], comma separated')
    .addOption(new Option('--algorithm <name>', 'mapping algorithm').choices(ALGORITHMS.map((a) => a.name)).default(DEFAULT_ALGORITHM.name))
    .addOption(new Option('--seed <n>', 'hash seed').argParser(parseSeed).default(0))
    .option('--json', 'print {"algorithm", "buckets", "owners": [host per bucket], ...figures} as JSON')
    .addHelpText(
      'after',
      `
Examples:
  pfsteer simulate --buckets 256 --hosts lb1,lb2,lb3:2 --down lb2
  pfsteer simulate --hosts lb1,lb2,lb3 --add lb4 --algorithm maglev --json

Algorithms: ${ALGORITHMS.map((a) => `\n  ${a.name.padEnd(11)} ${a.summary}`).join('')}`,
    )
    .action((options: SimulateOptions) => run(options));
}
