/**
 * rc.d/pfsteer as FreeBSD's /etc/rc runs it at boot: with PATH=/sbin:/bin:/usr/sbin:/usr/bin,
 * where /usr/local/bin (node, pfsteer) is not. Stand-ins replace rc.subr(8) and daemon(8); the
 * script itself runs unchanged but for their paths and the pidfile folder. On this Debian the
 * first node on that PATH is the system's v20, which cannot run pfsteer: a script that relied on
 * PATH would fail here too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { callControl } from '../src/daemon/control-client.ts';
import { until } from './support/until.ts';

const SCRIPT = fileURLToPath(new URL('../rc.d/pfsteer', import.meta.url));
const MAIN = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const BOOT_PATH = '/sbin:/bin:/usr/sbin:/usr/bin';

/**
 * Just what rc.d/pfsteer uses of rc.subr(8), with its meaning: the enable check, start_precmd,
 * extra commands, ${name}_flags put before command_args and ${name}_user run through su.
 */
function standInRcSubr(rcConf: string): string {
  return `
load_rc_config() { . '${rcConf}'; }
warn() { echo "$0: WARNING: $*" >&2; }
checkyesno() { eval "case \\"\\$$1\\" in [Yy][Ee][Ss]) return 0 ;; *) return 1 ;; esac"; }
run_rc_command() {
	checkyesno "$rcvar" || { echo "$rcvar is not enabled" >&2; return 1; }
	eval "rc_flags=\\$\${name}_flags _user=\\$\${name}_user"
	[ "$_user" = "$(id -un)" ] && unset _user
	case "$1" in
	start)
		if [ -n "$start_precmd" ]; then $start_precmd || return 1; fi
		echo "Starting $name."
		# rc.subr runs "su -m $_user -c ..." here, which a test cannot; it must not be asked to.
		if [ -n "$_user" ]; then echo "rc.subr would su to $_user" >&2; return 1; fi
		$command $rc_flags $command_args
		;;
	stop)
		kill -TERM "$(cat "$pidfile")"
		;;
	*)
		for extra in $extra_commands; do
			if [ "$extra" = "$1" ]; then eval "\\$\${1}_cmd"; return; fi
		done
		echo "unknown command $1" >&2
		return 1
		;;
	esac
}
`;
}

/** daemon(8) as rc.d/pfsteer calls it: the options it passes, the command in the background. */
function standInDaemon(log: string, userFile: string, argvFile: string): string {
  return `#!/bin/sh
echo "$*" > '${argvFile}'
while getopts rST:P:p:u: opt; do
	case $opt in
	P) supervisor=$OPTARG ;;
	p) child=$OPTARG ;;
	u) echo "$OPTARG" > '${userFile}' ;;
	r | S | T) ;;
	*) exit 64 ;;
	esac
done
shift $((OPTIND - 1))
"$@" >> '${log}' 2>&1 &
echo $! > "$child"
echo $! > "$supervisor"
`;
}

interface Scene {
  dir: string;
  script: string;
  config: string;
  socket: string;
  log: string;
  childPidfile: string;
  userFile: string;
  argvFile: string;
}

async function createScene(rcConfExtra = ''): Promise<Scene> {
  const dir = await mkdtemp(join(tmpdir(), 'pfsteer-rcd-'));
  const run = join(dir, 'run');
  await mkdir(run);
  const scene: Scene = {
    dir,
    script: join(dir, 'pfsteer'),
    config: join(dir, 'pfsteer.yaml'),
    socket: join(dir, 'control.sock'),
    log: join(dir, 'daemon.log'),
    childPidfile: join(run, 'pfsteer.pid'),
    userFile: join(dir, 'user'),
    argvFile: join(dir, 'daemon.argv'),
  };
  const rcConf = join(dir, 'rc.conf');
  await writeFile(rcConf, `pfsteer_enable="YES"\npfsteer_config="${scene.config}"\npfsteer_node="${process.execPath}"\npfsteer_bin="${MAIN}"\n${rcConfExtra}`);
  await writeFile(join(dir, 'rc.subr'), standInRcSubr(rcConf));
  await writeFile(join(dir, 'daemon'), standInDaemon(scene.log, scene.userFile, scene.argvFile), { mode: 0o755 });
  const original = readFileSync(SCRIPT, 'utf8');
  const script = [
    ['/etc/rc.subr', join(dir, 'rc.subr')],
    ['/usr/sbin/daemon', join(dir, 'daemon')],
    ['/var/run/', `${run}/`],
  ].reduce((text, [from, to]) => {
    assert.ok(text.includes(from!), `rc.d/pfsteer uses ${from}`);
    return text.replaceAll(from!, to!);
  }, original);
  await writeFile(scene.script, script, { mode: 0o755 });
  await writeConfig(scene, true);
  return scene;
}

async function writeConfig(scene: Scene, valid: boolean): Promise<void> {
  await writeFile(
    scene.config,
    `driver: memory
buckets: {count: 16}
control: {socket: ${scene.socket}, mode: "0600"}
daemon: {state_file: ${join(scene.dir, 'state.json')}}
services:
  std: {interface: em0, external: [203.0.113.10], ports: [443]}
hosts:
  lb1: {addresses: {std: 10.0.1.11}, checks: [{type: exec, command: [/bin/true]}]}
  lb2: {addresses: {std: ${valid ? '10.0.1.12' : 'not-an-address'}}}
`,
  );
}

/** `service pfsteer <verb>` as /etc/rc would run it: sh, the boot PATH, nothing else inherited. */
function service(scene: Scene, verb: string) {
  return execa('/bin/sh', [scene.script, verb], { env: { PATH: BOOT_PATH, HOME: '/' }, extendEnv: false, reject: false, timeout: 30_000 });
}

function childPid(scene: Scene): number | undefined {
  return existsSync(scene.childPidfile) ? Number(readFileSync(scene.childPidfile, 'utf8').trim()) : undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('the rc.d script defaults to the binary and node that npm install -g and pkg put in /usr/local/bin', () => {
  const text = readFileSync(SCRIPT, 'utf8');
  assert.match(text, /^: "\$\{pfsteer_bin:=\/usr\/local\/bin\/pfsteer\}"$/m);
  assert.match(text, /^: "\$\{pfsteer_node:=\/usr\/local\/bin\/node\}"$/m);
});

test('check, start, reload and stop work under the boot PATH, where the first node (if any) is too old', async (t) => {
  const scene = await createScene('pfsteer_user="nobody"\npfsteer_flags="--log-level debug"\n');
  t.after(async () => {
    const pid = childPid(scene);
    if (pid !== undefined && alive(pid)) process.kill(pid, 'SIGKILL');
    await rm(scene.dir, { recursive: true, force: true });
  });

  const check = await service(scene, 'check');
  assert.equal(check.exitCode, 0, check.stderr);
  assert.equal(check.stdout, `${scene.config} is valid`);

  const start = await service(scene, 'start');
  assert.equal(start.exitCode, 0, start.stderr);
  // The user and flags reach daemon(8) -u and `pfsteer run`, not rc.subr's su and daemon's own options.
  assert.equal(readFileSync(scene.userFile, 'utf8').trim(), 'nobody');
  assert.equal(
    readFileSync(scene.argvFile, 'utf8').trim(),
    `-r -S -T pfsteer -P ${scene.dir}/run/pfsteer_daemon.pid -p ${scene.childPidfile} -u nobody ${process.execPath} --max-semi-space-size=2 ${MAIN} run -c ${scene.config} --log-level debug`,
  );
  const pid = childPid(scene);
  assert.ok(pid !== undefined && alive(pid), 'daemon(8) started pfsteer');
  // run.ts handles SIGHUP once the daemon has started, which it logs as "steering".
  await until(() => existsSync(scene.log) && readFileSync(scene.log, 'utf8').includes('"msg":"steering"'), 30_000, 'the started daemon is steering');
  const status = await callControl<{ hosts: Array<{ name: string }> }>(scene.socket, 'GET', '/status', 2000);
  assert.deepEqual(status.hosts.map((h) => h.name), ['lb1', 'lb2']);

  const reload = await service(scene, 'reload');
  assert.equal(reload.exitCode, 0, reload.stderr);
  assert.match(reload.stdout, new RegExp(`Reloading pfsteer \\(pid ${pid}\\)`));
  await until(() => readFileSync(scene.log, 'utf8').includes('SIGHUP: reloading the config'), 10_000, 'the daemon logs the SIGHUP');

  const stop = await service(scene, 'stop');
  assert.equal(stop.exitCode, 0, stop.stderr);
  await until(() => !alive(pid), 10_000, 'pfsteer exits on SIGTERM');
});

test('an invalid config fails check and reload, and start does not start pfsteer', async (t) => {
  const scene = await createScene();
  t.after(async () => {
    const pid = childPid(scene);
    if (pid !== undefined && alive(pid)) process.kill(pid, 'SIGKILL');
    await rm(scene.dir, { recursive: true, force: true });
  });
  await writeConfig(scene, false);

  const check = await service(scene, 'check');
  assert.equal(check.exitCode, 1);
  assert.match(check.stderr, /pfsteer\.yaml:\d+:\d+: bad-address/);
  assert.match(check.stderr, /WARNING: .*pfsteer\.yaml is not valid/);

  const start = await service(scene, 'start');
  assert.equal(start.exitCode, 1);
  assert.equal(childPid(scene), undefined, 'nothing was started');
  assert.equal(existsSync(scene.log), false);

  const reload = await service(scene, 'reload');
  assert.equal(reload.exitCode, 1);
  assert.match(reload.stderr, /WARNING: .*pfsteer\.yaml is not valid/);
});
