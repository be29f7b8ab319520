/**
 * Model -> YAML text that loads back to the same model: every setting written out, check
 * timing only where it differs from `defaults`. Used by `check --print` and the round-trip test.
 */
import { stringify } from 'yaml';
import { formatAddress, formatCidr, maxPrefix, type Cidr } from '../net/address.ts';
import { formatDuration } from './duration.ts';
import type { Check, CheckTiming, CommandSpec, Config, Host, Service, ServiceTarget } from './model.ts';

type Yaml = Record<string, unknown>;

export function serializeConfig(config: Config): string {
  const doc: Yaml = {
    defaults: timing(config.defaults),
    buckets: {
      count: config.buckets.count,
      seed: config.buckets.seed,
      inet_prefix: config.buckets.inetPrefix,
      inet6_prefix: config.buckets.inet6Prefix,
    },
    driver: config.driver,
    pf: {
      anchor: config.pf.anchor,
      dialect: config.pf.dialect,
      pfctl: config.pf.pfctl,
      command_prefix: config.pf.commandPrefix,
      timeout: formatDuration(config.pf.timeout),
      concurrency: config.pf.concurrency,
      table_entries_limit: config.pf.tableEntriesLimit,
      tables_limit: config.pf.tablesLimit,
    },
    nft: {
      nft: config.nft.nft,
      conntrack: config.nft.conntrack,
      table: config.nft.table,
      command_prefix: config.nft.commandPrefix,
      timeout: formatDuration(config.nft.timeout),
    },
    policy: { all_down: config.policy.allDown, kill_states_on_down: config.policy.killStatesOnDown },
    control: {
      socket: config.control.socket,
      mode: `0${config.control.mode.toString(8).padStart(3, '0')}`,
      ...(config.control.group === undefined ? {} : { group: config.control.group }),
    },
    metrics: config.metrics.listen ? { listen: hostPort(config.metrics.listen.host, config.metrics.listen.port) } : {},
    daemon: {
      state_file: config.daemon.stateFile,
      drift_interval: formatDuration(config.daemon.driftInterval),
      coalesce: formatDuration(config.daemon.coalesce),
      ...(config.daemon.startupGrace === undefined ? {} : { startup_grace: formatDuration(config.daemon.startupGrace) }),
    },
    // Maps keep file order; an object would move names such as `0` to the front.
    services: new Map(config.services.map((s) => [s.name, service(s)])),
    hosts: new Map(config.hosts.map((h) => [h.name, host(h, config.defaults)])),
  };
  // Block scalars drop a line of only spaces (` \n` reads back as `\n`); quoted strings keep it.
  return stringify(doc, { lineWidth: 0, blockQuote: false });
}

function timing(t: CheckTiming): Yaml {
  return {
    interval: formatDuration(t.interval),
    timeout: formatDuration(t.timeout),
    rise: t.rise,
    fall: t.fall,
    fastinter: formatDuration(t.fastinter),
    downinter: formatDuration(t.downinter),
    jitter: formatDuration(t.jitter),
  };
}

function cidr(c: Cidr): string {
  return c.prefix === maxPrefix(c.address.family) ? formatAddress(c.address) : formatCidr(c);
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function service(s: Service): Yaml {
  return {
    interface: s.interface,
    family: s.family,
    protocol: s.protocol,
    external: s.external.kind === 'table' ? `<${s.external.table}>` : s.external.addresses.map(cidr),
    ports: s.ports,
  };
}

function target(t: ServiceTarget): string {
  const address = formatAddress(t.address);
  return t.port === undefined ? address : hostPort(address, t.port);
}

function host(h: Host, defaults: CheckTiming): Yaml {
  return {
    weight: h.weight,
    addresses: Object.fromEntries(Object.entries(h.targets).map(([name, t]) => [name, target(t)])),
    checks: h.checks.map((c) => check(c, defaults)),
    ...(h.onUp ? { on_up: command(h.onUp) } : {}),
    ...(h.onDown ? { on_down: command(h.onDown) } : {}),
    ...(h.drain ? { drain: true } : {}),
  };
}

function command(spec: CommandSpec): Yaml {
  return {
    command: spec.argv,
    timeout: formatDuration(spec.timeout),
    kill_after: formatDuration(spec.killAfter),
    ...(Object.keys(spec.env).length > 0 ? { env: spec.env } : {}),
    ...(spec.cwd === undefined ? {} : { cwd: spec.cwd }),
  };
}

function check(c: Check, defaults: CheckTiming): Yaml {
  const own = timing(c);
  const inherited = timing(defaults);
  const overrides = Object.fromEntries(Object.entries(own).filter(([key, value]) => inherited[key] !== value));
  const head = { type: c.type, name: c.name, ...overrides };
  switch (c.type) {
    case 'exec':
      return {
        ...head,
        command: c.command,
        ...(Object.keys(c.env).length > 0 ? { env: c.env } : {}),
        ...(c.cwd === undefined ? {} : { cwd: c.cwd }),
        kill_after: formatDuration(c.killAfter),
        max_output: c.maxOutput,
      };
    case 'tcp':
      return {
        ...head,
        address: formatAddress(c.address),
        port: c.port,
        ...(c.send === undefined ? {} : { send: c.send }),
        ...(c.expect === undefined ? {} : { expect: c.expect }),
      };
    default:
      return {
        ...head,
        address: formatAddress(c.address),
        port: c.port,
        path: c.path,
        ...(c.host === undefined ? {} : { host: c.host }),
        method: c.method,
        expect_status: c.expectStatus,
        ...(c.expectBody === undefined ? {} : { expect_body: c.expectBody }),
        fresh: c.fresh,
        ...(c.type === 'https'
          ? {
              tls_verify: c.tlsVerify,
              ...(c.ca === undefined ? {} : { ca: c.ca }),
              ...(c.clientCert === undefined ? {} : { client_cert: c.clientCert }),
            }
          : {}),
      };
  }
}
