import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compareAddress, formatAddress, formatCidr, parseAddress, parseCidr, type IpAddress } from '../../src/net/address.ts';

const v4 = fc.uint8Array({ minLength: 4, maxLength: 4 }).map((bytes): IpAddress => ({ family: 4, bytes }));
const v6 = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((bytes): IpAddress => ({ family: 6, bytes }));

test('format then parse returns the same address', () => {
  fc.assert(
    fc.property(fc.oneof(v4, v6), (address) => {
      const parsed = parseAddress(formatAddress(address));
      assert.ok(parsed);
      assert.equal(compareAddress(parsed, address), 0);
    }),
  );
});

test('IPv6 text follows RFC 5952', () => {
  assert.equal(formatAddress(parseAddress('2001:DB8:0:0:1:0:0:1')!), '2001:db8::1:0:0:1');
  assert.equal(formatAddress(parseAddress('::')!), '::');
  assert.equal(formatAddress(parseAddress('::ffff:10.0.0.1')!), '::ffff:a00:1');
  assert.equal(formatAddress(parseAddress('2001:db8:0:1:1:1:1:1')!), '2001:db8:0:1:1:1:1:1');
});

test('rejects everything that is not a plain address', () => {
  for (const bad of ['', '1.2.3', '1.2.3.4.5', '01.2.3.4', '256.1.1.1', '1.2.3.4 ', '10.0.0.1 port 80',
    '1::2::3', 'fe80::1%em0', '12345::', '::g', '1:2:3:4:5:6:7:8:9', '1.2.3.4/', '<tbl>', '"x"']) {
    assert.equal(parseAddress(bad), undefined, bad);
  }
});

test('CIDRs need clear host bits and a prefix in range', () => {
  assert.equal(formatCidr(parseCidr('10.1.0.0/16')!), '10.1.0.0/16');
  assert.equal(formatCidr(parseCidr('10.1.2.3')!), '10.1.2.3/32');
  assert.equal(parseCidr('10.1.2.3/16'), undefined);
  assert.equal(parseCidr('10.0.0.0/33'), undefined);
  assert.equal(parseCidr('2000::/3')?.prefix, 3);
  assert.equal(parseCidr('2000::/129'), undefined);
  assert.equal(parseCidr('10.0.0.0/016'), undefined);
});
