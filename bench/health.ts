/**
 * `npm run bench:health [-- --quick]`: the real HealthMonitor running 1000 checks at a 1 s
 * interval for 30 s (10 s with --quick). Half TCP, half HTTP against loopback listeners; a tenth
 * against a listener that accepts and never answers, so they end in `timeout`. Reports
 * scheduling drift (actual start minus intended start, from the monitor's `started` observer),
 * timeout-verdict lateness (verdict time minus start + timeout), this process's CPU, and the
 * child processes left once the monitor is closed. Writes bench/results/health.{md,json}.
 *
 * The listeners run in a child process (this file with --listeners) so their CPU is not
 * counted as the health engine's.
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { availableParallelism, cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import type { Check, Host } from '../src/config/model.ts';
import { HealthMonitor } from '../src/health/monitor.ts';
import { parseAddress } from '../src/net/address.ts';

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

function buildHosts(ports: Ports): Host[] {
  const address = parseAddress('127.0.0.1')!;
  const timing = { interval: INTERVAL, timeout: TIMEOUT, rise: 2, fall: 3, fastinter: INTERVAL, downinter: INTERVAL, jitter: JITTER };
  const hosts: Host[] = [];
  for (let h = 0; h < HOSTS; h++) {
    const checks: Check[] = [];
    for (let i = 0; i < CHECKS_PER_HOST; i++) {
      const name = `c${i}`;
      const silent = i === CHECKS_PER_HOST - 1;
      const tcp = (h + i) % 2 === 0;
      if (tcp) {
        checks.push({ ...timing, name, type: 'tcp', address, port: silent ? ports.silent : ports.tcp, ...(silent ? { send: 'PING\n', expect: 'PONG' } : {}) });
      } else {
        checks.push({ ...timing, name, type: 'http', address, port: silent ? ports.silent : ports.http, path: '/', method: 'GET', expectStatus: [200], tlsVerify: true, fresh: true });
      }
    }
    hosts.push({ name: `h${String(h).padStart(3, '0')}`, weight: 1, targets: {}, checks });
  }
  return hosts;
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

async function runBench(): Promise<void> {
  const listeners = fork(fileURLToPath(import.meta.url), ['--listeners'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const [ports] = (await once(listeners, 'message')) as [Ports];
  const hosts = buildHosts(ports);

  const lastStart = new Map<string, number>();
  const driftAll: number[] = [];
  const lateness: number[] = [];
  const codes: Record<string, number> = {};
  const monitor = new HealthMonitor(hosts, pino({ level: 'silent' }), {
    started(host, check, intended, actual) {
      const key = `${host}/${check}`;
      lastStart.set(key, actual);
      driftAll.push(actual - intended);
    },
    result(host, check, result) {
      const now = performance.now();
      codes[result.code] = (codes[result.code] ?? 0) + 1;
      if (result.code === 'timeout') lateness.push(now - (lastStart.get(`${host}/${check}`)! + TIMEOUT));
    },
  });

  const cpuBefore = process.cpuUsage();
  const wallBefore = performance.now();
  monitor.start();
  await new Promise((resolve) => setTimeout(resolve, DURATION));
  await monitor.close();
  const wall = performance.now() - wallBefore;
  const cpu = process.cpuUsage(cpuBefore);
  const cpuPercent = ((cpu.user + cpu.system) / 1000 / wall) * 100;

  const listenerPid = listeners.pid;
  listeners.kill('SIGTERM');
  await once(listeners, 'exit');
  const left = (await childProcesses()).filter((pid) => pid !== listenerPid);

  const measured = {
    driftP50: round(percentile(driftAll, 0.5), 2),
    driftP99: round(percentile(driftAll, 0.99), 2),
    driftMax: round(Math.max(...driftAll), 2),
    latenessP50: round(percentile(lateness, 0.5), 2),
    latenessP99: round(percentile(lateness, 0.99), 2),
    latenessMax: round(Math.max(...lateness), 2),
    cpuPercent: round(cpuPercent),
    processesLeft: left.length,
  };
  const verdicts = {
    driftP99: measured.driftP99 <= TARGETS.driftP99,
    latenessP99: measured.latenessP99 <= TARGETS.latenessP99,
    cpuPercent: measured.cpuPercent <= TARGETS.cpuPercent,
    processesLeft: measured.processesLeft <= TARGETS.processesLeft,
  };
  const machine = { node: process.version, cpus: availableParallelism(), cpuModel: cpus()[0]?.model ?? 'unknown', platform: `${process.platform} ${process.arch}` };
  const runs = driftAll.length;
  const report = {
    run: new Date().toISOString(),
    mode: quick ? 'quick' : 'full',
    machine,
    workload: { hosts: HOSTS, checks: HOSTS * CHECKS_PER_HOST, tcp: hosts.flatMap((h) => h.checks).filter((c) => c.type === 'tcp').length, http: hosts.flatMap((h) => h.checks).filter((c) => c.type === 'http').length, silent: HOSTS, intervalMs: INTERVAL, timeoutMs: TIMEOUT, jitterMs: JITTER, durationMs: round(wall, 0) },
    runs,
    codes,
    measured,
    targets: TARGETS,
    verdicts,
  };
  const mark = (ok: boolean) => (ok ? 'PASS' : 'FAIL');
  const md = `# Health engine benchmark

Run: ${report.run}, ${report.mode} mode, ${round(wall / 1000, 1)} s. Machine: Node ${machine.node}, ${machine.cpus} CPUs (${machine.cpuModel}), ${machine.platform}.

Workload: the real \`HealthMonitor\` with ${HOSTS} hosts x ${CHECKS_PER_HOST} checks = ${report.workload.checks} checks (${report.workload.tcp} TCP, ${report.workload.http} HTTP with a fresh connection each), interval ${INTERVAL} ms, timeout ${TIMEOUT} ms, jitter ${JITTER} ms.
One check per host (${HOSTS} in all, half TCP with \`expect\`, half HTTP) points at a listener that accepts and never answers, so it ends in \`timeout\`.
Listeners run in a separate process; CPU is this process's alone (\`process.cpuUsage\` over wall time).
${runs} check runs; result codes: ${Object.entries(codes).map(([code, n]) => `${code} ${n}`).join(', ')}.

| measure | measured | target | verdict |
|---|---:|---:|---|
| scheduling drift p50 (actual - intended start) | ${measured.driftP50} ms | - | - |
| scheduling drift p99 | ${measured.driftP99} ms | <= ${TARGETS.driftP99} ms | ${mark(verdicts.driftP99)} |
| timeout verdict lateness p99 (verdict - (start + timeout)) | ${measured.latenessP99} ms | <= ${TARGETS.latenessP99} ms | ${mark(verdicts.latenessP99)} |
| CPU, % of one core | ${measured.cpuPercent} % | <= ${TARGETS.cpuPercent} % | ${mark(verdicts.cpuPercent)} |
| child processes left after close() | ${measured.processesLeft} | ${TARGETS.processesLeft} | ${mark(verdicts.processesLeft)} |

TCP and HTTP checks start no processes, so the last row shows only that the engine itself leaves none; exec checks' process groups are proven gone by test/health/exec-check.test.ts.
Drift can be slightly negative: Node computes timer expiry from the event loop's cached millisecond clock, so a run may start up to 1 ms before \`performance.now()\` says it was due.
Drift counts every run, first runs included (\`start()\` spreads each check's first run over one interval, so the ${report.workload.checks} checks do not all fire at once). Drift max ${measured.driftMax} ms; lateness p50 ${measured.latenessP50} ms, max ${measured.latenessMax} ms.
`;
  const dir = new URL('results/', import.meta.url);
  await writeFile(new URL('health.json', dir), `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(new URL('health.md', dir), md);
  process.stdout.write(md);
}

if (process.argv.includes('--listeners')) await serveListeners();
else await runBench();
