/**
 * Table-driven: every file under test/fixtures/config/invalid/ states on its first line the
 * problems it must produce (`# expect: code@line:col, ...`); the loader must report exactly those.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError } from '../../src/errors.ts';
import { loadConfig, parseConfig } from '../../src/config/load.ts';

const root = new URL('../..', import.meta.url).pathname;
const fixtures = join(root, 'test/fixtures/config');
const yamlIn = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.yaml')).map((f) => join(dir, f));

for (const file of [...yamlIn(join(root, 'examples')), ...yamlIn(join(fixtures, 'valid'))]) {
  test(`loads ${file.slice(root.length)}`, async () => {
    const config = await loadConfig(file);
    assert.equal(config.file, file);
    assert.ok(config.services.length > 0 && config.hosts.length > 0);
  });
}

const invalid = yamlIn(join(fixtures, 'invalid'));

test('there are at least 30 broken configs', () => {
  assert.ok(invalid.length >= 30, `only ${invalid.length}`);
});

for (const file of invalid) {
  test(`rejects ${file.slice(fixtures.length + 1)}`, () => {
    const text = readFileSync(file, 'utf8');
    const header = /^# expect: (.+)$/m.exec(text.split('\n')[0] ?? '');
    assert.ok(header, 'the first line must be `# expect: code@line:col, ...`');
    const expected = header[1]!.split(',').map((s) => s.trim()).toSorted();
    const error = catchConfigError(() => parseConfig(text, file));
    const got = error.issues.map((i) => `${i.code}@${i.pos ? `${i.pos.line}:${i.pos.col}` : '-'}`).toSorted();
    assert.deepEqual(got, expected, error.issues.map((i) => `${i.code}: ${i.message}`).join('\n'));
  });
}

function catchConfigError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  assert.fail('expected a ConfigError, but the config loaded');
}
