/**
 * Reads `nft -j list table inet <table>` into what pfsteer rendered: maps and their elements, and
 * the steering rules' hash parameters. Pure. Only JSON is read: nft 1.0.6's text listing of some
 * hash maps crashes, and JSON needs no grammar of ours.
 */
import { PfsteerError } from '../errors.ts';
import type { IpAddress } from '../net/address.ts';
import { parseAddress } from '../net/address.ts';

export interface MapTarget {
  address: IpAddress;
  port?: number;
}

export interface ListedMap {
  name: string;
  /** `mark : ipv4_addr . inet_service` as the renderer writes it. */
  type: string;
  elements: Map<number, MapTarget>;
}

/** A rule of the steering chain, reduced to what pfsteer checks. */
export interface ListedRule {
  /** Undefined when the rule does not have pfsteer's shape. */
  map?: string;
  family?: 4 | 6;
  mod?: number;
  seed?: number;
}

export interface NftListing {
  tableFound: boolean;
  chainFound: boolean;
  maps: Map<string, ListedMap>;
  rules: ListedRule[];
}

export class NftParseError extends PfsteerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('nft-parse', message, options);
  }
}

export function emptyListing(): NftListing {
  return { tableFound: false, chainFound: false, maps: new Map(), rules: [] };
}

type Json = unknown;

function isObject(x: Json): x is Record<string, Json> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function parseTarget(value: Json, where: string): MapTarget {
  if (typeof value === 'string') {
    const address = parseAddress(value);
    if (address) return { address };
  }
  if (isObject(value) && Array.isArray(value.concat) && value.concat.length === 2) {
    const [a, p] = value.concat;
    const address = typeof a === 'string' ? parseAddress(a) : undefined;
    if (address && typeof p === 'number' && Number.isInteger(p) && p >= 0 && p <= 65535) return { address, port: p };
  }
  throw new NftParseError(`${where}: expected an address or {"concat": [address, port]}, got ${JSON.stringify(value)}`);
}

function parseMap(m: Record<string, Json>): ListedMap {
  const name = String(m.name);
  const key = m.type;
  const value = m.map;
  const type = `${typeof key === 'string' ? key : JSON.stringify(key)} : ${typeof value === 'string' ? value : JSON.stringify(value)}`;
  const elements = new Map<number, MapTarget>();
  const elems = m.elem ?? [];
  if (!Array.isArray(elems)) throw new NftParseError(`map ${name}: expected "elem" to be a list, got ${JSON.stringify(elems)}`);
  for (const e of elems) {
    if (!Array.isArray(e) || e.length !== 2) throw new NftParseError(`map ${name}: expected [key, value] elements, got ${JSON.stringify(e)}`);
    const [k, v] = e;
    const bucket = isObject(k) && isObject(k.elem) ? k.elem.val : k;
    if (typeof bucket !== 'number' || !Number.isInteger(bucket) || bucket < 0) {
      throw new NftParseError(`map ${name}: expected a bucket number as key, got ${JSON.stringify(k)}`);
    }
    elements.set(bucket, parseTarget(v, `map ${name} element ${bucket}`));
  }
  return { name, type, elements };
}

function familyOfPayload(x: Json): 4 | 6 | undefined {
  if (!isObject(x) || !isObject(x.payload)) return undefined;
  if (x.payload.field !== 'saddr') return undefined;
  return x.payload.protocol === 'ip' ? 4 : x.payload.protocol === 'ip6' ? 6 : undefined;
}

function parseRule(expr: Json): ListedRule {
  const rule: ListedRule = {};
  if (!Array.isArray(expr)) return rule;
  for (const stmt of expr) {
    if (!isObject(stmt)) continue;
    const mangle = stmt.mangle;
    if (isObject(mangle) && isObject(mangle.key) && isObject(mangle.key.ct) && mangle.key.ct.key === 'mark' && isObject(mangle.value)) {
      const j = mangle.value.jhash;
      if (isObject(j)) {
        if (typeof j.mod === 'number') rule.mod = j.mod;
        rule.seed = typeof j.seed === 'number' ? j.seed : undefined;
        rule.family = familyOfPayload(j.expr);
      }
    }
    const dnat = stmt.dnat;
    if (isObject(dnat) && isObject(dnat.addr) && isObject(dnat.addr.map)) {
      const data = dnat.addr.map.data;
      const key = dnat.addr.map.key;
      if (typeof data === 'string' && data.startsWith('@') && isObject(key) && isObject(key.ct) && key.ct.key === 'mark') {
        rule.map = data.slice(1);
      }
    }
  }
  return rule;
}

export function parseListing(text: string, table: string, chain: string): NftListing {
  let doc: Json;
  try {
    doc = JSON.parse(text);
  } catch (cause) {
    throw new NftParseError(`expected JSON from nft -j, got ${JSON.stringify(text.slice(0, 80))}`, { cause });
  }
  if (!isObject(doc) || !Array.isArray(doc.nftables)) {
    throw new NftParseError(`expected {"nftables": [...]} from nft -j, got ${JSON.stringify(text.slice(0, 80))}`);
  }
  const listing = emptyListing();
  for (const item of doc.nftables) {
    if (!isObject(item)) continue;
    const t = item.table;
    if (isObject(t) && t.name === table && t.family === 'inet') listing.tableFound = true;
    const m = item.map;
    if (isObject(m) && m.table === table && m.family === 'inet') {
      const parsed = parseMap(m);
      listing.maps.set(parsed.name, parsed);
    }
    const c = item.chain;
    if (isObject(c) && c.table === table && c.name === chain && c.family === 'inet') listing.chainFound = true;
    const r = item.rule;
    if (isObject(r) && r.table === table && r.chain === chain && r.family === 'inet') listing.rules.push(parseRule(r.expr));
  }
  return listing;
}
