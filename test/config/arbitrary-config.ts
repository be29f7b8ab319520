/**
 * fast-check arbitraries of valid Config models: every value inside the ranges the loader
 * accepts, so serialize -> load must give the model back. Other parts may reuse them.
 */
import fc from 'fast-check';
import { formatAddress, networkOf, type Cidr, type IpAddress } from '../../src/net/address.ts';
import type { Check, CheckTiming, CommandSpec, Config, Host, Service, ServiceTarget } from '../../src/config/model.ts';
import { NFT_KEYWORDS } from '../../src/config/nft-keywords.ts';

const HOUR = 3_600_000;

/** Records with ordinary prototypes, as the loader builds them, so deep equality holds. */
const record: typeof fc.record = ((model: never, constraints?: object) => fc.record(model, { ...constraints, noNullPrototype: true } as never)) as typeof fc.record;

export const arbName = (max = 31) => fc.stringMatching(new RegExp(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,${max - 1}}$`));
const arbPath = fc.array(fc.stringMatching(/^[A-Za-z0-9_.-]{1,12}$/), { minLength: 1, maxLength: 4 }).map((parts) => `/${parts.join('/')}`);
/** Text an operator might write: quotes, colons, hashes, newlines, non-ASCII. */
const arbText = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.string({ unit: fc.constantFrom('a', ' ', '\t', '\n', '\r', '"', "'", '#', ':', '- ', '\\', '{', '[', '&', '*', '!', '%', '0', '1', 'é', '🙂'), maxLength: 20 }),
).filter((s) => !s.includes('\0'));
const arbNonEmptyText = arbText.filter((s) => s.length > 0);
const arbEnv = fc.dictionary(fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,15}$/), arbText, { maxKeys: 3, noNullPrototype: true });

export const arbAddress = (family: 4 | 6): fc.Arbitrary<IpAddress> =>
  fc.uint8Array({ minLength: family === 4 ? 4 : 16, maxLength: family === 4 ? 4 : 16 }).map((bytes) => ({ family, bytes }));
const arbAnyAddress = fc.oneof(arbAddress(4), arbAddress(6));
const arbCidr = (family: 4 | 6): fc.Arbitrary<Cidr> =>
  fc.tuple(arbAddress(family), fc.integer({ min: 0, max: family === 4 ? 32 : 128 })).map(([address, prefix]) => ({ address: networkOf({ address, prefix }), prefix }));
const arbPort = fc.integer({ min: 1, max: 65535 });

const arbTiming: fc.Arbitrary<CheckTiming> = fc
  .record({
    interval: fc.integer({ min: 100, max: HOUR }),
    timeoutShare: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
    rise: fc.integer({ min: 1, max: 1000 }),
    fall: fc.integer({ min: 1, max: 1000 }),
    fastinter: fc.integer({ min: 100, max: HOUR }),
    downinter: fc.integer({ min: 100, max: HOUR }),
    jitter: fc.integer({ min: 0, max: HOUR }),
  })
  .filter(({ interval }) => interval > 10)
  .map(({ timeoutShare, ...t }) => ({ ...t, timeout: Math.min(t.interval - 1, Math.max(10, Math.floor(t.interval * timeoutShare))) }));

const arbCommand: fc.Arbitrary<CommandSpec> = record(
  {
    argv: fc.tuple(arbNonEmptyText, fc.array(arbText, { maxLength: 3 })).map(([head, rest]) => [head, ...rest]),
    env: arbEnv,
    cwd: arbPath,
    timeout: fc.integer({ min: 100, max: HOUR }),
    killAfter: fc.integer({ min: 0, max: 60_000 }),
  },
  { requiredKeys: ['argv', 'env', 'timeout', 'killAfter'] },
);

const arbDnsName = fc.array(fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?$/), { minLength: 1, maxLength: 3 }).map((labels) => labels.join('.'));

function arbCheck(name: string): fc.Arbitrary<Check> {
  const exec = record(
    {
      type: fc.constant('exec' as const),
      command: fc.tuple(arbNonEmptyText, fc.array(arbText, { maxLength: 3 })).map(([head, rest]) => [head, ...rest]),
      env: arbEnv,
      cwd: arbPath,
      killAfter: fc.integer({ min: 0, max: 60_000 }),
      maxOutput: fc.integer({ min: 0, max: 1_048_576 }),
    },
    { requiredKeys: ['type', 'command', 'env', 'killAfter', 'maxOutput'] },
  );
  const http = (type: 'http' | 'https') =>
    record(
      {
        type: fc.constant(type),
        address: arbAnyAddress,
        port: arbPort,
        path: fc.stringMatching(/^\/[\x21-\x7e]{0,20}$/),
        host: arbDnsName,
        method: fc.stringMatching(/^[A-Z]{1,16}$/),
        expectStatus: fc.uniqueArray(fc.integer({ min: 100, max: 599 }), { minLength: 1, maxLength: 3 }),
        expectBody: arbNonEmptyText,
        tlsVerify: type === 'https' ? fc.boolean() : fc.constant(true),
        ...(type === 'https' ? { ca: arbPath, clientCert: record({ cert: arbPath, key: arbPath }) } : {}),
        fresh: fc.boolean(),
      },
      { requiredKeys: ['type', 'address', 'port', 'path', 'method', 'expectStatus', 'tlsVerify', 'fresh'] },
    );
  const tcp = record(
    { type: fc.constant('tcp' as const), address: arbAnyAddress, port: arbPort, send: arbNonEmptyText, expect: arbNonEmptyText },
    { requiredKeys: ['type', 'address', 'port'] },
  );
  return fc.tuple(arbTiming, fc.oneof(exec, http('http'), http('https'), tcp)).map(([timing, body]) => ({ name, ...timing, ...body }) as Check);
}

function arbService(name: string): fc.Arbitrary<Service> {
  return fc.constantFrom<'inet' | 'inet6'>('inet', 'inet6').chain((family) =>
    record({
      name: fc.constant(name),
      interface: arbName(15),
      family: fc.constant(family),
      protocol: fc.constantFrom<'tcp' | 'udp'>('tcp', 'udp'),
      external: fc.oneof(
        arbName().map((table) => ({ kind: 'table' as const, table })),
        fc
          .uniqueArray(arbCidr(family === 'inet' ? 4 : 6), { minLength: 1, maxLength: 3, selector: (c) => `${c.address.bytes.join(',')}/${c.prefix}` })
          .map((addresses) => ({ kind: 'addresses' as const, addresses })),
      ),
      ports: fc.uniqueArray(arbPort, { minLength: 1, maxLength: 4 }),
    }),
  );
}

function arbHost(name: string, services: Service[]): fc.Arbitrary<Host> {
  const target = (s: Service): fc.Arbitrary<ServiceTarget> =>
    record({ address: arbAddress(s.family === 'inet' ? 4 : 6), port: arbPort }, { requiredKeys: ['address'] });
  const targets = fc.tuple(...services.map(target)).map((list) => Object.fromEntries(list.map((t, i) => [services[i]!.name, t])));
  const checks = fc
    .uniqueArray(arbName(), { maxLength: 3 })
    .chain((names): fc.Arbitrary<Check[]> => (names.length === 0 ? fc.constant([]) : fc.tuple(...names.map(arbCheck))));
  return record(
    { name: fc.constant(name), weight: fc.integer({ min: 1, max: 1000 }), targets, checks, onUp: arbCommand, onDown: arbCommand, drain: fc.constant(true) },
    { requiredKeys: ['name', 'weight', 'targets', 'checks'] },
  );
}

export function arbConfig(file = 'random.yaml'): fc.Arbitrary<Config> {
  const services = fc.uniqueArray(arbName(), { minLength: 1, maxLength: 3 }).chain((names) => fc.tuple(...names.map(arbService)));
  return services.chain((list) => {
    // Host names leave room for pf's table suffix (`-v4`) within 31 characters.
    const hosts = fc.uniqueArray(arbName(28), { minLength: 1, maxLength: 3 }).chain((names) => fc.tuple(...names.map((n) => arbHost(n, list))));
    return record({
      file: fc.constant(file),
      defaults: arbTiming,
      // Prefixes short enough, and limits high enough, that every layout fits pf; at least as
      // many IPv4 prefixes as buckets.
      buckets: record({
        count: fc.integer({ min: 4, max: 12 }).map((e) => 2 ** e),
        seed: fc.integer({ min: 0, max: 0xffff_ffff }),
        inetPrefix: fc.integer({ min: 12, max: 24 }),
        inet6Prefix: fc.integer({ min: 3, max: 26 }),
      }),
      driver: fc.constantFrom<Config['driver']>('pf', 'nft', 'memory'),
      pf: record({
        anchor: arbName(),
        dialect: fc.constantFrom<'freebsd' | 'openbsd'>('freebsd', 'openbsd'),
        pfctl: arbPath,
        commandPrefix: fc.array(fc.stringMatching(/^[A-Za-z0-9_./=-]{1,10}$/), { maxLength: 3 }),
        timeout: fc.integer({ min: 100, max: HOUR }),
        concurrency: fc.integer({ min: 1, max: 64 }),
        tableEntriesLimit: fc.integer({ min: 2 ** 25, max: 2 ** 31 - 1 }),
        tablesLimit: fc.integer({ min: 8192, max: 2 ** 31 - 1 }),
      }),
      nft: record({
        nft: arbPath,
        conntrack: arbPath,
        // An nft identifier: a letter first, and no nft keyword (names.ts).
        table: fc.stringMatching(/^[A-Za-z][A-Za-z0-9_.-]{0,30}$/).filter((table) => !NFT_KEYWORDS.has(table)),
        commandPrefix: fc.array(fc.stringMatching(/^[A-Za-z0-9_./=-]{1,10}$/), { maxLength: 3 }),
        timeout: fc.integer({ min: 100, max: HOUR }),
      }),
      policy: record({ allDown: fc.constantFrom<'keep' | 'fallthrough'>('keep', 'fallthrough'), killStatesOnDown: fc.boolean() }),
      control: record(
        { socket: arbPath, mode: fc.integer({ min: 0, max: 0o777 }), group: fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$/) },
        { requiredKeys: ['socket', 'mode'] },
      ),
      metrics: record({ listen: record({ host: arbAnyAddress.map(formatAddress), port: arbPort }) }, { requiredKeys: [] }),
      daemon: record(
        {
          stateFile: arbPath,
          driftInterval: fc.integer({ min: 1000, max: 24 * HOUR }),
          coalesce: fc.integer({ min: 0, max: 10_000 }),
          startupGrace: fc.integer({ min: 0, max: HOUR }),
        },
        { requiredKeys: ['stateFile', 'driftInterval', 'coalesce'] },
      ),
      services: fc.constant(list),
      hosts,
    });
  });
}
