/**
 * Readers for the value kinds the config shares across sections: names, paths, addresses with
 * ports, argument vectors, environments. Each reports at the offending node and returns
 * undefined, like the Reader's own.
 */
import { isScalar } from 'yaml';
import { parseAddress, type IpAddress } from '../net/address.ts';
import { nameProblem, type NameKind } from './names.ts';
import { kindOf, type Field, type Reader, type ValueNode } from './reader.ts';

const MAX_PATH = 1024;
const MAX_ARG = 4096;

export function readName(r: Reader, node: ValueNode, path: string, kind: NameKind): string | undefined {
  const text = r.string(node, path, `a ${kind} name`);
  if (text === undefined) return undefined;
  const problem = nameProblem(kind, text);
  if (problem !== undefined) {
    r.report('bad-name', problem, node);
    return undefined;
  }
  return text;
}

/** A name given as a mapping key (hosts, services): the key node carries the position. */
export function checkKeyName(r: Reader, field: Field, kind: NameKind): boolean {
  const problem = nameProblem(kind, field.name);
  if (problem !== undefined) r.report('bad-name', problem, field.key);
  return problem === undefined;
}

/** An absolute file path without control characters. */
export function readPath(r: Reader, field: Field): string | undefined {
  const text = r.string(field.value, field.path, 'an absolute path', field.key);
  if (text === undefined) return undefined;
  if (!text.startsWith('/') || text.length > MAX_PATH || /[\x00-\x1f\x7f]/.test(text)) {
    r.report('bad-path', `expected \`${field.path}\` to be an absolute path of at most ${MAX_PATH} printable characters, got ${kindOf(field.value)}`, field.value);
    return undefined;
  }
  return text;
}

export function readAddress(r: Reader, node: ValueNode, path: string): IpAddress | undefined {
  const text = r.string(node, path, 'an IPv4 or IPv6 address');
  if (text === undefined) return undefined;
  const address = parseAddress(text);
  if (!address) r.report('bad-address', `expected \`${path}\` to be an IPv4 or IPv6 address such as 10.0.1.11 or 2001:db8::11, got ${kindOf(node)}`, node);
  return address;
}

export function readPort(r: Reader, node: ValueNode, path: string, fallback?: ValueNode): number | undefined {
  if (node && isScalar(node) && typeof node.value === 'number' && Number.isInteger(node.value) && (node.value < 1 || node.value > 65535)) {
    r.report('bad-port', `expected \`${path}\` to be a port from 1 to 65535, got ${node.value}`, node);
    return undefined;
  }
  return r.integer(node, path, 1, 65535, fallback ?? undefined);
}

export interface Endpoint {
  address: IpAddress;
  port?: number;
}

const PORT = /^[1-9][0-9]{0,4}$/;

/**
 * `10.0.1.11`, `10.0.1.11:8080`, `2001:db8::11` or `[2001:db8::11]:8080`. Returns a reason on
 * failure so callers can report with their own code and position.
 */
export function parseEndpoint(text: string, requirePort: boolean): Endpoint | string {
  let host = text;
  let portText: string | undefined;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) return 'an IPv6 address in brackets is missing its `]`';
    host = text.slice(1, close);
    const rest = text.slice(close + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) return 'expected `:PORT` after `]`';
      portText = rest.slice(1);
    }
    if (!host.includes(':')) return 'brackets are only for IPv6 addresses';
  } else if (text.split(':').length === 2) {
    [host, portText] = text.split(':') as [string, string];
  }
  const address = parseAddress(host);
  if (!address) return 'expected an IPv4 or IPv6 address, optionally with a port: 10.0.1.11, 10.0.1.11:8080, [2001:db8::11]:8080';
  if (portText === undefined) return requirePort ? 'expected a port after the address: 127.0.0.1:9742 or [::1]:9742' : { address };
  const port = PORT.test(portText) ? Number(portText) : 0;
  if (port < 1 || port > 65535) return `expected a port from 1 to 65535, got ${JSON.stringify(portText)}`;
  return { address, port };
}

/** A command as an argument vector: never a shell line, so no word of it is ever re-parsed. */
export function readArgv(r: Reader, field: Field, what: string): string[] | undefined {
  const items = r.list(field, 'arguments');
  if (!items) return undefined;
  if (items.length === 0) {
    r.report('bad-command', `expected \`${field.path}\` to name ${what}: a list whose first item is the program, got an empty list`, field.value);
    return undefined;
  }
  const argv: string[] = [];
  let ok = true;
  for (const item of items) {
    const arg = readArgument(r, item.node, item.path);
    if (arg === undefined) ok = false;
    else argv.push(arg);
  }
  if (ok && argv[0] === '') {
    r.report('bad-command', `expected the program in \`${field.path}[0]\` to be a name or path, got an empty string`, items[0]!.node);
    return undefined;
  }
  return ok ? argv : undefined;
}

/** One argument: plain numbers are taken as their text since argv is all strings anyway. */
function readArgument(r: Reader, node: ValueNode, path: string): string | undefined {
  const text = node && isScalar(node) && typeof node.value === 'number' ? (node.source ?? String(node.value)) : r.string(node, path, 'a string argument');
  if (text === undefined) return undefined;
  if (text.length > MAX_ARG || text.includes('\0')) {
    r.report('bad-command', `expected \`${path}\` to be an argument of at most ${MAX_ARG} characters without NUL`, node);
    return undefined;
  }
  return text;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

export function readEnv(r: Reader, field: Field): Record<string, string> | undefined {
  const entries = r.entries(field.value, field.path);
  if (!entries) return undefined;
  const env: [string, string][] = [];
  let ok = true;
  for (const entry of entries) {
    if (!ENV_NAME.test(entry.name)) {
      r.report('bad-name', `expected an environment variable name of letters, digits and '_' not starting with a digit, got ${JSON.stringify(entry.name)}`, entry.key);
      ok = false;
      continue;
    }
    const value = r.string(entry.value, entry.path, 'a string (quote numbers)', entry.key);
    if (value === undefined) ok = false;
    else if (value.includes('\0')) {
      r.report('bad-value', `expected \`${entry.path}\` without NUL characters`, entry.value);
      ok = false;
    } else env.push([entry.name, value]);
  }
  // fromEntries makes own properties even of names like __proto__.
  return ok ? Object.fromEntries(env) : undefined;
}
