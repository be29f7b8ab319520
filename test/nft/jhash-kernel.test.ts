/**
 * nftBucketOf against the kernel: packets from many source addresses pass
 * `ct mark set jhash ip saddr mod B seed S` in a throwaway namespace, and conntrack shows which
 * bucket each got. This is what makes `inspect --client` right for the nft driver.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { nftBucketOf } from '../../src/nft/jhash.ts';
import { formatAddress, parseAddress } from '../../src/net/address.ts';
import { Lab, requireNetns } from '../e2e/netns.ts';

const SENDER = fileURLToPath(new URL('./udp-sender.ts', import.meta.url));
const lab = new Lab('jh');
let ns = '';

before(async () => {
  await requireNetns();
  ns = await lab.netns('k');
  await lab.exec(ns, ['ip', 'link', 'add', 'o0', 'type', 'veth', 'peer', 'name', 'o1']);
  await lab.exec(ns, ['ip', 'link', 'set', 'o0', 'up']);
  await lab.exec(ns, ['ip', 'link', 'set', 'o1', 'up']);
  await lab.exec(ns, ['ip', 'addr', 'add', '10.99.0.1/24', 'dev', 'o0']);
  await lab.exec(ns, ['ip', '-6', 'addr', 'add', '2001:db8:99::1/64', 'dev', 'o0', 'nodad']);
  // Any address in these ranges is local, so one process can send from thousands of sources.
  await lab.exec(ns, ['ip', 'route', 'add', 'local', '10.0.0.0/8', 'dev', 'lo']);
  await lab.exec(ns, ['ip', '-6', 'route', 'add', 'local', '2001:db8:1::/48', 'dev', 'lo']);
  await lab.exec(ns, ['sysctl', '-q', '-w', 'net.ipv4.ip_nonlocal_bind=1', 'net.ipv6.ip_nonlocal_bind=1']);
});

after(() => lab.destroy());

async function markRules(buckets: number, seed: number): Promise<void> {
  const s = `0x${seed.toString(16)}`;
  await lab.exec(ns, ['nft', '-f', '-'], [
    'add table inet jh',
    'add chain inet jh out { type filter hook output priority 0; }',
    'flush chain inet jh out',
    `add rule inet jh out ip daddr 10.99.0.2 ct mark set jhash ip saddr mod ${buckets} seed ${s}`,
    `add rule inet jh out ip6 daddr 2001:db8:99::2 ct mark set jhash ip6 saddr mod ${buckets} seed ${s}`,
    '',
  ].join('\n'));
}

/** Source address -> ct mark, for every UDP flow conntrack holds towards `port`. */
async function marks(port: number): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const f of ['ipv4', 'ipv6']) {
    const text = await lab.exec(ns, ['conntrack', '-L', '-f', f, '-p', 'udp', '--dport', String(port)]);
    for (const line of text.split('\n')) {
      const m = /src=(\S+) .*?mark=(\d+)/.exec(line);
      if (m) out.set(m[1]!, Number(m[2]));
    }
  }
  return out;
}

function sources(): string[] {
  const list: string[] = [];
  // Spread over all four bytes so the hash sees every position change.
  for (let i = 0; i < 1200; i++) list.push(`10.${(i * 37) & 255}.${(i * 11) >> 4 & 255}.${(i * 101) & 255}`);
  for (let i = 0; i < 600; i++) list.push(`2001:db8:1:${(i * 7919 & 0xffff).toString(16)}::${(i * 104729 & 0xffff).toString(16)}:${(i + 1).toString(16)}`);
  // conntrack prints the canonical form; compare in it.
  return [...new Set(list.map((a) => formatAddress(parseAddress(a)!)))];
}

async function sendAll(port: number, list: string[]): Promise<void> {
  await lab.exec(ns, ['node', SENDER, String(port), '10.99.0.2', '2001:db8:99::2'], list.join('\n'));
}

for (const [buckets, seed, port] of [[256, 0x1234, 9001], [16, 0xdeadbeef, 9002], [4096, 0, 9003]] as const) {
  test(`jhash mod ${buckets} seed ${seed}: the kernel's bucket equals nftBucketOf for every source`, async () => {
    await markRules(buckets, seed);
    const list = sources();
    await sendAll(port, list);
    const seen = await marks(port);
    assert.equal(seen.size, list.length, 'every source made one flow');
    let mismatches = 0;
    let otherSeedMatches = 0;
    for (const [src, mark] of seen) {
      if (nftBucketOf(parseAddress(src)!, buckets, seed) !== mark) mismatches++;
      if (nftBucketOf(parseAddress(src)!, buckets, (seed + 1) >>> 0) === mark) otherSeedMatches++;
    }
    assert.equal(mismatches, 0);
    // The comparison has teeth: another seed agrees only by chance (about 1 in B).
    assert.ok(otherSeedMatches < seen.size / 4, `${otherSeedMatches} of ${seen.size} agree under another seed`);
  });
}

test('a pinned seed gives every source the same bucket after the rules are reloaded', async () => {
  await markRules(256, 0xabcd);
  const list = sources().slice(0, 300);
  await sendAll(9004, list);
  const first = await marks(9004);
  await markRules(256, 0xabcd);
  await sendAll(9005, list);
  const second = await marks(9005);
  assert.equal(first.size, list.length);
  assert.deepEqual([...second].sort(), [...first].sort());
});
