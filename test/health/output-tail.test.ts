import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { OutputTail } from '../../src/health/output-tail.ts';

test('the tail is the last `limit` bytes of everything pushed, in order', () => {
  fc.assert(
    fc.property(fc.nat({ max: 64 }), fc.array(fc.uint8Array({ maxLength: 100 }), { maxLength: 30 }), (limit, chunks) => {
      const tail = new OutputTail(limit);
      for (const chunk of chunks) tail.push(chunk);
      const all = Buffer.concat(chunks);
      assert.deepEqual(tail.bytes(), all.subarray(Math.max(0, all.length - limit)));
    }),
    { numRuns: 500 },
  );
});

test('memory stays within the limit however much is pushed', () => {
  const tail = new OutputTail(1000);
  const chunk = Buffer.alloc(333, 120);
  for (let i = 0; i < 10_000; i++) tail.push(chunk);
  tail.push(Buffer.from('end'));
  const bytes = tail.bytes();
  assert.equal(bytes.length, 1000);
  assert.equal(bytes.subarray(-3).toString(), 'end');
});
