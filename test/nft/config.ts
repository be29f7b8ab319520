/** A valid nft config for driver tests: two services (IPv4 with ports, IPv6 without), three hosts. */
import type { Config } from '../../src/config/model.ts';
import { parseConfig } from '../../src/config/load.ts';

export function nftTestConfig(opts: { table: string; prefix: string[]; buckets?: number; seed?: number; webExternal?: string }): Config {
  const text = `
buckets:
  count: ${opts.buckets ?? 16}
  seed: ${opts.seed ?? 4660}
driver: nft
nft:
  table: ${opts.table}
  command_prefix: [${opts.prefix.join(', ')}]
control:
  socket: /tmp/pfsteer-nft-test.sock
daemon:
  state_file: /tmp/pfsteer-nft-test.json
services:
  web:
    interface: r0
    external: ${opts.webExternal ?? '[198.51.100.10]'}
    ports: [80]
  web6:
    interface: r0
    family: inet6
    external: [2001:db8:ff::10]
    ports: [80, 443]
hosts:
${['lb1', 'lb2', 'lb3']
  .map((h, i) => `  ${h}:
    addresses:
      web: 10.0.${i + 1}.2:8080
      web6: 2001:db8:${i + 1}::2
    checks:
      - type: tcp
        address: 10.0.${i + 1}.2
        port: 8080`)
  .join('\n')}
`;
  return parseConfig(text, 'nft-test.yaml');
}
