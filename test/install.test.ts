/**
 * pfsteer installed the way an admin installs it: `npm pack`, then `npm install -g` of the
 * tarball into a temporary prefix (on FreeBSD the prefix is /usr/local), then the binary, the
 * examples and the man pages used from a folder that is not the source tree. Needs the npm
 * registry (or npm's cache) for the runtime dependencies.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; dependencies: Record<string, string> };
const STEP_MS = 180_000;

test('npm pack, npm install -g into a prefix: pfsteer, its examples and its man pages work from any folder', { timeout: 2 * STEP_MS + 60_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pfsteer-install-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const prefix = join(dir, 'prefix');
  const elsewhere = join(dir, 'elsewhere');
  await mkdir(elsewhere);

  const packed = await execa('npm', ['pack', '--pack-destination', dir, '--loglevel=error'], { cwd: ROOT, reject: false, timeout: STEP_MS });
  assert.equal(packed.exitCode, 0, packed.stderr);
  const tarball = readdirSync(dir).find((name) => name.endsWith('.tgz'));
  assert.equal(tarball, `pfsteer-${pkg.version}.tgz`);

  const installed = await execa('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', join(dir, tarball!)], { cwd: elsewhere, reject: false, timeout: STEP_MS });
  assert.equal(installed.exitCode, 0, installed.stderr);

  const lib = join(prefix, 'lib', 'node_modules', 'pfsteer');
  const bin = join(prefix, 'bin', 'pfsteer');
  assert.equal(readlinkSync(bin), '../lib/node_modules/pfsteer/dist/cli/main.js');
  // What ships: the build, examples, rc.d and man pages; no sources, tests or the demo.
  assert.deepEqual(readdirSync(lib).sort(), ['README.md', 'dist', 'examples', 'node_modules', 'package.json', 'rc.d', 'src'].sort());
  assert.deepEqual(readdirSync(join(lib, 'src')), ['man']);
  assert.equal(existsSync(join(lib, 'examples', 'demo')), false);
  // Runtime dependencies only: test and build tools stay behind.
  const modules = readdirSync(join(lib, 'node_modules'));
  for (const name of Object.keys(pkg.dependencies)) assert.ok(modules.includes(name), `${name} installed`);
  for (const name of ['fast-check', 'typescript', '@types']) assert.ok(!modules.includes(name), `${name} not installed`);

  // The binary finds node on PATH through its interpreter line, as in a shell.
  const env = { PATH: `${dirname(process.execPath)}:/usr/bin:/bin`, HOME: dir, MANPATH: join(prefix, 'share', 'man') };
  const run = (file: string, args: string[]) => execa(file, args, { cwd: elsewhere, env, extendEnv: false, reject: false, timeout: 60_000 });

  const help = await run(bin, ['--help']);
  assert.equal(help.exitCode, 0, help.stderr);
  assert.match(help.stdout, /^Usage: pfsteer /);

  const version = await run(bin, ['version']);
  assert.equal(version.stdout, pkg.version);

  const example = join(lib, 'examples', 'pfsteer.yaml');
  const check = await run(bin, ['check', '-c', example]);
  assert.equal(check.exitCode, 0, check.stderr);

  // As rc.d/pfsteer runs it: node by absolute path on the symlink npm made, under /etc/rc's PATH.
  const boot = await execa(process.execPath, ['--max-semi-space-size=2', bin, 'check', '-c', example], {
    cwd: elsewhere,
    env: { PATH: '/sbin:/bin:/usr/sbin:/usr/bin' },
    extendEnv: false,
    reject: false,
  });
  assert.equal(boot.exitCode, 0, boot.stderr);

  const plan = await run(bin, ['plan', '-c', example]);
  assert.equal(plan.exitCode, 0, plan.stderr);
  assert.match(plan.stdout, /^no rdr on em0 inet proto tcp from any to any port 443 tagged pfsteer-gate$/m);
  assert.match(plan.stdout, /^rdr on em0 inet proto tcp from <[^>]+> to <haproxy-ext-std> port 443 -> 10\.0\.1\.1[12]$/m);

  assert.ok(existsSync(join(prefix, 'share', 'man', 'man8', 'pfsteer.8')));
  assert.ok(existsSync(join(prefix, 'share', 'man', 'man5', 'pfsteer.yaml.5')));
  for (const [page, heading] of [
    [['pfsteer'], /PFSTEER\(8\)/],
    [['5', 'pfsteer.yaml'], /PFSTEER\.YAML\(5\)/],
  ] as const) {
    const man = await run('man', ['-P', 'cat', ...page]);
    assert.equal(man.exitCode, 0, `man ${page.join(' ')}: ${man.stderr}`);
    assert.match(man.stdout, heading);
  }
});

test("the README's quick start is two commands, and .ci/run runs its test command verbatim", () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const quickStart = readme.slice(readme.indexOf('## Quick start'), readme.indexOf('\n## ', readme.indexOf('## Quick start') + 1));
  const block = /```sh\n([^`]*)```/.exec(quickStart);
  assert.ok(block, 'a sh block in the quick start');
  const commands = block[1]!.trim().split('\n');
  assert.deepEqual(commands, ['npm run demo', 'npm test']);
  const ci = readFileSync(join(ROOT, '.ci', 'run'), 'utf8').trim().split('\n');
  assert.equal(ci.at(-1), commands[1]);
});
