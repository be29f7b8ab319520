/**
 * .ci/find-node and .ci/with-node, which every npm script starts with: which node they pick, that
 * a new enough node on PATH (FreeBSD's node24) means no download, that a download goes through
 * npm for the registry's node-linux-<arch> package only, and that `npm ci` runs exactly when
 * node_modules is missing or older than package-lock.json. npm is replaced by a stand-in that
 * records its arguments, so nothing here touches the network.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

const CI = fileURLToPath(new URL('../.ci/', import.meta.url));
const PACKAGE = `node-linux-${process.arch}`;

interface Sandbox {
  dir: string;
  /** Holds `node` (when given) and the npm stand-in, first on PATH. */
  bin: string;
  npmLog: string;
  path: string;
}

/** A folder with the two scripts as a project's .ci/, a package-lock.json and a stand-in npm. */
async function sandbox(node: 'current' | 'old'): Promise<Sandbox> {
  const dir = await mkdtemp(join(tmpdir(), 'pfsteer-node-'));
  const bin = join(dir, 'bin');
  mkdirSync(join(dir, '.ci'), { recursive: true });
  mkdirSync(bin);
  for (const script of ['find-node', 'with-node']) copyFileSync(join(CI, script), join(dir, '.ci', script));
  writeFileSync(join(dir, 'package-lock.json'), '{}\n');
  if (node === 'current') symlinkSync(process.execPath, join(bin, 'node'));
  // Node 20 as find-node sees it: a version, and a failed version test.
  else writeFileSync(join(bin, 'node'), '#!/bin/sh\n[ "$1" = --version ] && echo v20.19.0\nexit 1\n', { mode: 0o755 });
  const npmLog = join(dir, 'npm.log');
  // `npm install --prefix P ... node-linux-ARCH@24` "installs" this test's node there; `npm ci`
  // writes node_modules/.package-lock.json as npm does.
  writeFileSync(
    join(bin, 'npm'),
    `#!/bin/sh
echo "$*" >> '${npmLog}'
if [ "$1" = ci ]; then mkdir -p node_modules && echo '{}' > node_modules/.package-lock.json; exit 0; fi
prefix=$3
mkdir -p "$prefix/node_modules/${PACKAGE}/bin"
ln -sf '${process.execPath}' "$prefix/node_modules/${PACKAGE}/bin/node"
`,
    { mode: 0o755 },
  );
  return { dir, bin, npmLog, path: `${bin}:/usr/bin:/bin` };
}

function npmCalls(box: Sandbox): string[] {
  return existsSync(box.npmLog) ? readFileSync(box.npmLog, 'utf8').trim().split('\n') : [];
}

function findNode(box: Sandbox, env: Record<string, string> = {}) {
  return execa('sh', [join(box.dir, '.ci', 'find-node')], { env: { PATH: box.path, HOME: box.dir, ...env }, extendEnv: false, reject: false });
}

test('a node >= 22.18 first on PATH is used as it is, and nothing is downloaded', async (t) => {
  const box = await sandbox('current');
  t.after(() => rm(box.dir, { recursive: true, force: true }));
  const found = await findNode(box);
  assert.equal(found.exitCode, 0, found.stderr);
  assert.equal(found.stdout, join(box.bin, 'node'));
  assert.deepEqual(npmCalls(box), []);
});

test('with an older node first on PATH, Node 24 comes once from the npm registry package into the cache', async (t) => {
  const box = await sandbox('old');
  t.after(() => rm(box.dir, { recursive: true, force: true }));
  const cache = join(box.dir, 'cache');
  for (let i = 0; i < 2; i++) {
    const found = await findNode(box, { PFSTEER_NODE_CACHE: cache });
    assert.equal(found.exitCode, 0, found.stderr);
    assert.equal(found.stdout, join(cache, 'node_modules', PACKAGE, 'bin', 'node'));
  }
  const calls = npmCalls(box);
  assert.equal(calls.length, 1, 'fetched once, then taken from the cache');
  assert.match(calls[0]!, new RegExp(`^install --prefix ${cache} .* ${PACKAGE}@24$`));
});

test('PFSTEER_NODE names the node; one that is too old is refused', async (t) => {
  const box = await sandbox('old');
  t.after(() => rm(box.dir, { recursive: true, force: true }));
  const chosen = await findNode(box, { PFSTEER_NODE: process.execPath });
  assert.equal(chosen.stdout, process.execPath);
  const old = await findNode(box, { PFSTEER_NODE: join(box.bin, 'node') });
  assert.equal(old.exitCode, 1);
  assert.match(old.stderr, /PFSTEER_NODE=.* is not a node >= 22.18/);
  assert.deepEqual(npmCalls(box), []);
});

test('with-node runs npm ci when node_modules is missing or stale, then the command under the chosen node', async (t) => {
  const box = await sandbox('current');
  t.after(() => rm(box.dir, { recursive: true, force: true }));
  const withNode = () =>
    execa('sh', [join(box.dir, '.ci', 'with-node'), 'node', '-p', 'process.execPath'], { cwd: box.dir, env: { PATH: box.path, HOME: box.dir }, extendEnv: false, reject: false });

  const first = await withNode();
  assert.equal(first.exitCode, 0, first.stderr);
  assert.equal(first.stdout, process.execPath);
  assert.deepEqual(npmCalls(box), ['ci --no-audit --no-fund']);

  await withNode();
  assert.equal(npmCalls(box).length, 1, 'node_modules is current: no second npm ci');

  const later = new Date(Date.now() + 60_000);
  utimesSync(join(box.dir, 'package-lock.json'), later, later);
  await withNode();
  assert.equal(npmCalls(box).length, 2, 'package-lock.json changed: npm ci again');
});
