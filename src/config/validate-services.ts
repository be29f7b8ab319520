/** `services`: where clients arrive (interface, family, protocol, external addresses, ports). */
import { isScalar, isSeq } from 'yaml';
import { compareCidr, parseCidr, type Cidr } from '../net/address.ts';
import { DEFAULTS } from './defaults.ts';
import type { ExternalAddresses, Service } from './model.ts';
import { nameProblem } from './names.ts';
import { kindOf, type Field, type Reader } from './reader.ts';
import { checkKeyName, readName, readPort } from './values.ts';

export const SERVICE_KEYS = ['interface', 'family', 'protocol', 'external', 'ports'] as const;

/**
 * The valid services in file order, and the family of every service named, valid or not, so
 * hosts are checked against all of them; no families when `services` itself is unusable.
 */
export function readServices(r: Reader, field: Field | undefined, root: Field['key']): { services: Service[]; families?: Map<string, Family> } {
  if (!field) {
    r.report('missing-key', 'the file needs `services` (the frontends clients connect to)', root);
    return { services: [] };
  }
  const entries = r.entries(field.value, field.path, field.key);
  if (!entries) return { services: [] };
  const out = { services: [] as Service[], families: new Map<string, Family>() };
  if (entries.length === 0) r.report('missing-key', '`services` needs at least one service', field.key);
  for (const entry of entries) {
    const nameOk = checkKeyName(r, entry, 'service');
    const service = readService(r, entry, (family) => out.families.set(entry.name, family));
    if (nameOk && service) out.services.push(service);
  }
  return out;
}

type Family = Service['family'];

function readService(r: Reader, entry: Field, seen: (family: Family) => void): Service | undefined {
  const section = r.section(entry.value, entry.path, SERVICE_KEYS, entry.key);
  if (!section) return undefined;
  const iface = section.need('interface', (f) => readName(r, f.value, f.path, 'interface'), 'the interface clients arrive on, such as em0');
  const family = section.take('family', (f) => r.choice(f, ['inet', 'inet6'] as const), DEFAULTS.service.family);
  seen(family);
  const protocol = section.take('protocol', (f) => r.choice(f, ['tcp', 'udp'] as const), DEFAULTS.service.protocol);
  const external = section.need('external', (f) => readExternal(r, f, family), 'a pf table such as <web-ext> or a list of addresses');
  const ports = section.need('ports', (f) => readPorts(r, f), 'the destination ports to steer, such as [80, 443]');
  if (iface === undefined || external === undefined || ports === undefined) return undefined;
  return { name: entry.name, interface: iface, family, protocol, external, ports };
}

const TABLE = /^<(.*)>$/s;

function readExternal(r: Reader, field: Field, family: 'inet' | 'inet6'): ExternalAddresses | undefined {
  const node = field.value;
  if (node && isScalar(node) && typeof node.value === 'string') {
    const table = TABLE.exec(node.value);
    if (table) {
      const problem = nameProblem('table', table[1]!);
      if (problem !== undefined) {
        r.report('bad-name', problem, node);
        return undefined;
      }
      return { kind: 'table', table: table[1]! };
    }
  }
  const items = isSeq(node) || (node && isScalar(node) && node.value !== null) ? r.list(field, 'addresses', true) : undefined;
  if (!items) {
    if (!isSeq(node)) r.report('wrong-type', `expected \`${field.path}\` to be a pf table such as <web-ext> or a list of addresses, got ${kindOf(node)}`, node, field.key);
    return undefined;
  }
  if (items.length === 0) {
    r.report('missing-key', `\`${field.path}\` needs at least one address`, node);
    return undefined;
  }
  const addresses: Cidr[] = [];
  let ok = true;
  for (const item of items) {
    const text = r.string(item.node, item.path, 'an address or CIDR such as 203.0.113.10 or 2001:db8::/64');
    const cidr = text === undefined ? undefined : parseCidr(text);
    if (text !== undefined && !cidr) {
      r.report('bad-address', `expected \`${item.path}\` to be an address or CIDR with zero host bits, such as 203.0.113.10 or 2001:db8::/64, or a table in angle brackets, got ${kindOf(item.node)}`, item.node);
    } else if (cidr && (cidr.address.family === 4) !== (family === 'inet')) {
      r.report('family-mismatch', `expected \`${item.path}\` to be an ${family} address like its service, got ${kindOf(item.node)}`, item.node);
    } else if (cidr && addresses.some((seen) => compareCidr(seen, cidr) === 0)) {
      r.report('duplicate-address', `\`${item.path}\` repeats ${kindOf(item.node)}`, item.node);
    } else if (cidr) {
      addresses.push(cidr);
      continue;
    }
    ok = false;
  }
  return ok ? { kind: 'addresses', addresses } : undefined;
}

function readPorts(r: Reader, field: Field): number[] | undefined {
  const items = r.list(field, 'ports', true);
  if (!items) return undefined;
  if (items.length === 0) {
    r.report('missing-key', `\`${field.path}\` needs at least one port`, field.value);
    return undefined;
  }
  const ports: number[] = [];
  let ok = true;
  for (const item of items) {
    const port = readPort(r, item.node, item.path);
    if (port !== undefined && ports.includes(port)) {
      r.report('duplicate-port', `\`${item.path}\` repeats port ${port}`, item.node);
      ok = false;
    } else if (port === undefined) ok = false;
    else ports.push(port);
  }
  return ok ? ports : undefined;
}
