/** Which `conntrack -L` lines the nft driver counts as steered flows (pure; no namespace needed). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isTranslated } from '../../src/nft/driver.ts';

test('a DNATed flow is translated; the firewall’s own connection to the host is not', () => {
  const steered4 = 'tcp      6 431999 ESTABLISHED src=10.200.0.1 dst=198.51.100.10 sport=46463 dport=80 src=10.0.1.2 dst=10.200.0.1 sport=8080 dport=46463 [ASSURED] mark=32 use=1';
  const steered6 = 'tcp      6 431999 ESTABLISHED src=2001:db8:100:2::1 dst=2001:db8:ff::10 sport=34613 dport=80 src=2001:db8:1::2 dst=2001:db8:100:2::1 sport=80 dport=34613 [ASSURED] mark=41 use=1';
  const check = 'tcp      6 431999 ESTABLISHED src=10.0.1.1 dst=10.0.1.2 sport=42028 dport=8081 src=10.0.1.2 dst=10.0.1.1 sport=8081 dport=42028 [ASSURED] mark=0 use=1';
  const udp = 'udp      17 29 src=10.200.0.9 dst=198.51.100.10 sport=5000 dport=53 [UNREPLIED] src=10.0.2.2 dst=10.200.0.9 sport=53 dport=5000 mark=3 use=1';
  assert.equal(isTranslated(steered4), true);
  assert.equal(isTranslated(steered6), true);
  assert.equal(isTranslated(udp), true);
  assert.equal(isTranslated(check), false);
  assert.equal(isTranslated('garbage'), false);
});
