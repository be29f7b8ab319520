/**
 * The man pages pass `mandoc -T lint`. The one kind of message allowed is "referenced manual not
 * found" for the pages they cite: mandoc looks only in this machine's base system, where
 * Debian has no pf.conf(5) and FreeBSD no haproxy(1); the list below is what may be cited.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

const DIR = fileURLToPath(new URL('../src/man/', import.meta.url));
const PAGES = readdirSync(DIR).map((name) => `${DIR}${name}`);
const CITED = new Set([
  'daemon 8', 'haproxy 1', 'node 1', 'pf 4', 'pf.conf 5', 'pfctl 8', 'pfsteer 8', 'pfsteer.yaml 5',
  'rc.conf 5', 'service 8', 'sysrc 8', 'syslog 3',
]);

test('the man pages are pfsteer(8) and pfsteer.yaml(5), and package.json installs them', () => {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { man: string[] };
  assert.deepEqual(PAGES.map((page) => page.slice(DIR.length)).sort(), ['pfsteer.8', 'pfsteer.yaml.5']);
  assert.deepEqual(pkg.man.toSorted(), ['src/man/pfsteer.8', 'src/man/pfsteer.yaml.5']);
});

test('mandoc -T lint reports nothing but citations of pages outside this machine', async () => {
  const result = await execa('mandoc', ['-T', 'lint', ...PAGES], { reject: false });
  assert.notEqual(result.exitCode, undefined, `mandoc could not run (apt-get install mandoc): ${result.shortMessage}`);
  const messages = result.stdout.split('\n').filter((line) => line !== '');
  const cited = /STYLE: referenced manual not found: Xr (\S+ \d)(?: \(\d+ times\))?$/;
  const other = messages.filter((line) => !CITED.has(cited.exec(line)?.[1] ?? ''));
  assert.deepEqual(other, []);
  // mandoc also says when this machine's own manual database is stale; that is not about the pages.
  assert.deepEqual(result.stderr.split('\n').filter((line) => line !== '' && !/outdated mandoc\.db/.test(line)), []);
});

test('mandoc -T lint -W warning is silent and exits 0', async () => {
  const result = await execa('mandoc', ['-T', 'lint', '-W', 'warning', ...PAGES], { reject: false });
  assert.equal(result.stdout, '');
  assert.equal(result.exitCode, 0);
});
