/**
 * `npm run bench:failover [-- --quick]`: what TLS clients see when a host fails and returns, on
 * real haproxy in network namespaces (test/e2e/harness.ts), steered by the real daemon with the
 * nft driver, for five methods with the same clients in one run:
 *
 *   pfsteer              `pfsteer run`, default policy (kill_states_on_down: unreachable)
 *   pfsteer never        `pfsteer run` with kill_states_on_down: never
 *   maglev owners        the daemon with Maglev's bucket owners (bench/failover-steer.ts), default policy
 *   source-hash          pf's source-hash: hash mod the number of up hosts (no state killing, as pf alone)
 *   round-robin          nft numgen over the up hosts (no state killing)
 *
 * Every method learns of health the same way: the daemon's http check of haproxy's monitor-uri
 * and a tcp check of its web port, fall x interval + timeout = 2 x 250 + 200 ms. (tcp beside
 * http: http checks of a silent host overran their deadline until issue 17's fix; the tcp check
 * alone decides a silent host, the http check a `monitor fail`.)
 *
 * Clients: hundreds of source addresses, each connecting again and again over TLS 1.3, offering
 * its latest session; haproxy terminates TLS with its own ticket keys (haproxy's default), then
 * again with one shared tls-ticket-keys file. Events on lb2: monitor fails (a planned drain),
 * monitor passes, haproxy killed, haproxy back (new keys), host silent (every packet dropped),
 * host back. Writes bench/results/failover.{md,json,svg}.
 */
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import type { CheckTiming, Config, KillStatesPolicy } from '../src/config/model.ts';
import { parseAddress } from '../src/net/address.ts';
import type { LogLine } from '../test/e2e/daemon-process.ts';
import { Testbed, v4Clients, waitFor, type Backend } from '../test/e2e/harness.ts';
import { silence, unsilence } from '../test/e2e/silence.ts';
import type { ConnectionRecord } from './failover-client.ts';
import { renderFailoverChart } from './failover-chart.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const MAIN = path.join(HERE, '../src/cli/main.ts');
const quick = process.argv.includes('--quick');
/** `--only NAME,NAME`: just these methods (a partial run, to try something; it still writes results). */
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1]!.split(',') : undefined;

const TIMING: CheckTiming = { interval: 250, timeout: 200, rise: 2, fall: 2, fastinter: 250, downinter: 250, jitter: 0 };
const DETECT_MS = TIMING.fall * TIMING.interval + TIMING.timeout;
/** The silent-host target: detection, then one SYN retransmit after the move (Linux: 1 s, 3 s...). */
const SILENT_TARGET_MS = DETECT_MS + 3500;
const B = 1024;
const CLIENTS = quick ? 120 : 200;
const HOLDERS = quick ? 12 : 24;
const PAUSE = 1000;
const TIMEOUT = 6000;
const HOLD = 3000;
const SETTLE = 1500;

interface Method {
  name: string;
  steer: 'pfsteer' | 'maglev' | 'modn' | 'round-robin';
  policy: KillStatesPolicy;
}

const METHODS: Method[] = [
  { name: 'pfsteer', steer: 'pfsteer', policy: 'unreachable' },
  { name: 'pfsteer never', steer: 'pfsteer', policy: 'never' },
  { name: 'maglev owners', steer: 'maglev', policy: 'unreachable' },
  { name: 'source-hash', steer: 'modn', policy: 'never' },
  { name: 'round-robin', steer: 'round-robin', policy: 'never' },
];
/** With shared ticket keys the question is only whether stickiness still matters. */
const SHARED_METHODS = ['pfsteer', 'source-hash', 'round-robin'];

type EventKind = 'fail' | 'return';

interface BenchEvent {
  name: string;
  kind: EventKind;
  act(bed: Testbed, b: Backend): Promise<void>;
}

const EVENTS: BenchEvent[] = [
  { name: 'monitor fails (drain)', kind: 'fail', act: async (bed, b) => void (await bed.admin(b, 'disable server signal/switch')) },
  { name: 'monitor passes', kind: 'return', act: async (bed, b) => void (await bed.admin(b, 'enable server signal/switch')) },
  { name: 'haproxy killed', kind: 'fail', act: (bed, b) => bed.killHaproxy(b) },
  { name: 'haproxy back (new keys)', kind: 'return', act: (bed, b) => bed.startHaproxy(b) },
  { name: 'host silent', kind: 'fail', act: (bed, b) => silence(bed.lab, b.ns) },
  { name: 'host back', kind: 'return', act: (bed, b) => unsilence(bed.lab, b.ns) },
];

export interface EventRow {
  keys: 'per-host' | 'shared';
  method: string;
  event: string;
  /** Successful connections that did a full handshake, and the clients that had to. */
  full: number;
  minimum: number;
  ratio: number | null;
  connections: number;
  resumedPct: number;
  failed: number;
  /** Failed connections by cause: errno code, `timeout` (given up), `status-NNN`. */
  errors: Record<string, number>;
  stalled: number;
  /** Time from the event until each affected client had a working connection, ms. */
  recoverP50: number | null;
  recoverP99: number | null;
  recoverMax: number | null;
  unrecovered: number;
  /** Live (holder) connections open at the event that ended in an error. */
  cut: number;
}

interface Timeline {
  records: ConnectionRecord[];
  events: Array<{ name: string; kind: EventKind; at: number }>;
  end: number;
  cross: { offered: number; resumed: number };
  /** The steering process's CPU over the events, % of one core. */
  cpuPercent: number;
  /** How late the client process saw what happened (event-loop delay), ms: the load's noise. */
  clientLag: { p99: number; max: number };
  /** The steering daemon's host transitions and state decisions, in order. */
  verdicts: string[];
}

const log = (text: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${text}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** haproxy's TLS frontend; per-host keys are haproxy's default (random at each start). */
function tlsFrontend(dir: string, shared: () => boolean) {
  return (b: Backend) => `frontend tls
    bind ${b.v4}:8443 ssl crt ${path.join(dir, 'cert.pem')}${shared() ? ` tls-ticket-keys ${path.join(dir, 'ticket.keys')}` : ''}
    default_backend app
`;
}

/** The harness's daemon config, reshaped: one IPv4 service on 443 to each host's TLS port, a tcp check beside the monitor. */
function benchConfig(bed: Testbed, policy: KillStatesPolicy): Config {
  const base = bed.daemonConfig('fo', TIMING, { buckets: B, killStates: policy });
  const web = base.services.find((s) => s.name === 'web')!;
  return {
    ...base,
    services: [{ ...web, ports: [443] }],
    hosts: base.hosts.map((h) => {
      const b = bed.backends.find((x) => x.name === h.name)!;
      const address = parseAddress(b.v4)!;
      return { ...h, targets: { web: { address, port: 8443 } }, checks: [...h.checks, { ...TIMING, type: 'tcp', name: 'web', address, port: 8080 }] };
    }),
  };
}

/** A steering process in the router namespace, its log kept; resolves once it steers. */
async function startSteering(bed: Testbed, method: Method, file: string): Promise<{ child: ResultPromise; lines: LogLine[] }> {
  const argv = method.steer === 'pfsteer' ? [MAIN, 'run', '-c', file] : [path.join(HERE, 'failover-steer.ts'), file, method.steer];
  const child = execa('ip', ['netns', 'exec', bed.router, process.execPath, ...argv], { reject: false, stdin: 'ignore' });
  bed.lab.track(child.pid);
  const lines: LogLine[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      lines.push(JSON.parse(line) as LogLine);
    } catch {
      lines.push({ msg: line });
    }
  });
  let exited = false;
  void child.then(() => (exited = true));
  await waitFor(`${method.name} to steer`, 15_000, async () => {
    if (exited) throw new Error(`${method.name} exited: ${(await child).stderr}`);
    return lines.some((l) => l.msg === 'steering');
  });
  return { child, lines };
}

/** CPU seconds (user + system) a process has used so far, from /proc (clock ticks of 10 ms). */
async function cpuSeconds(pid: number | undefined): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function stopProcess(bed: Testbed, child: ResultPromise): Promise<void> {
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await child;
  clearTimeout(timer);
  bed.lab.untrack(child.pid);
}

/** failover-steer.ts's round-robin table (not imported: that file runs when loaded). */
const RR_TABLE = 'pfsteer_rr';

/** Leaves the router as it was before the method: no steering table, no conntrack entries. */
async function clearRouter(bed: Testbed): Promise<void> {
  for (const table of [['inet', 'pfsteer'], ['ip', RR_TABLE]]) await execa('ip', ['netns', 'exec', bed.router, 'nft', 'delete', 'table', ...table], { reject: false });
  await execa('ip', ['netns', 'exec', bed.router, 'conntrack', '-F'], { reject: false });
}

async function runMethod(bed: Testbed, method: Method, sources: string[], holders: string[]): Promise<Timeline> {
  const file = await bed.writeConfig('fo', benchConfig(bed, method.policy));
  const steering = await startSteering(bed, method, file);
  const client = execa('ip', ['netns', 'exec', bed.client, process.execPath, path.join(HERE, 'failover-client.ts')], {
    input: JSON.stringify({ vip: '198.51.100.10', port: 443, sources, holders, pause: PAUSE, timeout: TIMEOUT, hold: HOLD }),
    reject: false,
  });
  bed.lab.track(client.pid);
  const records: ConnectionRecord[] = [];
  /** Start of each client's latest answered connection. */
  const answered = new Map<string, number>();
  createInterface({ input: client.stdout! }).on('line', (line) => {
    const record = JSON.parse(line) as ConnectionRecord;
    records.push(record);
    if (record.kind === 'short' && record.host !== undefined) answered.set(record.src, Math.max(record.t0, answered.get(record.src) ?? 0));
  });
  const events: Timeline['events'] = [];
  const lb2 = bed.backends[1]!;
  const cpuFrom = { cpu: await cpuSeconds(steering.child.pid), at: performance.now() };
  let cpuPercent = 0;
  try {
    // Every client has a session from its host before the first event.
    await waitFor(`${method.name}: every client answered once`, 30_000, async () => sources.every((c) => answered.has(c)));
    await sleep(PAUSE + SETTLE);
    for (const event of EVENTS) {
      const at = Date.now();
      await event.act(bed, lb2);
      events.push({ name: event.name, kind: event.kind, at });
      // Settled: every client was answered on a connection begun after the steering reacted.
      const reacted = at + (event.kind === 'fail' ? DETECT_MS : TIMING.rise * TIMING.interval) + 500;
      await waitFor(`${method.name}: every client answered after ${event.name}`, 20_000, async () => sources.every((c) => (answered.get(c) ?? 0) >= reacted)).catch(() =>
        log(`  ${event.name}: ${sources.filter((c) => (answered.get(c) ?? 0) < reacted).length} clients not answered within 20 s`),
      );
      await sleep(SETTLE);
      log(`  ${method.name}: ${event.name} done`);
    }
    cpuPercent = (100 * ((await cpuSeconds(steering.child.pid)) - cpuFrom.cpu)) / ((performance.now() - cpuFrom.at) / 1000);
  } finally {
    await stopProcess(bed, client);
    await stopProcess(bed, steering.child);
    await clearRouter(bed);
  }
  // What the daemon saw and did, in order: host transitions (a false down under load shows here) and state decisions.
  const verdicts = steering.lines
    .filter((l) => /^lb\d \w+ -> \w+$/.test(String(l.msg)) || /states of a down host/.test(String(l.msg)))
    .map((l) => (/states/.test(String(l.msg)) ? `${String(l.msg).startsWith('killed') ? 'killed' : 'kept'} (${String(l.reason)})` : `${String(l.msg)}${l.to === 'down' ? ` [${String(l.reason).split(' ').slice(0, 2).join(' ')}]` : ''}`));
  log(`  ${method.name}: ${records.length} connections; ${verdicts.join(', ')}`);
  // Answered connections that offered a session from another host, and those that resumed it.
  const elsewhere = records.filter((r) => r.host !== undefined && r.offered !== undefined && r.offered !== r.host);
  const cross = { offered: elsewhere.length, resumed: elsewhere.filter((r) => r.resumed).length };
  log(`  ${method.name}: ${cross.resumed} of ${cross.offered} sessions offered to another host resumed`);
  const lag = records.find((r) => r.kind === 'lag');
  const clientLag = { p99: lag?.lagP99 ?? NaN, max: lag?.lagMax ?? NaN };
  log(`  ${method.name}: steering process CPU ${cpuPercent.toFixed(1)} % of one core; client event-loop delay p99 ${clientLag.p99.toFixed(0)} ms, max ${clientLag.max.toFixed(0)} ms`);
  return { records, events, end: Date.now(), cross, cpuPercent, clientLag, verdicts };
}

/** Clients whose last answered connection before `at` came from `host`. */
function clientsOn(records: readonly ConnectionRecord[], host: string, at: number): string[] {
  const last = new Map<string, string>();
  for (const r of records) if (r.kind === 'short' && r.host !== undefined && r.t1 < at) last.set(r.src, r.host);
  return [...last].filter(([, h]) => h === host).map(([c]) => c);
}

function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function summarize(keys: EventRow['keys'], method: string, t: Timeline): EventRow[] {
  return t.events.map((event, i) => {
    const until = t.events[i + 1]?.at ?? t.end;
    // Connections that ended in the window: one in flight when the next event strikes is that event's.
    const window = t.records.filter((r) => r.kind === 'short' && r.t1 >= event.at && r.t1 < until);
    const after = window.filter((r) => r.t0 >= event.at);
    const ok = window.filter((r) => r.host !== undefined);
    const affected =
      event.kind === 'fail' ? clientsOn(t.records, 'lb2', event.at) : [...new Set(ok.filter((r) => r.host === 'lb2').map((r) => r.src))];
    const full = ok.filter((r) => r.resumed === false).length;
    // From the client's first attempt after the event until one of its attempts was answered.
    const recover = affected
      .map((c) => {
        const mine = after.filter((r) => r.src === c);
        const answered = mine.find((r) => r.host !== undefined);
        return answered && mine[0] ? answered.t1 - mine[0].t0 : Infinity;
      })
      .sort((a, b) => a - b);
    const finite = recover.filter(Number.isFinite);
    // A live connection is cut by the first event it was open at, however long it took to fail.
    const cut = t.records.filter((r) => r.kind === 'hold' && r.error !== undefined && t.events.find((e) => r.t0 < e.at && e.at < r.t1) === event).length;
    return {
      keys,
      method,
      event: event.name,
      full,
      minimum: affected.length,
      ratio: affected.length === 0 ? null : full / affected.length,
      connections: window.length,
      resumedPct: ok.length === 0 ? 0 : (100 * ok.filter((r) => r.resumed).length) / ok.length,
      failed: window.length - ok.length,
      errors: window.reduce<Record<string, number>>((out, r) => (r.error === undefined ? out : { ...out, [r.error]: (out[r.error] ?? 0) + 1 }), {}),
      stalled: window.filter((r) => (r.connectMs ?? 0) >= 1000).length,
      recoverP50: event.kind === 'fail' ? percentile(finite, 50) : null,
      recoverP99: event.kind === 'fail' ? percentile(finite, 99) : null,
      recoverMax: event.kind === 'fail' && finite.length > 0 ? finite.at(-1)! : null,
      unrecovered: recover.length - finite.length,
      cut,
    };
  });
}

const fmt = (v: number | null, digits = 2) => (v === null ? '-' : v.toFixed(digits));
const sec = (ms: number | null) => (ms === null ? '-' : (ms / 1000).toFixed(2));

function table(rows: EventRow[]): string {
  const out = ['| method | event | full / minimum | resumed % | failed | stalled (SYN retransmit) | to working p50 / p99 / max (s) | cut |', '|---|---|---|---|---|---|---|---|'];
  for (const r of rows) {
    const recover = r.recoverP50 === null ? '-' : `${sec(r.recoverP50)} / ${sec(r.recoverP99)} / ${sec(r.recoverMax)}${r.unrecovered ? ` (+${r.unrecovered} never)` : ''}`;
    const causes = Object.entries(r.errors).map(([code, n]) => `${code} ${n}`).join(', ');
    out.push(`| ${r.method} | ${r.event} | ${r.full} / ${r.minimum} = ${fmt(r.ratio)} | ${r.resumedPct.toFixed(1)} | ${r.failed}${causes ? ` (${causes})` : ''} | ${r.stalled} | ${recover} | ${r.cut} |`);
  }
  return out.join('\n');
}

interface Verdict {
  target: string;
  ok: boolean;
  detail: string;
}

function verdicts(rows: EventRow[]): Verdict[] {
  const perHost = rows.filter((r) => r.keys === 'per-host');
  const of = (method: string, event: string) => perHost.find((r) => r.method === method && r.event === event);
  const drain = of('pfsteer', 'monitor fails (drain)');
  const silent = of('pfsteer', 'host silent');
  const never = of('pfsteer never', 'host silent');
  if (!drain || !silent || !never) return [];
  const ratios = perHost.filter((r) => r.method === 'pfsteer' && r.ratio !== null);
  const worst = Math.max(...ratios.map((r) => r.ratio!));
  return [
    { target: 'planned drain: 0 failed, 0 cut (pfsteer)', ok: drain.failed === 0 && drain.cut === 0, detail: `${drain.failed} failed, ${drain.cut} cut` },
    {
      target: `silent host, default policy: p99 time to a working connection <= fall x interval + timeout + 3.5 s = ${sec(SILENT_TARGET_MS)} s`,
      ok: silent.recoverP99 !== null && silent.recoverP99 <= SILENT_TARGET_MS && silent.unrecovered === 0,
      detail: `p99 ${sec(silent.recoverP99)} s (never: p99 ${sec(never.recoverP99)} s, max ${sec(never.recoverMax)} s)`,
    },
    { target: 'full handshakes / minimum <= 1.02 on every event (pfsteer)', ok: worst <= 1.02, detail: `worst ${worst.toFixed(3)} (${ratios.find((r) => r.ratio === worst)!.event})` },
  ];
}

/** Two checks per host (monitor-uri http, tcp), three hosts. */
const RUNS_PER_SECOND = (3 * 2 * 1000) / TIMING.interval;

const started = Date.now();
const load = loadavg();
const bed = await Testbed.create('fo');
let sharedKeys = false;
try {
  const sources = v4Clients(CLIENTS, 1);
  const holders = v4Clients(HOLDERS, 4001);
  await execa('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', path.join(bed.dir, 'key.pem'), '-out', path.join(bed.dir, 'crt.pem'), '-days', '1', '-subj', '/CN=bench']);
  await execa('sh', ['-c', `cat ${path.join(bed.dir, 'crt.pem')} ${path.join(bed.dir, 'key.pem')} > ${path.join(bed.dir, 'cert.pem')}`]);
  await writeFile(path.join(bed.dir, 'ticket.keys'), `${[0, 1, 2].map(() => randomBytes(48).toString('base64')).join('\n')}\n`);
  bed.haproxyExtra = tlsFrontend(bed.dir, () => sharedKeys);
  const restartAll = async () => {
    for (const b of bed.backends) {
      await bed.killHaproxy(b);
      await bed.startHaproxy(b);
    }
  };
  await restartAll();

  const rows: EventRow[] = [];
  const cross: Record<string, { offered: number; resumed: number }> = {};
  const cpu: Record<string, number> = {};
  const lag: Record<string, { p99: number; max: number }> = {};
  const seen: Record<string, string[]> = {};
  for (const keys of ['per-host', 'shared'] as const) {
    sharedKeys = keys === 'shared';
    if (sharedKeys) await restartAll();
    for (const method of METHODS.filter((m) => (keys === 'per-host' || SHARED_METHODS.includes(m.name)) && (!only || only.includes(m.name)))) {
      log(`${keys} keys: ${method.name}`);
      const timeline = await runMethod(bed, method, sources, holders);
      cross[`${keys} ${method.name}`] = timeline.cross;
      cpu[`${keys} ${method.name}`] = timeline.cpuPercent;
      lag[`${keys} ${method.name}`] = timeline.clientLag;
      seen[`${keys} ${method.name}`] = timeline.verdicts;
      rows.push(...summarize(keys, method.name, timeline));
    }
  }
  const results = verdicts(rows);
  const sum = (keys: string) =>
    Object.entries(cross)
      .filter(([k]) => k.startsWith(keys))
      .reduce((a, [, v]) => ({ offered: a.offered + v.offered, resumed: a.resumed + v.resumed }), { offered: 0, resumed: 0 });
  const [perHost, shared] = [sum('per-host'), sum('shared')];
  results.unshift({
    target: 'per-host keys: no session from one host resumes on another',
    ok: perHost.resumed === 0 && perHost.offered > 0,
    detail: `${perHost.resumed} of ${perHost.offered} sessions offered to another host resumed; with shared keys ${shared.resumed} of ${shared.offered}`,
  });
  const minutes = ((Date.now() - started) / 60_000).toFixed(1);
  const md = `# bench:failover

What TLS clients see when a haproxy host fails and returns: real haproxy 2.6 (TLS 1.3 terminated
by haproxy) in network namespaces, the nft driver, \`pfsteer run\` and, for the reference
methods, the same daemon with a driver that steers their way (\`bench/failover-steer.ts\`).
${CLIENTS} client source addresses each connect again and again (pause ${PAUSE} ms +-20%),
offering the latest TLS session they received; ${HOLDERS} more keep a ${HOLD} ms request open
after another (the live connections an event may cut). A connection is given up after
${TIMEOUT / 1000} s. Every event hits lb2 of 3 hosts; checks are haproxy's monitor-uri (http)
plus a tcp connect to its web port, interval ${TIMING.interval} ms, timeout ${TIMING.timeout} ms,
fall ${TIMING.fall}, rise ${TIMING.rise}: detection ${DETECT_MS} ms. B = ${B}.

Columns, per event (connections that ended between this event and the next):
- **full / minimum**: successful connections that needed a full handshake, against the clients
  that had to: on a failure the clients of lb2, on a return the clients that lb2 serves again.
- **resumed %**: successful connections that resumed their session.
- **failed**: connections that ended in an error or were given up; **stalled**: connections
  whose TCP connect took 1 s or more (a retransmitted SYN).
- **to working**: for each client of lb2 at a failure, the time from its first attempt after
  the event until an attempt was answered (a failed attempt is retried after 200 ms).
- **cut**: holder requests open at the event that ended in an error, or were still open well
  past their due time when the run ended.

Run: ${new Date(started).toISOString()}, ${minutes} min, load average at start ${load.map((l) => l.toFixed(2)).join(' ')}
on ${(await execa('nproc')).stdout} cores shared with other work (8 agents building this project):
the absolute times carry that noise; the ratios and counts much less. The client process's
event-loop delay (how late it saw its sockets' events) p99 / max, ms:
${Object.entries(lag).map(([k, v]) => `${k} ${v.p99.toFixed(0)} / ${v.max.toFixed(0)}`).join(', ')}.

## Targets

| target | result | measured |
|---|---|---|
${results.map((v) => `| ${v.target} | ${v.ok ? 'PASS' : 'FAIL'} | ${v.detail} |`).join('\n')}

![full handshakes over the minimum and time to a working connection, by method and event](failover.svg)

## Cost of the checks

The steering process (the daemon: 3 hosts x 2 checks, each run every ${TIMING.interval} ms,
so ${RUNS_PER_SECOND} check runs a second, plus the events' reconcile passes) used, as % of one
core over its events: ${Object.entries(cpu).map(([k, v]) => `${k} ${v.toFixed(1)} %`).join(', ')}.

## What each daemon saw

Host transitions (with the failing check's code) and state decisions, in order. Six are
expected per run (lb2 down and up three times); more are false downs of a check timing out on
the loaded machine, each of which moves a host's clients twice.

${Object.entries(seen).map(([k, v]) => `- ${k}: ${v.join(', ')}`).join('\n')}

## Per-host ticket keys (haproxy's default)

${table(rows.filter((r) => r.keys === 'per-host'))}

## One shared tls-ticket-keys file on every host

${table(rows.filter((r) => r.keys === 'shared'))}
`;
  const dir = path.join(HERE, 'results');
  await writeFile(path.join(dir, 'failover.md'), md);
  await writeFile(path.join(dir, 'failover.json'), `${JSON.stringify({ started: new Date(started).toISOString(), load, clients: CLIENTS, holders: HOLDERS, timing: TIMING, targets: results, crossHost: cross, steeringCpuPercent: cpu, clientEventLoopDelayMs: lag, daemonVerdicts: seen, rows }, null, 2)}\n`);
  await writeFile(path.join(dir, 'failover.svg'), renderFailoverChart(rows.filter((r) => r.keys === 'per-host'), METHODS.map((m) => m.name), SILENT_TARGET_MS));
  process.stdout.write(`${md}\n`);
} finally {
  await bed.destroy();
}
