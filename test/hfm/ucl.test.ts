import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseUcl, type UclObject, type UclValue } from '../../src/hfm/ucl.ts';

/** The tree without positions, to compare shapes. */
function plain(value: UclValue): unknown {
  switch (value.kind) {
    case 'object':
      return Object.fromEntries(value.entries.map((e) => [e.key, plain(e.value)]));
    case 'array':
      return value.items.map(plain);
    case 'number':
      return value.seconds;
    case 'null':
      return null;
    default:
      return value.value;
  }
}

function parsed(text: string): Record<string, unknown> {
  const result = parseUcl(text);
  assert.ok(result.ok, JSON.stringify(!result.ok && result.issues));
  return plain(result.root) as Record<string, unknown>;
}

function problem(text: string): { code: string; line: number; col: number } {
  const result = parseUcl(text);
  assert.ok(!result.ok, 'expected a syntax error');
  const issue = result.issues[0]!;
  return { code: issue.code, line: issue.pos!.line, col: issue.pos!.col };
}

test('the forms hfm configurations use', () => {
  const text = `# comment
interval = 10s   // trailing comment
timeout_int: 500ms;
/* block /* nested */ comment */
lb1 {
  status = "enabled"
  haproxy {
    test = haproxy_test
    test_arguments = '10.2.1.251'
    change_fail_arguments = [ "-c", <<EOD
echo one;
echo two;
EOD
]
    runs = 2, start_delay = 1.5
  }
}
lb2 tinyproxy { test = "tiny\\tproxy" }
flag = yes
`;
  assert.deepEqual(parsed(text), {
    interval: 10,
    timeout_int: 0.5,
    lb1: {
      status: 'enabled',
      haproxy: { test: 'haproxy_test', test_arguments: '10.2.1.251', change_fail_arguments: ['-c', 'echo one;\necho two;'], runs: 2, start_delay: 1.5 },
    },
    lb2: { tinyproxy: { test: 'tiny\tproxy' } },
    flag: true,
  });
});

test('libucl number suffixes: time units in seconds, m is mega', () => {
  const values = parsed('a = 250ms\nb = 2min\nc = 1h\nd = 2m\ne = 1kb\nf = 0x10\ng = 10.2.1.251\n');
  assert.deepEqual(values, { a: 0.25, b: 120, c: 3600, d: 2_000_000, e: 1024, f: 16, g: '10.2.1.251' });
});

test('an explicit top-level object is the same as the implicit one', () => {
  assert.deepEqual(parsed('{ a = 1; b { c = "x" } }'), { a: 1, b: { c: 'x' } });
});

test('syntax errors are located', () => {
  assert.deepEqual(problem('a = 1\nb = "open\n'), { code: 'ucl-syntax', line: 2, col: 5 });
  assert.deepEqual(problem('a {\n  b = 1\n'), { code: 'ucl-syntax', line: 3, col: 1 });
  assert.deepEqual(problem('.include "/etc/other.conf"\n'), { code: 'ucl-macro', line: 1, col: 1 });
  assert.deepEqual(problem('a = 1\n  a = 2\n'), { code: 'duplicate-key', line: 2, col: 3 });
  assert.deepEqual(problem('a = [1, 2\n'), { code: 'ucl-syntax', line: 1, col: 5 });
  assert.deepEqual(problem('a = 1 2\n'), { code: 'ucl-syntax', line: 1, col: 7 });
  assert.deepEqual(problem('a = <<EOD\nno end\n'), { code: 'ucl-syntax', line: 1, col: 5 });
  assert.deepEqual(problem('a = "\\q"\n'), { code: 'ucl-syntax', line: 1, col: 8 });
  assert.deepEqual(problem('/* never closed\n'), { code: 'ucl-syntax', line: 1, col: 1 });
});

test('nesting deeper than any monitor needs is refused, not recursed into', () => {
  const text = `${'a {'.repeat(10_000)}${'}'.repeat(10_000)}`;
  assert.equal(problem(text).code, 'ucl-too-deep');
});

// Round trip: any tree written in any of libucl's styles reads back as the same tree.
const KEY = fc.stringMatching(/^[a-z][a-z0-9_]{0,8}$/).filter((k) => !['true', 'false', 'yes', 'no', 'on', 'off', 'null'].includes(k));
const STRING = fc.string({ maxLength: 12 }).filter((s) => !s.includes('\0'));
type Tree = { [key: string]: string | number | string[] | Tree };
const tree: fc.Arbitrary<Tree> = fc.letrec<{ tree: Tree }>((tie) => ({
  tree: fc.dictionary(KEY, fc.oneof({ depthSize: 'small' }, STRING, fc.integer({ min: 0, max: 1_000_000 }), fc.array(STRING, { maxLength: 3 }), tie('tree')), { maxKeys: 4, noNullPrototype: true }),
})).tree;

function render(node: Tree, style: number, indent = ''): string {
  const assign = ['=', ':', ''][style % 3]!;
  const sep = ['\n', ';\n', ',\n'][style % 3]!;
  return Object.entries(node)
    .map(([key, value]) => {
      const head = `${indent}${key}`;
      if (typeof value === 'object' && !Array.isArray(value)) return `${head} {\n${render(value, style + 1, `${indent}  `)}${indent}}${sep}`;
      const text = Array.isArray(value) ? `[${value.map((v) => JSON.stringify(v)).join(', ')}]` : typeof value === 'number' ? String(value) : JSON.stringify(value);
      return `${head} ${assign} ${text}${sep}`;
    })
    .join('');
}

test('any tree rendered in any style parses back to itself', () => {
  fc.assert(
    fc.property(tree, fc.nat(5), (t, style) => {
      assert.deepEqual(parsed(render(t, style)), t);
    }),
  );
});
