/**
 * `npm run bench:health [-- --quick]`: the real HealthMonitor running 1000 checks at a 1 s
 * interval for 30 s (10 s with --quick). TCP and HTTP against loopback listeners, and three
 * checks per host against silent targets that end in a timeout, each kind counted apart:
 * a listener that accepts and never answers (tcp with `expect` and http: `response-timeout`;
 * https: no ServerHello, `tls-timeout`), and an address whose packets an nft rule drops, so no
 * SYN is ever answered (tcp, http, https: `connect-timeout`). Reports scheduling drift (actual
 * start minus intended start, from the monitor's `started` observer), timeout-verdict lateness
 * (verdict time minus start + timeout) per kind, this process's CPU, and the child processes
 * left once the monitor is closed. Writes bench/results/health.{md,json}.
 *
 * Needs root: it runs itself inside a network namespace it creates (test/support/silent-net.ts)
 * and removes. The listeners run in a child process (this file with --listeners) so their CPU
 * is not counted as the health engine's.
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { availableParallelism, cpus, getPriority, loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { pino } from 'pino';
import type { Check, Host } from '../src/config/model.ts';
import { HealthMonitor } from '../src/health/monitor.ts';
import { parseAddress } from '../src/net/address.ts';
import { Lab } from '../test/e2e/netns.ts';
import { createSilentNet, SILENT4 } from '../test/support/silent-net.ts';

interface Ports {
  tcp: number;
  http: number;
  silent: number;
}

const quick = process.argv.includes('--quick');
const DURATION = quick ? 10_000 : 30_000;
const HOSTS = 100;
const CHECKS_PER_HOST = 10;
const INTERVAL = 1000;
const TIMEOUT = 500;
// The example config's jitter: checks spread out instead of firing in lockstep.
const JITTER = 200;
const TARGETS = { driftP99: 20, latenessP99: 50, cpuPercent: 25, processesLeft: 0 };

/** The silent targets, each a kind whose timeout lateness is reported on its own. */
const KINDS = {
  'tcp, accepted, no answer': 'response-timeout',
  'http, accepted, no answer': 'response-timeout',
  'https, accepted, no ServerHello': 'tls-timeout',
  'tcp, SYN dropped': 'connect-timeout',
  'http, SYN dropped': 'connect-timeout',
  'https, SYN dropped': 'connect-timeout',
} as const;
type Kind = keyof typeof KINDS;

async function listen(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

/** The child: three loopback listeners; their ports go to the parent over IPC. */
async function serveListeners(): Promise<void> {
  const hold = (socket: import('node:net').Socket) => {
    socket.on('error', () => undefined);
    socket.resume();
  };
  const tcp = createServer(hold);
  // Accepts, reads, never answers: every check against it runs into its timeout.
  const silent = createServer(hold);
  const http = createHttpServer((_request, response) => response.end('ok\n'));
  const ports: Ports = { tcp: await listen(tcp), http: await listen(http), silent: await listen(silent) };
  process.send!(ports);
  // The parent going away, however it goes, ends the listeners too.
  process.once('disconnect', () => process.exit(0));
}

/** Hosts and, for each silent check (`host/check`), its kind. */
function buildHosts(ports: Ports): { hosts: Host[]; kinds: Map<string, Kind> } {
  const loopback = parseAddress('127.0.0.1')!;
  const dropped = parseAddress(SILENT4)!;
  const timing = { interval: INTERVAL, timeout: TIMEOUT, rise: 2, fall: 3, fastinter: INTERVAL, downinter: INTERVAL, jitter: JITTER };
  const http = { path: '/', method: 'GET', expectStatus: [200], tlsVerify: false, fresh: true };
  const hosts: Host[] = [];
  const kinds = new Map<string, Kind>();
  for (let h = 0; h < HOSTS; h++) {
    const name = `h${String(h).padStart(3, '0')}`;
    const checks: Check[] = [];
    // The last three checks of a host are silent: c7 https, c8 and c9 tcp or http by parity; c8 and half the c7 dropped.
    for (let i = 0; i < CHECKS_PER_HOST - 3; i++) {
      if ((h + i) % 2 === 0) checks.push({ ...timing, name: `c${i}`, type: 'tcp', address: loopback, port: ports.tcp });
      else checks.push({ ...timing, ...http, name: `c${i}`, type: 'http', address: loopback, port: ports.http });
    }
    const tcp = h % 2 === 0;
    const silent = (check: Check, kind: Kind) => {
      checks.push(check);
      kinds.set(`${name}/${check.name}`, kind);
    };
    silent({ ...timing, ...http, name: 'c7', type: 'https', ...(tcp ? { address: loopback, port: ports.silent } : { address: dropped, port: 443 }) }, tcp ? 'https, accepted, no ServerHello' : 'https, SYN dropped');
    if (tcp) {
      silent({ ...timing, name: 'c8', type: 'tcp', address: dropped, port: 8081 }, 'tcp, SYN dropped');
      silent({ ...timing, name: 'c9', type: 'tcp', address: loopback, port: ports.silent, send: 'PING\n', expect: 'PONG' }, 'tcp, accepted, no answer');
    } else {
      silent({ ...timing, ...http, name: 'c8', type: 'http', address: dropped, port: 8081 }, 'http, SYN dropped');
      silent({ ...timing, ...http, name: 'c9', type: 'http', address: loopback, port: ports.silent }, 'http, accepted, no answer');
    }
    hosts.push({ name, weight: 1, targets: {}, checks });
  }
  return { hosts, kinds };
}

function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = values.toSorted((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** Live processes whose parent is this one, from /proc (Linux). */
async function childProcesses(): Promise<number[]> {
  const children: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => undefined);
    if (stat === undefined) continue;
    // Fields after the parenthesised command: state ppid ...
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid === process.pid) children.push(Number(entry));
  }
  return children;
}

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

/** CPU time of every process on the machine (jiffies from /proc/stat): busy and total. */
async function machineCpu(): Promise<{ busy: number; total: number }> {
  const fields = (await readFile('/proc/stat', 'utf8')).split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  // idle and iowait
  return { busy: total - fields[3]! - fields[4]!, total };
}

interface KindRow {
  kind: Kind;
  expected: string;
  checks: number;
  verdicts: number;
  codes: Record<string, number>;
  latenessP50: number;
  latenessP99: number;
  latenessMax: number;
  pass: boolean;
}

async function runBench(): Promise<void> {
  const listeners = fork(fileURLToPath(import.meta.url), ['--listeners'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const [ports] = (await once(listeners, 'message')) as [Ports];
  const { hosts, kinds } = buildHosts(ports);

  const lastStart = new Map<string, number>();
  const driftAll: number[] = [];
  const lateness = new Map<Kind, number[]>(Object.keys(KINDS).map((k) => [k as Kind, []]));
  const kindCodes = new Map<Kind, Record<string, number>>(Object.keys(KINDS).map((k) => [k as Kind, {}]));
  const codes: Record<string, number> = {};
  const monitor = new HealthMonitor(hosts, pino({ level: 'silent' }), {
    started(host, check, intended, actual) {
      lastStart.set(`${host}/${check}`, actual);
      driftAll.push(actual - intended);
    },
    result(host, check, result) {
      const now = performance.now();
      codes[result.code] = (codes[result.code] ?? 0) + 1;
      const key = `${host}/${check}`;
      const kind = kinds.get(key);
      if (kind === undefined) return;
      const counts = kindCodes.get(kind)!;
      counts[result.code] = (counts[result.code] ?? 0) + 1;
      if (result.code.endsWith('-timeout')) lateness.get(kind)!.push(now - (lastStart.get(key)! + TIMEOUT));
    },
  });

  // The loop's own delay: how late any timer of this process ran, checks or not (the machine's noise).
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  const machineBefore = await machineCpu();
  const loadBefore = loadavg();
  const cpuBefore = process.cpuUsage();
  const wallBefore = performance.now();
  loopDelay.enable();
  monitor.start();
  await new Promise((resolve) => setTimeout(resolve, DURATION));
  await monitor.close();
  loopDelay.disable();
  const wall = performance.now() - wallBefore;
  const cpu = process.cpuUsage(cpuBefore);
  const machineAfter = await machineCpu();
  const loadAfter = loadavg();
  const cpuPercent = ((cpu.user + cpu.system) / 1000 / wall) * 100;
  const machineBusy = ((machineAfter.busy - machineBefore.busy) / (machineAfter.total - machineBefore.total)) * 100;

  const listenerPid = listeners.pid;
  listeners.kill('SIGTERM');
  await once(listeners, 'exit');
  const left = (await childProcesses()).filter((pid) => pid !== listenerPid);

  const rows: KindRow[] = (Object.entries(KINDS) as [Kind, string][]).map(([kind, expected]) => {
    const values = lateness.get(kind)!;
    const kindCounts = kindCodes.get(kind)!;
    const p99 = round(percentile(values, 0.99), 2);
    return {
      kind,
      expected,
      checks: [...kinds.values()].filter((k) => k === kind).length,
      verdicts: Object.values(kindCounts).reduce((a, b) => a + b, 0),
      codes: kindCounts,
      latenessP50: round(percentile(values, 0.5), 2),
      latenessP99: p99,
      latenessMax: round(Math.max(...values), 2),
      // Every verdict of the kind is its timeout, and on time.
      pass: p99 <= TARGETS.latenessP99 && Object.keys(kindCounts).every((code) => code === expected),
    };
  });
  const measured = {
    driftP50: round(percentile(driftAll, 0.5), 2),
    driftP99: round(percentile(driftAll, 0.99), 2),
    driftMax: round(Math.max(...driftAll), 2),
    latenessP99: Math.max(...rows.map((r) => r.latenessP99)),
    cpuPercent: round(cpuPercent),
    processesLeft: left.length,
  };
  const verdicts = {
    driftP99: measured.driftP99 <= TARGETS.driftP99,
    latenessP99: rows.every((r) => r.pass),
    cpuPercent: measured.cpuPercent <= TARGETS.cpuPercent,
    processesLeft: measured.processesLeft <= TARGETS.processesLeft,
  };
  const machine = { node: process.version, cpus: availableParallelism(), cpuModel: cpus()[0]?.model ?? 'unknown', platform: `${process.platform} ${process.arch}` };
  const load = {
    machineBusyPercent: round(machineBusy),
    loadavg1Before: round(loadBefore[0]!, 2),
    loadavg1After: round(loadAfter[0]!, 2),
    nice: getPriority(),
    // The scheduler shares CPU between sessions first (autogroups); a session's nice is set here.
    autogroup: (await readFile('/proc/self/autogroup', 'utf8').catch(() => 'none')).trim(),
    // Beyond the 10 ms sampling interval, in ms.
    loopDelayP50: round(Math.max(0, loopDelay.percentile(50) / 1e6 - 10), 2),
    loopDelayP99: round(Math.max(0, loopDelay.percentile(99) / 1e6 - 10), 2),
    loopDelayMax: round(Math.max(0, loopDelay.max / 1e6 - 10), 2),
  };
  const all = hosts.flatMap((h) => h.checks);
  const runs = driftAll.length;
  const report = {
    run: new Date().toISOString(),
    mode: quick ? 'quick' : 'full',
    machine,
    load,
    workload: {
      hosts: HOSTS,
      checks: all.length,
      tcp: all.filter((c) => c.type === 'tcp').length,
      http: all.filter((c) => c.type === 'http').length,
      https: all.filter((c) => c.type === 'https').length,
      silent: kinds.size,
      intervalMs: INTERVAL,
      timeoutMs: TIMEOUT,
      jitterMs: JITTER,
      durationMs: round(wall, 0),
    },
    runs,
    codes,
    kinds: rows,
    measured,
    targets: TARGETS,
    verdicts,
  };
  const mark = (ok: boolean) => (ok ? 'PASS' : 'FAIL');
  const md = `# Health engine benchmark

Run: ${report.run}, ${report.mode} mode, ${round(wall / 1000, 1)} s. Machine: Node ${machine.node}, ${machine.cpus} CPUs (${machine.cpuModel}), ${machine.platform}.
Load while it ran: the whole machine ${load.machineBusyPercent} % busy (all CPUs, every process: this benchmark and whatever else ran), load average ${load.loadavg1Before} before, ${load.loadavg1After} after; this process's nice value ${load.nice}, its session's scheduling group \`${load.autogroup}\`.
The event loop's own delay (\`monitorEventLoopDelay\`, how late a 10 ms timer ran): p50 ${load.loopDelayP50} ms, p99 ${load.loopDelayP99} ms, max ${load.loopDelayMax} ms. Timer lateness the machine imposes on any code in this process; a check's lateness cannot be below it.

Workload: the real \`HealthMonitor\` with ${HOSTS} hosts x ${CHECKS_PER_HOST} checks = ${report.workload.checks} checks (${report.workload.tcp} TCP, ${report.workload.http} HTTP, ${report.workload.https} HTTPS, each HTTP(S) check with a fresh connection per run), interval ${INTERVAL} ms, timeout ${TIMEOUT} ms, jitter ${JITTER} ms.
Three checks per host (${kinds.size} in all) are silent, 50 of each kind below: a loopback listener that accepts and never answers, or an address in the benchmark's network namespace whose packets an nft rule drops (no SYN-ACK ever comes).
Listeners run in a separate process; CPU is this process's alone (\`process.cpuUsage\` over wall time).
${runs} check runs; result codes: ${Object.entries(codes).map(([code, n]) => `${code} ${n}`).join(', ')}.

| measure | measured | target | verdict |
|---|---:|---:|---|
| scheduling drift p50 (actual - intended start) | ${measured.driftP50} ms | - | - |
| scheduling drift p99 | ${measured.driftP99} ms | <= ${TARGETS.driftP99} ms | ${mark(verdicts.driftP99)} |
| timeout verdict lateness p99, worst kind (verdict - (start + timeout)) | ${measured.latenessP99} ms | <= ${TARGETS.latenessP99} ms each kind | ${mark(verdicts.latenessP99)} |
| CPU, % of one core | ${measured.cpuPercent} % | <= ${TARGETS.cpuPercent} % | ${mark(verdicts.cpuPercent)} |
| child processes left after close() | ${measured.processesLeft} | ${TARGETS.processesLeft} | ${mark(verdicts.processesLeft)} |

Timeout verdicts per silent kind (each must end in its phase's code, with lateness p99 <= ${TARGETS.latenessP99} ms):

| kind | checks | verdicts | codes | lateness p50 | p99 | max | verdict |
|---|---:|---:|---|---:|---:|---:|---|
${rows.map((r) => `| ${r.kind} | ${r.checks} | ${r.verdicts} | ${Object.entries(r.codes).map(([c, n]) => `${c} ${n}`).join(', ')} | ${r.latenessP50} ms | ${r.latenessP99} ms | ${r.latenessMax} ms | ${mark(r.pass)} |`).join('\n')}

Before the fix (issue 17) an http(s) check of a dropped address ended at undici's own connect timeout, 10 s, whatever its \`timeout\`; the accepting-but-silent targets this benchmark had did not show it.
TCP and HTTP checks start no processes, so the last row of the first table shows only that the engine itself leaves none; exec checks' process groups are proven gone by test/health/exec-check.test.ts.
Drift can be slightly negative: Node computes timer expiry from the event loop's cached millisecond clock, so a run may start up to 1 ms before \`performance.now()\` says it was due.
Drift counts every run, first runs included (\`start()\` spreads each check's first run over one interval, so the ${report.workload.checks} checks do not all fire at once). Drift max ${measured.driftMax} ms.
`;
  const dir = new URL('results/', import.meta.url);
  await writeFile(new URL('health.json', dir), `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(new URL('health.md', dir), md);
  process.stdout.write(md);
}

/** Runs the benchmark in a namespace of its own, where SILENT4 drops every packet; removes it after. */
async function runInNamespace(): Promise<void> {
  const silent = await createSilentNet('bh');
  try {
    const args = [fileURLToPath(import.meta.url), '--inside', ...process.argv.slice(2)];
    const [command, ...rest] = Lab.inside(silent.ns, [process.execPath, ...args]);
    const child = execa(command!, rest, { stdio: 'inherit', reject: false });
    silent.lab.track(child.pid);
    const r = await child;
    silent.lab.untrack(child.pid);
    if (r.exitCode !== 0) process.exitCode = r.exitCode ?? 1;
  } finally {
    await silent.lab.destroy();
  }
}

if (process.argv.includes('--listeners')) await serveListeners();
else if (process.argv.includes('--inside')) await runBench();
else await runInNamespace();
