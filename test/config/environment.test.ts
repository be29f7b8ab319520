import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { localWarnings } from '../../src/config/environment.ts';
import { parseConfig } from '../../src/config/load.ts';

const MINIMAL = fileURLToPath(new URL('../fixtures/config/valid/minimal.yaml', import.meta.url));
const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

async function withGroup(group: string): Promise<string> {
  return `${await readFile(MINIMAL, 'utf8')}control:\n  group: ${group}\n`;
}

test('a control.group this machine lacks is a located warning; one it has, or none, is quiet', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pfsteer-env-'));
  try {
    const groups = join(dir, 'group');
    await writeFile(groups, 'wheel:*:0:root\n_pfsteer:*:700:\n');
    const missing = await withGroup('operators');
    const [warning, ...more] = await localWarnings(parseConfig(missing, 'x.yaml'), missing, groups);
    assert.deepEqual(more, []);
    assert.equal(warning?.code, 'unknown-group');
    assert.deepEqual(warning?.pos, { line: missing.split('\n').length - 1, col: 10 });
    assert.match(warning!.message, /another machine|may not be the firewall/);
    for (const text of [await withGroup('_pfsteer'), await readFile(MINIMAL, 'utf8')]) assert.deepEqual(await localWarnings(parseConfig(text, 'x.yaml'), text, groups), []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('pfsteer check prints the warning with its position and still exits 0', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pfsteer-env-'));
  try {
    const file = join(dir, 'pfsteer.yaml');
    const text = await withGroup('no-such-group-pfsteer');
    await writeFile(file, text);
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [MAIN, 'check', '-c', file]);
    assert.match(stdout, /^configuration OK/);
    assert.match(stderr, new RegExp(`^${file}:${text.split('\n').length - 1}:10: warning: unknown-group: `));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
