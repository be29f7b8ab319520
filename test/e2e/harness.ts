/**
 * The end-to-end testbed: real kernels, real nft, real haproxy, all inside namespaces this
 * process creates and removes.
 *
 *   client (10.100.0.1, 2001:db8:c::1; sources 10.200.0.0/16 and 2001:db8:100::/48)
 *     | c0 -- r0
 *   router (pfsteer's nft table; 10.100.0.254, 2001:db8:c::fe)
 *     | pK -- u0          addRouter: peer router K (10.99.K.2), a CARP peer's daemon, no clients;
 *     |                   it reaches the lbs through the router, so its checks see the same
 *     | rN -- bN          for N = 1..3
 *   lbN (haproxy: web on 10.0.N.2:8080 and [2001:db8:N::2]:80, monitor on :8081, admin socket;
 *        the app behind it answers "lbN")
 *
 * Clients dial 198.51.100.10:80 (IPv4) or [2001:db8:ff::10]:80 (IPv6); only the router's DNAT
 * takes them to a host.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { DEFAULTS } from '../../src/config/defaults.ts';
import type { CheckTiming, Config, KillStatesPolicy } from '../../src/config/model.ts';
import { serializeConfig } from '../../src/config/serialize.ts';
import { parseAddress } from '../../src/net/address.ts';
import { nftTestConfig } from '../nft/config.ts';
import type { ClientRequest, ClientResult } from './client.ts';
import { Lab, requireNetns } from './netns.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const VIP4 = '198.51.100.10';
export const VIP6 = '2001:db8:ff::10';

export interface Backend {
  name: string;
  index: number;
  ns: string;
  v4: string;
  v6: string;
  adminSocket: string;
  haproxy?: ResultPromise;
}

function haproxyConfig(b: Backend): string {
  return `global
    stats socket ${b.adminSocket} mode 600 level admin
defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
frontend health
    bind ${b.v4}:8081
    monitor-uri /haproxy_check
    monitor fail if { nbsrv(signal) lt 1 } || { nbsrv(app) lt 1 }
frontend web
    bind ${b.v4}:8080
    bind [${b.v6}]:80
    default_backend app
backend signal
    server switch 127.0.0.1:9
backend app
    server app 127.0.0.1:9000
`;
}

/** Waits until `probe` holds, checking every 50 ms, for at most `ms`. */
export async function waitFor(what: string, ms: number, probe: () => Promise<boolean>): Promise<void> {
  const deadline = performance.now() + ms;
  for (;;) {
    if (await probe()) return;
    if (performance.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export class Testbed {
  readonly lab: Lab;
  readonly client: string;
  readonly router: string;
  readonly backends: Backend[];
  readonly dir: string;
  /** More haproxy configuration for a backend, appended at every (re)start (e.g. a TLS frontend). */
  haproxyExtra: ((b: Backend) => string) | undefined;
  private uplinks = 0;

  private constructor(lab: Lab, client: string, router: string, backends: Backend[], dir: string) {
    this.lab = lab;
    this.client = client;
    this.router = router;
    this.backends = backends;
    this.dir = dir;
  }

  static async create(tag: string, hosts = 3): Promise<Testbed> {
    await requireNetns();
    const which = await execa('sh', ['-c', 'command -v haproxy'], { reject: false });
    if (which.exitCode !== 0) throw new Error('the e2e tests need haproxy on PATH (apt-get install haproxy)');
    const lab = new Lab(tag);
    const dir = await mkdtemp(path.join(tmpdir(), 'pfsteer-e2e-'));
    const bed = new Testbed(lab, '', '', [], dir);
    try {
      return await bed.build(hosts);
    } catch (error) {
      await bed.destroy();
      throw error;
    }
  }

  private async build(hosts: number): Promise<Testbed> {
    const { lab } = this;
    const client = await lab.netns('c');
    const router = await lab.netns('r');
    Object.assign(this, { client, router });
    const x = (ns: string, ...argv: string[]) => lab.exec(ns, argv);
    await x(client, 'ip', 'link', 'add', 'c0', 'type', 'veth', 'peer', 'name', 'r0', 'netns', router);
    await x(client, 'ip', 'addr', 'add', '10.100.0.1/24', 'dev', 'c0');
    await x(client, 'ip', '-6', 'addr', 'add', '2001:db8:c::1/64', 'dev', 'c0', 'nodad');
    await x(client, 'ip', 'link', 'set', 'c0', 'up');
    await x(client, 'ip', 'route', 'add', '198.51.100.0/24', 'via', '10.100.0.254');
    await x(client, 'ip', '-6', 'route', 'add', '2001:db8:ff::/64', 'via', '2001:db8:c::fe');
    // Every address of these ranges is the client's own, so one process can speak from thousands.
    await x(client, 'ip', 'route', 'add', 'local', '10.200.0.0/16', 'dev', 'lo');
    await x(client, 'ip', '-6', 'route', 'add', 'local', '2001:db8:100::/48', 'dev', 'lo');
    await x(client, 'sysctl', '-q', '-w', 'net.ipv4.ip_nonlocal_bind=1', 'net.ipv6.ip_nonlocal_bind=1');
    await x(router, 'ip', 'addr', 'add', '10.100.0.254/24', 'dev', 'r0');
    await x(router, 'ip', '-6', 'addr', 'add', '2001:db8:c::fe/64', 'dev', 'r0', 'nodad');
    await x(router, 'ip', 'link', 'set', 'r0', 'up');
    await x(router, 'ip', 'route', 'add', '10.200.0.0/16', 'via', '10.100.0.1');
    await x(router, 'ip', '-6', 'route', 'add', '2001:db8:100::/48', 'via', '2001:db8:c::1');
    await x(router, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1');
    for (let n = 1; n <= hosts; n++) {
      const ns = await lab.netns(`b${n}`);
      const b: Backend = { name: `lb${n}`, index: n, ns, v4: `10.0.${n}.2`, v6: `2001:db8:${n}::2`, adminSocket: path.join(this.dir, `lb${n}.sock`) };
      await x(router, 'ip', 'link', 'add', `r${n}`, 'type', 'veth', 'peer', 'name', `b${n}`, 'netns', ns);
      await x(router, 'ip', 'addr', 'add', `10.0.${n}.1/24`, 'dev', `r${n}`);
      await x(router, 'ip', '-6', 'addr', 'add', `2001:db8:${n}::1/64`, 'dev', `r${n}`, 'nodad');
      await x(router, 'ip', 'link', 'set', `r${n}`, 'up');
      await x(ns, 'ip', 'addr', 'add', `${b.v4}/24`, 'dev', `b${n}`);
      await x(ns, 'ip', '-6', 'addr', 'add', `${b.v6}/64`, 'dev', `b${n}`, 'nodad');
      await x(ns, 'ip', 'link', 'set', `b${n}`, 'up');
      await x(ns, 'ip', 'route', 'add', 'default', 'via', `10.0.${n}.1`);
      await x(ns, 'ip', '-6', 'route', 'add', 'default', 'via', `2001:db8:${n}::1`);
      this.backends.push(b);
      await this.startBackend(b);
    }
    await this.warmUp();
    return this;
  }

  /**
   * One exchange across every link and family so neighbour discovery is done before a test
   * counts failures: a SYN lost to an unresolved neighbour costs a full retransmit second.
   */
  private async warmUp(): Promise<void> {
    const curl = (ns: string, url: string) =>
      execa('ip', ['netns', 'exec', ns, 'curl', '-s', '-o', '/dev/null', '--max-time', '2', url], { reject: false });
    await Promise.all([
      curl(this.router, 'http://10.100.0.1:9/'),
      curl(this.router, 'http://[2001:db8:c::1]:9/'),
      ...this.backends.flatMap((b) => [curl(this.router, `http://${b.v4}:8081/haproxy_check`), curl(this.router, `http://[${b.v6}]:80/`)]),
    ]);
  }

  private spawn(ns: string, argv: string[]): ResultPromise {
    const p = execa('ip', ['netns', 'exec', ns, ...argv], { reject: false, stdin: 'ignore' });
    this.lab.track(p.pid);
    return p;
  }

  private async startBackend(b: Backend): Promise<void> {
    const app = this.spawn(b.ns, [process.execPath, path.join(HERE, 'app.ts'), b.name, '127.0.0.1', '9000']);
    await new Promise<void>((resolve, reject) => {
      app.stdout!.once('data', () => resolve());
      void app.then((r) => reject(new Error(`app of ${b.name} exited: ${r.stderr}`)));
    });
    await this.startHaproxy(b);
  }

  /** Starts (or, after `killHaproxy`, restarts) the backend's haproxy and waits for its monitor. */
  async startHaproxy(b: Backend): Promise<void> {
    const cfg = path.join(this.dir, `${b.name}.cfg`);
    await writeFile(cfg, haproxyConfig(b) + (this.haproxyExtra?.(b) ?? ''));
    b.haproxy = this.spawn(b.ns, ['haproxy', '-db', '-f', cfg]);
    await waitFor(`${b.name}'s monitor`, 5000, async () => (await this.monitor(b)) === 200);
  }

  /** Status of the backend's haproxy monitor-uri, 0 when nothing answers. */
  async monitor(b: Backend): Promise<number> {
    const r = await execa('ip', ['netns', 'exec', b.ns, 'curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '1', `http://${b.v4}:8081/haproxy_check`], { reject: false });
    return Number(r.stdout) || 0;
  }

  /** One command on the backend's haproxy admin socket (a file, so reachable from here). */
  admin(b: Backend, command: string): Promise<string> {
    return new Promise((resolve, reject) => {
      let out = '';
      const s = net.connect(b.adminSocket, () => s.end(`${command}\n`));
      s.setEncoding('utf8');
      s.on('data', (d: string) => (out += d));
      s.on('end', () => resolve(out));
      s.on('error', reject);
    });
  }

  /** Kills the backend's haproxy by its PID and waits for it to be gone. */
  async killHaproxy(b: Backend): Promise<void> {
    b.haproxy?.kill('SIGKILL');
    await b.haproxy;
  }

  /** Takes the backend's link down at the router: the host vanishes without a word. */
  async cut(b: Backend): Promise<void> {
    await this.lab.exec(this.router, ['ip', 'link', 'set', `r${b.index}`, 'down']);
  }

  /** A config whose nft driver acts in the router namespace. */
  config(opts: { buckets?: number; seed?: number; router?: string } = {}): Config {
    return nftTestConfig({ table: 'pfsteer', prefix: ['ip', 'netns', 'exec', opts.router ?? this.router], ...opts });
  }

  /**
   * A config for the daemon itself, to run inside a router namespace (so no command prefix):
   * http checks of every backend's monitor-uri with `timing`, its control socket and state file
   * named after `name` in the testbed's directory. States are never killed unless `killStates`
   * says otherwise: with test timeouts this short, a false down on a loaded machine would cut
   * the flows that drain tests hold open.
   */
  daemonConfig(name: string, timing: CheckTiming, opts: { buckets?: number; killStates?: KillStatesPolicy } = {}): Config {
    const base = nftTestConfig({ table: 'pfsteer', prefix: [], ...(opts.buckets === undefined ? {} : { buckets: opts.buckets }) });
    return {
      ...base,
      defaults: timing,
      policy: { ...base.policy, killStatesOnDown: opts.killStates ?? 'never' },
      control: { socket: path.join(this.dir, `${name}.sock`), mode: 0o600 },
      daemon: { ...base.daemon, stateFile: path.join(this.dir, `${name}.state.json`) },
      hosts: base.hosts.map((h) => {
        const b = this.backends.find((x) => x.name === h.name)!;
        return { ...h, checks: [{ ...DEFAULTS.http, ...timing, type: 'http', name: 'haproxy', address: parseAddress(b.v4)!, port: 8081, path: '/haproxy_check', expectStatus: [200] }] };
      }),
    };
  }

  /** Writes `config` as YAML into the testbed's directory; returns its path. */
  async writeConfig(name: string, config: Config): Promise<string> {
    const file = path.join(this.dir, `${name}.yaml`);
    await writeFile(file, serializeConfig(config));
    return file;
  }

  /**
   * Another router namespace (a CARP peer) hanging off the first: it has no clients, and
   * reaches every backend through the first router, so its checks see what the first one's see.
   */
  async addRouter(role: string): Promise<string> {
    const k = ++this.uplinks;
    const ns = await this.lab.netns(role);
    const x = (where: string, ...argv: string[]) => this.lab.exec(where, argv);
    await x(this.router, 'ip', 'link', 'add', `p${k}`, 'type', 'veth', 'peer', 'name', 'u0', 'netns', ns);
    await x(this.router, 'ip', 'addr', 'add', `10.99.${k}.1/30`, 'dev', `p${k}`);
    await x(this.router, 'ip', 'link', 'set', `p${k}`, 'up');
    await x(ns, 'ip', 'addr', 'add', `10.99.${k}.2/30`, 'dev', 'u0');
    await x(ns, 'ip', 'link', 'set', 'u0', 'up');
    await x(ns, 'ip', 'route', 'add', '10.0.0.0/16', 'via', `10.99.${k}.1`);
    for (const b of this.backends) {
      await waitFor(`${b.name}'s monitor from ${role}`, 5000, async () => {
        const r = await execa('ip', ['netns', 'exec', ns, 'curl', '-s', '-o', '/dev/null', '--max-time', '1', `http://${b.v4}:8081/haproxy_check`], { reject: false });
        return r.exitCode === 0;
      });
    }
    return ns;
  }

  /** Runs requests from the client namespace; results in request order. */
  async requests(list: ClientRequest[], concurrency = 32): Promise<ClientResult[]> {
    const r = await execa('ip', ['netns', 'exec', this.client, process.execPath, path.join(HERE, 'client.ts')], {
      input: JSON.stringify({ concurrency, list }),
      reject: false,
    });
    if (r.exitCode !== 0) throw new Error(`client exited ${r.exitCode}: ${r.stderr}`);
    return JSON.parse(r.stdout) as ClientResult[];
  }

  /** Starts requests in the background (e.g. one long request); await the promise for results. */
  startRequests(list: ClientRequest[]): Promise<ClientResult[]> {
    return this.requests(list, list.length);
  }

  async destroy(): Promise<void> {
    await this.lab.destroy();
    await rm(this.dir, { recursive: true, force: true });
  }
}

export function v4Clients(count: number, from = 0): string[] {
  return Array.from({ length: count }, (_, i) => `10.200.${(i + from) >> 8 & 255}.${((i + from) & 255)}`).filter((a) => !a.endsWith('.0'));
}

export function v6Clients(count: number, from = 0): string[] {
  // A zero interface id is the subnet-router anycast address, never a usable source.
  return Array.from({ length: count }, (_, i) => `2001:db8:100:${(i + from).toString(16)}::${((((i + from) * 2654435761) >>> 16) | 1).toString(16)}`);
}

export function web(src: string, path = '/', timeout = 5000): ClientRequest {
  const v6 = src.includes(':');
  return { src, dst: v6 ? VIP6 : VIP4, port: 80, path, timeout };
}
