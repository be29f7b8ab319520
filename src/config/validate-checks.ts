/**
 * One host's `checks`: exec, http, https, tcp. Every option is read and range-checked here, so
 * the health engine runs what it is given without second-guessing it.
 */
import { isScalar } from 'yaml';
import { parseAddress, type IpAddress } from '../net/address.ts';
import { DEFAULTS } from './defaults.ts';
import type { Check, CheckTiming, ExecCheck, HttpCheck, TcpCheck } from './model.ts';
import { kindOf, type Field, type Reader, type Section } from './reader.ts';
import { checkTimeoutBelowInterval, readTimingInput, resolveTiming, TIMING_KEYS, type TimingInput } from './validate-settings.ts';
import { readAddress, readArgv, readEnv, readName, readPath, readPort } from './values.ts';

const CHECK_TYPES = ['exec', 'http', 'https', 'tcp'] as const;
type CheckType = (typeof CHECK_TYPES)[number];

const COMMON_KEYS = ['type', 'name', ...TIMING_KEYS] as const;
const TLS_KEYS = ['tls_verify', 'ca', 'client_cert'] as const;
export const CHECK_KEYS: Readonly<Record<CheckType, readonly string[]>> = {
  exec: [...COMMON_KEYS, 'command', 'env', 'cwd', 'kill_after', 'max_output'],
  http: [...COMMON_KEYS, 'address', 'port', 'path', 'host', 'method', 'expect_status', 'expect_body', 'fresh'],
  https: [...COMMON_KEYS, 'address', 'port', 'path', 'host', 'method', 'expect_status', 'expect_body', 'fresh', ...TLS_KEYS],
  tcp: [...COMMON_KEYS, 'address', 'port', 'send', 'expect'],
};
const ANY_CHECK_KEY = [...new Set(Object.values(CHECK_KEYS).flat())];

const MAX_TEXT = 65_536;
/** One host's checks; all hosts together have their own bound (validate-hosts.ts). */
export const MAX_HOST_CHECKS = 64;

export interface CheckContext {
  host: string;
  /**
   * The address checks connect to when they name none: the host's one internal address; null
   * when its targets differ, undefined when they are faulty (already reported).
   */
  address: IpAddress | null | undefined;
  defaults: TimingInput;
}

export function readChecks(r: Reader, field: Field, ctx: CheckContext): Check[] | undefined {
  const items = r.list(field, 'checks');
  if (!items) return undefined;
  if (items.length > MAX_HOST_CHECKS) {
    r.report('too-many-checks', `expected at most ${MAX_HOST_CHECKS} checks in one host, got ${items.length}; this is check ${MAX_HOST_CHECKS + 1}`, items[MAX_HOST_CHECKS]!.node, field.key);
    return undefined;
  }
  const checks: Check[] = [];
  const names = new Map<string, Field['key']>();
  let ok = true;
  items.forEach((item, index) => {
    const check = readCheck(r, item.node, item.path, index, ctx);
    if (!check) {
      ok = false;
      return;
    }
    if (names.has(check.name)) {
      r.report('duplicate-name', `check name \`${check.name}\` is used twice in host \`${ctx.host}\`; give each check its own \`name\``, item.node);
      ok = false;
      return;
    }
    names.set(check.name, item.node!);
    checks.push(check);
  });
  return ok ? checks : undefined;
}

function readCheck(r: Reader, node: Field['value'], path: string, index: number, ctx: CheckContext): Check | undefined {
  const peek = r.mapNode(node, path);
  if (!peek) return undefined;
  const typeNode = peek.get('type', true);
  const type = typeNode && isScalar(typeNode) && (CHECK_TYPES as readonly unknown[]).includes(typeNode.value) ? (typeNode.value as CheckType) : undefined;
  // http reads the TLS keys too, to say they need https rather than that they do not exist.
  const section = r.section(node, path, type ? CHECK_KEYS[type === 'http' ? 'https' : type] : ANY_CHECK_KEY);
  if (!section) return undefined;
  const typeField = section.get('type');
  if (!typeField) {
    r.report('missing-key', `\`${path}\` needs \`type\` (one of ${CHECK_TYPES.join(', ')})`, node);
    return undefined;
  }
  if (!type) {
    r.choice(typeField, CHECK_TYPES);
    return undefined;
  }
  const name = section.take('name', (f) => readName(r, f.value, f.path, 'check'), `${type}-${index + 1}`);
  const timing = resolveTiming(readTimingInput(r, section), ctx.defaults);
  if (TIMING_KEYS.some((key) => section.has(key))) checkTimeoutBelowInterval(r, timing, section, `\`${path}\``);
  const base = { name, ...timing };
  switch (type) {
    case 'exec':
      return readExec(r, section, base);
    case 'tcp':
      return readTcp(r, section, base, ctx);
    default:
      return readHttp(r, section, base, type, ctx);
  }
}

type Base = CheckTiming & { name: string };

function readExec(r: Reader, section: Section, base: Base): ExecCheck | undefined {
  const d = DEFAULTS.exec;
  const command = section.need('command', (f) => readArgv(r, f, 'the check program'), 'the program and its arguments as a list');
  const env = section.take('env', (f) => readEnv(r, f), {});
  const killAfter = section.take('kill_after', (f) => r.duration(f, 0, 60_000), d.killAfter);
  const maxOutput = section.take('max_output', (f) => r.integer(f.value, f.path, 0, 1_048_576, f.key), d.maxOutput);
  const cwd = section.get('cwd');
  const cwdPath = cwd && readPath(r, cwd);
  if (command === undefined || (cwd && cwdPath === undefined)) return undefined;
  const check: ExecCheck = { ...base, type: 'exec', command, env, killAfter, maxOutput };
  if (cwdPath !== undefined) check.cwd = cwdPath;
  return check;
}

function readTarget(r: Reader, section: Section, ctx: CheckContext, defaultPort: number | undefined): { address: IpAddress; port: number } | undefined {
  const field = section.get('address');
  const address = field ? readAddress(r, field.value, field.path) : (ctx.address ?? undefined);
  if (!field && ctx.address === null) {
    r.report('missing-key', `\`${section.path}\` needs \`address\`: host \`${ctx.host}\` has different addresses per service`, section.node);
  }
  const port = defaultPort === undefined ? section.need('port', (f) => readPort(r, f.value, f.path, f.key), 'the port to connect to') : section.take('port', (f) => readPort(r, f.value, f.path, f.key), defaultPort);
  return address && port !== undefined ? { address, port } : undefined;
}

function readTcp(r: Reader, section: Section, base: Base, ctx: CheckContext): TcpCheck | undefined {
  const target = readTarget(r, section, ctx, undefined);
  const send = section.get('send');
  const expect = section.get('expect');
  const sendText = send && readText(r, send);
  const expectText = expect && readText(r, expect);
  if (!target || (send && sendText === undefined) || (expect && expectText === undefined)) return undefined;
  const check: TcpCheck = { ...base, type: 'tcp', ...target };
  if (sendText !== undefined) check.send = sendText;
  if (expectText !== undefined) check.expect = expectText;
  return check;
}

function readHttp(r: Reader, section: Section, base: Base, type: 'http' | 'https', ctx: CheckContext): HttpCheck | undefined {
  const d = DEFAULTS.http;
  let ok = true;
  const target = readTarget(r, section, ctx, type === 'http' ? 80 : 443);
  const check: HttpCheck = {
    ...base,
    type,
    address: target?.address ?? { family: 4, bytes: new Uint8Array(4) },
    port: target?.port ?? 0,
    path: section.take('path', (f) => readUrlPath(r, f), d.path),
    method: section.take('method', (f) => readMethod(r, f), d.method),
    expectStatus: section.take('expect_status', (f) => readStatuses(r, f), [...d.expectStatus]),
    tlsVerify: section.take('tls_verify', (f) => r.boolean(f), d.tlsVerify),
    fresh: section.take('fresh', (f) => r.boolean(f), d.fresh),
  };
  const optional = <T>(name: string, read: (f: Field) => T | undefined, set: (value: T) => void) => {
    const field = section.get(name);
    if (!field) return;
    const value = read(field);
    if (value === undefined) ok = false;
    else set(value);
  };
  optional('host', (f) => readHostHeader(r, f), (v) => (check.host = v));
  optional('expect_body', (f) => readText(r, f), (v) => (check.expectBody = v));
  optional('ca', (f) => readPath(r, f), (v) => (check.ca = v));
  optional('client_cert', (f) => readClientCert(r, f), (v) => (check.clientCert = v));
  if (type === 'http') {
    for (const name of TLS_KEYS) {
      const field = section.get(name);
      if (field) r.report('not-applicable', `\`${field.path}\` applies only to https checks; this check is http`, field.key);
    }
  }
  return ok && target ? check : undefined;
}

const URL_PATH = /^\/[\x21-\x7e]*$/;

function readUrlPath(r: Reader, field: Field): string | undefined {
  const text = r.string(field.value, field.path, 'a request path such as /haproxy_check', field.key);
  if (text === undefined) return undefined;
  if (!URL_PATH.test(text) || text.length > 2048) {
    r.report('bad-value', `expected \`${field.path}\` to be a request path starting with / of printable characters without spaces, got ${kindOf(field.value)}`, field.value);
    return undefined;
  }
  return text;
}

function readMethod(r: Reader, field: Field): string | undefined {
  const text = r.string(field.value, field.path, 'an HTTP method such as GET or HEAD', field.key);
  if (text === undefined) return undefined;
  if (!/^[A-Z]{1,16}$/.test(text)) {
    r.report('bad-value', `expected \`${field.path}\` to be an HTTP method in capitals such as GET or HEAD, got ${kindOf(field.value)}`, field.value);
    return undefined;
  }
  return text;
}

function readStatuses(r: Reader, field: Field): number[] | undefined {
  const items = r.list(field, 'HTTP status codes', true);
  if (!items) return undefined;
  if (items.length === 0) {
    r.report('missing-key', `\`${field.path}\` needs at least one status code`, field.value);
    return undefined;
  }
  const out: number[] = [];
  for (const item of items) {
    const status = r.integer(item.node, item.path, 100, 599);
    if (status === undefined) return undefined;
    if (!out.includes(status)) out.push(status);
  }
  return out;
}

const LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const DNS_NAME = new RegExp(`^${LABEL}(?:\\.${LABEL})*\\.?$`);

/** The Host header and SNI name: a DNS name or an address, nothing that could split a header. */
function readHostHeader(r: Reader, field: Field): string | undefined {
  const text = r.string(field.value, field.path, 'a host name such as www.example.com', field.key);
  if (text === undefined) return undefined;
  if (!(text.length <= 253 && (DNS_NAME.test(text) || parseAddress(text)))) {
    r.report('bad-value', `expected \`${field.path}\` to be a DNS name such as www.example.com or an address, got ${kindOf(field.value)}`, field.value);
    return undefined;
  }
  return text;
}

function readText(r: Reader, field: Field): string | undefined {
  const text = r.string(field.value, field.path, 'a string', field.key);
  if (text === undefined) return undefined;
  if (text === '' || text.length > MAX_TEXT) {
    r.report('bad-value', `expected \`${field.path}\` to be 1 to ${MAX_TEXT} characters, got ${text.length}`, field.value);
    return undefined;
  }
  return text;
}

function readClientCert(r: Reader, field: Field): { cert: string; key: string } | undefined {
  const section = r.section(field.value, field.path, ['cert', 'key'], field.key);
  if (!section) return undefined;
  const cert = section.need('cert', (f) => readPath(r, f), 'the client certificate file');
  const key = section.need('key', (f) => readPath(r, f), 'the client key file');
  return cert !== undefined && key !== undefined ? { cert, key } : undefined;
}
