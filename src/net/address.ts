/**
 * Strict IP address and CIDR parsing. Everything that ends up in a pf rule passes through here,
 * so only the plain textual forms are accepted: no zone ids, no embedded IPv4 in IPv6 beyond the
 * standard dotted tail, no leading zeros in IPv4 octets (pf and inet_pton disagree about them).
 */

export type Family = 4 | 6;

export interface IpAddress {
  readonly family: Family;
  /** 4 or 16 network-order bytes. */
  readonly bytes: Uint8Array;
}

export interface Cidr {
  readonly address: IpAddress;
  readonly prefix: number;
}

const OCTET = /^(?:0|[1-9][0-9]{0,2})$/;

function parseIpv4(text: string): Uint8Array | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const bytes = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const part = parts[i]!;
    if (!OCTET.test(part)) return undefined;
    const value = Number(part);
    if (value > 255) return undefined;
    bytes[i] = value;
  }
  return bytes;
}

const HEXTET = /^[0-9a-fA-F]{1,4}$/;

function parseIpv6(text: string): Uint8Array | undefined {
  if (text.length > 45 || text.includes(':::')) return undefined;
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const words: number[] = [];
  const groups = (half: string): string[] => (half === '' ? [] : half.split(':'));
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  const all = [...head, ...tail];
  let tailV4: Uint8Array | undefined;
  const last = all[all.length - 1];
  if (last !== undefined && last.includes('.')) {
    tailV4 = parseIpv4(last);
    if (tailV4 === undefined) return undefined;
    if (tail.length > 0) tail.pop();
    else head.pop();
  }
  const toWords = (list: string[]): number[] | undefined => {
    const out: number[] = [];
    for (const group of list) {
      if (!HEXTET.test(group)) return undefined;
      out.push(parseInt(group, 16));
    }
    return out;
  };
  const headWords = toWords(head);
  const tailWords = toWords(tail);
  if (headWords === undefined || tailWords === undefined) return undefined;
  const have = headWords.length + tailWords.length + (tailV4 ? 2 : 0);
  if (halves.length === 1 ? have !== 8 : have > 7) return undefined;
  words.push(...headWords, ...new Array<number>(8 - have).fill(0), ...tailWords);
  const bytes = new Uint8Array(16);
  for (let i = 0; i < words.length; i++) {
    bytes[i * 2] = words[i]! >> 8;
    bytes[i * 2 + 1] = words[i]! & 0xff;
  }
  if (tailV4) bytes.set(tailV4, 12);
  return bytes;
}

export function parseAddress(text: string): IpAddress | undefined {
  if (text.includes(':')) {
    const bytes = parseIpv6(text);
    return bytes && { family: 6, bytes };
  }
  const bytes = parseIpv4(text);
  return bytes && { family: 4, bytes };
}

export function maxPrefix(family: Family): number {
  return family === 4 ? 32 : 128;
}

/** `a.b.c.d/p` or `x::/p`; a bare address is a host route. Host bits must be zero. */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  const address = parseAddress(slash < 0 ? text : text.slice(0, slash));
  if (!address) return undefined;
  let prefix = maxPrefix(address.family);
  if (slash >= 0) {
    const digits = text.slice(slash + 1);
    if (!/^(?:0|[1-9][0-9]{0,2})$/.test(digits)) return undefined;
    prefix = Number(digits);
    if (prefix > maxPrefix(address.family)) return undefined;
  }
  const cidr = { address, prefix };
  return sameAddress(networkOf(cidr), address) ? cidr : undefined;
}

/** The address with every bit past `prefix` cleared. */
export function networkOf(cidr: Cidr): IpAddress {
  const bytes = cidr.address.bytes.slice();
  for (let bit = cidr.prefix; bit < bytes.length * 8; bit++) {
    bytes[bit >> 3]! &= ~(0x80 >> (bit & 7));
  }
  return { family: cidr.address.family, bytes };
}

export function sameAddress(a: IpAddress, b: IpAddress): boolean {
  return a.family === b.family && compareAddress(a, b) === 0;
}

/** Total order: IPv4 before IPv6, then by bytes. */
export function compareAddress(a: IpAddress, b: IpAddress): number {
  if (a.family !== b.family) return a.family - b.family;
  for (let i = 0; i < a.bytes.length; i++) {
    const d = a.bytes[i]! - b.bytes[i]!;
    if (d !== 0) return d;
  }
  return 0;
}

export function compareCidr(a: Cidr, b: Cidr): number {
  return compareAddress(a.address, b.address) || a.prefix - b.prefix;
}

export function containsAddress(cidr: Cidr, address: IpAddress): boolean {
  return address.family === cidr.address.family && sameAddress(networkOf({ address, prefix: cidr.prefix }), cidr.address);
}

/** Canonical text: dotted quad, or RFC 5952 IPv6 (lower case, longest zero run compressed), as pfctl prints. */
export function formatAddress(address: IpAddress): string {
  const b = address.bytes;
  if (address.family === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((b[i]! << 8) | b[i + 1]!);
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (list: number[]) => list.map((w) => w.toString(16)).join(':');
  if (bestStart < 0) return hex(words);
  return `${hex(words.slice(0, bestStart))}::${hex(words.slice(bestStart + bestLength))}`;
}

export function formatCidr(cidr: Cidr): string {
  return `${formatAddress(cidr.address)}/${cidr.prefix}`;
}
