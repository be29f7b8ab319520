/**
 * `npm run demo [-- --quick] [-- --driver memory]`: the real daemon steering 64 buckets over
 * three local stand-ins for haproxy, through the real pf driver against the pf emulator. A backend
 * fails, a host is drained, both come back; the view shows buckets per host as the daemon reports
 * them and the summary how many buckets each event moved against the fewest it could.
 *
 * `--quick` prints plain lines (no redrawing) and skips the pauses meant for a human; it is what
 * test/demo.test.ts runs. `--driver memory` skips the pf emulator.
 */
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { DEFAULTS } from '../../src/config/defaults.ts';
import { loadConfig } from '../../src/config/load.ts';
import { buildMapper } from '../../src/daemon/daemon.ts';
import { callControl } from '../../src/daemon/control-client.ts';
import { startBackends, type Backend } from './backends.ts';
import { Cleanup } from './cleanup.ts';
import { DaemonProcess, type LogRecord } from './daemon-process.ts';
import { changedBuckets, collateralMoves, countOwners, minimumMoves, ownersInPf, type Owners } from './moves.ts';
import { BUCKETS, createScene, type DemoDriver, type Scene } from './setup.ts';
import { LiveView, type DaemonStatus } from './view.ts';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const HOSTS = ['lb1', 'lb2', 'lb3'] as const;
const POLL_MS = 200;
// Generous: each emulated pfctl call is a Node process, slow on a busy machine.
const START_WITHIN_MS = 45_000;
const SETTLE_WITHIN_MS = 30_000;

const quick = process.argv.includes('--quick');
const requested: DemoDriver = process.argv.join(' ').includes('--driver memory') ? 'memory' : 'pf';
const view = new LiveView(process.stdout, process.stdout.isTTY === true && !quick);
const cleanup = new Cleanup();
cleanup.onSignals((line) => process.stdout.write(`${line}\n`));

interface EventRow {
  event: string;
  host: string;
  why: string;
  moved: number;
  minimum: number;
  collateral: number;
  ms: number;
}

const records: Array<{ at: number; record: LogRecord }> = [];
let status: DaemonStatus | undefined;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function poll(scene: Scene): Promise<DaemonStatus | undefined> {
  try {
    status = await callControl<DaemonStatus>(scene.socket, 'GET', '/status', 2000);
    view.update(status);
    return status;
  } catch {
    // Not listening yet, or busy: the next poll tries again.
    return undefined;
  }
}

/** Polls until `done` holds on two polls in a row with no anchor loaded between them. */
async function settle(scene: Scene, done: (s: DaemonStatus) => boolean, withinMs: number): Promise<boolean> {
  const deadline = performance.now() + withinMs;
  let previous: DaemonStatus | undefined;
  while (performance.now() < deadline) {
    const s = await poll(scene);
    if (s && done(s) && previous && done(previous) && previous.loads === s.loads) return true;
    previous = s;
    await sleep(POLL_MS);
  }
  return false;
}

function counts(s: DaemonStatus): Record<string, number> {
  return Object.fromEntries(s.hosts.map((h) => [h.name, h.buckets]));
}

async function expectedCounts(scene: Scene, eligible: readonly string[]): Promise<Record<string, number>> {
  const owners = buildMapper(await loadConfig(scene.configFile)).owners(new Set(eligible));
  return countOwners(owners.map((o) => o ?? undefined), HOSTS);
}

function sameCounts(a: Record<string, number>, b: Record<string, number>): boolean {
  return HOSTS.every((h) => a[h] === b[h]);
}

function pfOwners(scene: Scene): Owners | undefined {
  if (!scene.emulator) return undefined;
  const hostOf = new Map(HOSTS.map((h, i) => [`10.0.1.${11 + i}`, h]));
  // The demo's config sets only the bucket count; the service's external address is in MAIN_RULESET.
  return ownersInPf(scene.emulator, { ...DEFAULTS.buckets, count: BUCKETS }, '192.0.2.10', hostOf);
}

/** Why the daemon moved `host`'s buckets, in its own log's words. */
function why(host: string, since: number): string {
  const mine = records.filter((r) => r.at >= since && r.record.host === host).map((r) => r.record);
  const transition = mine.findLast((r) => typeof r.reason === 'string' && / -> /.test(r.msg));
  const drain = mine.findLast((r) => /drained/.test(r.msg));
  if (transition) return `${transition.msg} (${String(transition.reason)})`;
  if (drain) return drain.msg;
  return '(no log line)';
}

async function startDaemon(driver: DemoDriver, backends: readonly Backend[]): Promise<{ scene: Scene; daemon: DaemonProcess } | undefined> {
  const scene = await createScene(driver, backends);
  cleanup.add(`remove ${scene.dir}`, () => scene.remove());
  view.say(`config ${scene.configFile} (driver ${driver}${driver === 'pf' ? `, emulated pf in ${scene.emulator!.dir}` : ''})`);
  const daemon = DaemonProcess.spawn(scene, (record) => records.push({ at: performance.now(), record }));
  cleanup.add(`stop the daemon (pid ${daemon.pid})`, () => daemon.stop());
  view.say(`daemon started: pid ${daemon.pid}, node src/cli/main.ts run -c ${scene.configFile}`);
  view.note('waiting for the first verdicts and the first load of every anchor');
  const all = await expectedCounts(scene, HOSTS);
  const ready = await settle(scene, (s) => s.ready && s.hosts.every((h) => h.state === 'up') && sameCounts(counts(s), all), START_WITHIN_MS);
  if (ready) return { scene, daemon };
  const code = daemon.running ? 'still running' : `exited ${String(await daemon.exited)}`;
  view.say(`the daemon with driver ${driver} did not steer all ${BUCKETS} buckets within ${START_WITHIN_MS / 1000} s (${code}); its log ${daemon.logFile}:`);
  view.say((await readFile(daemon.logFile, 'utf8').catch(() => '')).split('\n').slice(-8).join('\n'));
  await daemon.stop();
  return undefined;
}

async function cli(scene: Scene, verb: string, host: string): Promise<string> {
  const r = await execa(process.execPath, [MAIN, verb, host, '--socket', scene.socket], { reject: false });
  if (r.exitCode !== 0) throw new Error(`pfsteer ${verb} ${host} exited ${r.exitCode}: ${r.stderr}`);
  return r.stdout.trim();
}

async function main(): Promise<number> {
  const banner = 'No real pf is touched: pfctl is the emulator test/pf-emulator/pfctl.js, which keeps pf\'s state in a temporary folder.';
  view.say(`pfsteer demo: the real daemon, 3 hosts, ${BUCKETS} buckets, http checks every 500 ms (fall 2, rise 2).`);
  view.say(requested === 'pf' ? banner : 'Driver memory: no pf at all, real or emulated, is touched.');

  const backends = await startBackends(HOSTS);
  cleanup.add('stop the backends', () => Promise.all(backends.map((b) => b.stop())));
  view.say(`backends (stand-ins for haproxy's /haproxy_check) on 127.0.0.1: ${backends.map((b) => `${b.name}:${b.port}`).join(', ')}`);

  let started = await startDaemon(requested, backends);
  if (!started && requested === 'pf') {
    view.say('FALLBACK: the pf driver against the emulator did not start; running again with driver memory.');
    started = await startDaemon('memory', backends);
  }
  if (!started) return 1;
  const { scene, daemon } = started;
  view.say(`steering: every bucket has an owner (driver ${scene.driver}).`);

  const [, lb2] = backends as [Backend, Backend, Backend];
  const events: Array<{ event: string; host: string; eligible: string[]; act: () => Promise<string | undefined> }> = [
    { event: 'lb2 backend stopped', host: 'lb2', eligible: ['lb1', 'lb3'], act: async () => (await lb2.stop(), undefined) },
    { event: 'drain lb1', host: 'lb1', eligible: ['lb3'], act: async () => `$ pfsteer drain lb1 -> ${await cli(scene, 'drain', 'lb1')}` },
    { event: 'lb2 backend back', host: 'lb2', eligible: ['lb2', 'lb3'], act: async () => (await lb2.start(), undefined) },
    { event: 'undrain lb1', host: 'lb1', eligible: ['lb1', 'lb2', 'lb3'], act: async () => `$ pfsteer undrain lb1 -> ${await cli(scene, 'undrain', 'lb1')}` },
  ];
  const rows: EventRow[] = [];
  for (const e of events) {
    if (!quick) await sleep(1000);
    const before = await poll(scene);
    if (!before) throw new Error('the daemon stopped answering on its control socket');
    const ownersBefore = pfOwners(scene);
    const expected = await expectedCounts(scene, e.eligible);
    view.say(`>> ${e.event}`);
    view.note(`${e.event}: waiting for the daemon to move ${e.host}'s buckets`);
    const t0 = performance.now();
    const said = await e.act();
    if (said) view.say(said);
    const settled = await settle(scene, (s) => sameCounts(counts(s), expected), SETTLE_WITHIN_MS);
    const ms = performance.now() - t0;
    const after = status!;
    if (!settled) throw new Error(`${e.event}: buckets per host did not reach ${JSON.stringify(expected)} within ${SETTLE_WITHIN_MS} ms`);
    const ownersAfter = pfOwners(scene);
    const moved = ownersBefore && ownersAfter ? changedBuckets(ownersBefore, ownersAfter) : after.loads - before.loads;
    const collateral = ownersBefore && ownersAfter ? collateralMoves(ownersBefore, ownersAfter, e.host) : 0;
    const row = { event: e.event, host: e.host, why: why(e.host, t0), moved, minimum: minimumMoves(counts(before), counts(after), e.host), collateral, ms };
    rows.push(row);
    view.say(`   ${row.why}; ${moved} buckets moved in ${(ms / 1000).toFixed(1)} s`);
  }
  view.note('done');
  view.freeze();

  const pfCalls = scene.emulator?.calls().length;
  const loads = status?.loads ?? 0;
  const exit = await daemon.stop();
  const dir = scene.dir;
  await cleanup.run((line) => view.say(line));

  const lines = [
    '',
    `Summary (driver ${scene.driver}${scene.driver === 'pf' ? ', the real pf driver against the pf emulator' : ''}; ${BUCKETS} buckets; moved = buckets whose owner changed${scene.emulator ? ' in the emulated pf' : ' (as applied)'}):`,
    ...rows.map((r) => `  event: ${r.event}: moved ${r.moved}, minimum ${r.minimum}, between other hosts ${r.collateral}, settled in ${(r.ms / 1000).toFixed(1)} s; why: ${r.why}`),
    rows.every((r) => r.moved === r.minimum && r.collateral === 0)
      ? `Every event moved exactly the minimum: only the buckets of the host that left or came back (${loads} bucket loads in all, ${BUCKETS} of them at start).`
      : 'Some event moved more than the minimum: see the rows above.',
    `Daemon pid ${daemon.pid} stopped with SIGTERM (exit ${String(exit)}); backends stopped; ${dir} ${existsSync(dir) ? 'NOT removed' : 'removed'}.`,
    scene.emulator ? `No real pf was touched: all ${pfCalls} pfctl calls went to the emulator.` : 'No real pf was touched: driver memory keeps the mapping in the daemon.',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  return rows.every((r) => r.moved === r.minimum && r.collateral === 0) && exit === 0 ? 0 : 1;
}

try {
  process.exitCode = await main();
} catch (error) {
  view.freeze();
  process.stdout.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
} finally {
  await cleanup.run((line) => process.stdout.write(`${line}\n`));
}
