/** Properties of the loader: serialize -> load is the identity; no text makes it crash. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { ConfigError } from '../../src/errors.ts';
import { formatConfigError } from '../../src/config/format-error.ts';
import { parseConfig } from '../../src/config/load.ts';
import { serializeConfig } from '../../src/config/serialize.ts';
import { arbConfig } from './arbitrary-config.ts';

test('a valid model survives serialize -> load unchanged', () => {
  fc.assert(
    fc.property(arbConfig(), (config) => {
      const text = serializeConfig(config);
      let loaded;
      try {
        loaded = parseConfig(text, config.file);
      } catch (error) {
        if (error instanceof ConfigError) assert.fail(`${formatConfigError(error, text)}\n---\n${text}`);
        throw error;
      }
      assert.deepEqual(loaded, config);
    }),
    { numRuns: 200 },
  );
});

/** Loads, or fails with a ConfigError whose every problem has a code and, past the file level, a position. */
function loadsOrLocates(text: string): void {
  try {
    parseConfig(text, 'fuzz.yaml');
  } catch (error) {
    assert.ok(error instanceof ConfigError, `not a ConfigError: ${String(error)}`);
    assert.ok(error.issues.length > 0);
    for (const issue of error.issues) {
      assert.match(issue.code, /^[a-z0-9-]+$/);
      if (issue.code !== 'file-too-large') {
        assert.ok(issue.pos, `${issue.code} has no position`);
        const lines = text.split(/\r\n|\r|\n/).length;
        assert.ok(issue.pos.line >= 1 && issue.pos.line <= lines + 1 && issue.pos.col >= 1, `${issue.code} at ${issue.pos.line}:${issue.pos.col}`);
      }
    }
    formatConfigError(error, text);
  }
}

test('random text never crashes the loader', () => {
  fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 200 }), loadsOrLocates), { numRuns: 300 });
});

test('random YAML structures never crash the loader', () => {
  const tree = fc.anything({ maxDepth: 4, withNullPrototype: false, key: fc.constantFrom('services', 'hosts', 'defaults', 'web', 'lb1', 'checks', 'addresses', 'type', 'ports', 'x') });
  fc.assert(fc.property(tree, (value) => loadsOrLocates(stringify(value) ?? '')), { numRuns: 300 });
});

test('a mutated example never crashes the loader', () => {
  const example = readFileSync(new URL('../../examples/pfsteer.yaml', import.meta.url), 'utf8');
  const edit = fc.record({ at: fc.nat({ max: example.length }), cut: fc.nat({ max: 8 }), insert: fc.string({ unit: fc.constantFrom(' ', '\n', '\t', ':', '-', '[', ']', '{', '}', '"', '#', '&a', '*a', '0', 'x'), maxLength: 4 }) });
  fc.assert(
    fc.property(fc.array(edit, { minLength: 1, maxLength: 4 }), (edits) => {
      let text = example;
      for (const { at, cut, insert } of edits) text = text.slice(0, at) + insert + text.slice(at + cut);
      loadsOrLocates(text);
    }),
    { numRuns: 300 },
  );
});
