/** `hosts`: the haproxy hosts, their address per service, checks and transition commands. */
import { isSeq } from 'yaml';
import { sameAddress, type IpAddress } from '../net/address.ts';
import { DEFAULTS } from './defaults.ts';
import type { CommandSpec, Host, Service, ServiceTarget } from './model.ts';
import { kindOf, type Field, type Reader } from './reader.ts';
import { readChecks } from './validate-checks.ts';
import type { TimingInput } from './validate-settings.ts';
import { checkKeyName, parseEndpoint, readArgv, readEnv, readPath } from './values.ts';

type Family = Service['family'];

export const HOST_KEYS = ['weight', 'addresses', 'checks', 'on_up', 'on_down', 'drain'] as const;
/** A quarter of the most buckets: beyond that hosts would own less than 4 buckets each. */
export const MAX_HOSTS = 1024;
/** Checks of all hosts together: the health engine runs each on its own timer. */
export const MAX_CHECKS = 4096;
const COMMAND_KEYS = ['command', 'timeout', 'kill_after', 'env', 'cwd'] as const;

export function readHosts(r: Reader, field: Field | undefined, root: Field['key'], services: ReadonlyMap<string, Family> | undefined, defaults: TimingInput): Host[] {
  if (!field) {
    r.report('missing-key', 'the file needs `hosts` (the haproxy hosts traffic is steered to)', root);
    return [];
  }
  const entries = r.entries(field.value, field.path, field.key);
  if (!entries) return [];
  if (entries.length === 0) r.report('missing-key', '`hosts` needs at least one host', field.key);
  if (entries.length > MAX_HOSTS) {
    r.report('too-many-hosts', `expected at most ${MAX_HOSTS} hosts, got ${entries.length}; this is host ${MAX_HOSTS + 1}`, entries[MAX_HOSTS]!.key);
    return [];
  }
  const hosts: Host[] = [];
  let checks = 0;
  for (const entry of entries) {
    const nameOk = checkKeyName(r, entry, 'host');
    const host = readHost(r, entry, services, defaults);
    if (nameOk && host) hosts.push(host);
    checks += host?.checks.length ?? 0;
    if (checks > MAX_CHECKS) {
      r.report('too-many-checks', `expected at most ${MAX_CHECKS} checks in all hosts together; host \`${entry.name}\` brings them to ${checks}`, entry.key);
      return [];
    }
  }
  return hosts;
}

function readHost(r: Reader, entry: Field, services: ReadonlyMap<string, Family> | undefined, defaults: TimingInput): Host | undefined {
  const section = r.section(entry.value, entry.path, HOST_KEYS, entry.key);
  if (!section) return undefined;
  const weight = section.take('weight', (f) => r.integer(f.value, f.path, 1, 1000, f.key), DEFAULTS.host.weight);
  const targets = section.need('addresses', (f) => readTargets(r, f, services), 'its address for each service, such as {std: 10.0.1.11}');
  const checksField = section.get('checks');
  // With faulty targets the default check address is unknown, and already reported.
  const address = targets ? (commonAddress(targets) ?? null) : undefined;
  const checks = checksField ? readChecks(r, checksField, { host: entry.name, address, defaults }) : [];
  const host: Host = { name: entry.name, weight, targets: targets ?? {}, checks: checks ?? [] };
  const onUp = section.get('on_up');
  const onDown = section.get('on_down');
  const up = onUp && readCommand(r, onUp);
  const down = onDown && readCommand(r, onDown);
  if (up) host.onUp = up;
  if (down) host.onDown = down;
  if (section.take('drain', (f) => r.boolean(f), false)) host.drain = true;
  return targets && checks ? host : undefined;
}

/** The one address all of a host's targets share, which checks use when they name none. */
function commonAddress(targets: Record<string, ServiceTarget>): IpAddress | undefined {
  const all = Object.values(targets);
  const first = all[0];
  return first && all.every((t) => sameAddress(t.address, first.address)) ? first.address : undefined;
}

function readTargets(r: Reader, field: Field, services: ReadonlyMap<string, Family> | undefined): Record<string, ServiceTarget> | undefined {
  const entries = r.entries(field.value, field.path, field.key);
  if (!entries) return undefined;
  // Without usable services there is nothing to hold the targets against; that is reported.
  if (!services) return undefined;
  const targets: [string, ServiceTarget][] = [];
  let ok = true;
  for (const entry of entries) {
    const family = services.get(entry.name);
    if (family === undefined) {
      r.report('unknown-service', `\`${entry.path}\` names no service; the services are ${[...services.keys()].join(', ') || 'none'}`, entry.key);
      ok = false;
      continue;
    }
    const text = r.string(entry.value, entry.path, 'an address such as 10.0.1.11 or 10.0.1.11:8080', entry.key);
    if (text === undefined) {
      ok = false;
      continue;
    }
    const endpoint = parseEndpoint(text, false);
    if (typeof endpoint === 'string') {
      r.report('bad-address', `\`${entry.path}\`: ${endpoint}, got ${kindOf(entry.value)}`, entry.value);
      ok = false;
      continue;
    }
    if ((endpoint.address.family === 4) !== (family === 'inet')) {
      r.report('family-mismatch', `expected \`${entry.path}\` to be an ${family} address like service \`${entry.name}\`, got ${kindOf(entry.value)}`, entry.value);
      ok = false;
      continue;
    }
    targets.push([entry.name, endpoint.port === undefined ? { address: endpoint.address } : { address: endpoint.address, port: endpoint.port }]);
  }
  const missing = [...services.keys()].filter((name) => !entries.some((e) => e.name === name));
  if (missing.length > 0) {
    r.report('missing-target', `\`${field.path}\` gives no address for service ${missing.map((m) => `\`${m}\``).join(', ')}; every host needs one per service`, field.key);
    ok = false;
  }
  return ok ? Object.fromEntries(targets) : undefined;
}

/** `on_up: [prog, arg]` or `on_up: {command: [prog, arg], timeout: 5s, env: {...}}`. */
function readCommand(r: Reader, field: Field): CommandSpec | undefined {
  const d = DEFAULTS.command;
  if (isSeq(field.value)) {
    const argv = readArgv(r, field, 'the program to run');
    return argv && { argv, env: {}, timeout: d.timeout, killAfter: d.killAfter };
  }
  const section = r.section(field.value, field.path, COMMAND_KEYS, field.key);
  if (!section) return undefined;
  const argv = section.need('command', (f) => readArgv(r, f, 'the program to run'), 'the program and its arguments as a list');
  const spec: CommandSpec = {
    argv: argv ?? [],
    env: section.take('env', (f) => readEnv(r, f), {}),
    timeout: section.take('timeout', (f) => r.duration(f, 100, 3_600_000), d.timeout),
    killAfter: section.take('kill_after', (f) => r.duration(f, 0, 60_000), d.killAfter),
  };
  const cwd = section.get('cwd');
  const dir = cwd && readPath(r, cwd);
  if (dir !== undefined) spec.cwd = dir;
  return argv && spec;
}
