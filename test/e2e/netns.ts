/**
 * Throwaway network namespaces for tests that need real nft, conntrack and packets. Every name
 * carries this process's PID, so parallel runs never meet, and `destroy` removes everything it
 * made even when a test failed half-way. Missing capabilities fail loudly: a suite that cannot
 * run must not pass.
 */
import { execFileSync } from 'node:child_process';
import { execa } from 'execa';

export class NetnsUnavailable extends Error {}

/** Throws with a clear reason when this machine cannot build namespaces (not root, no netns, no nft). */
export async function requireNetns(): Promise<void> {
  if (process.getuid?.() !== 0) {
    throw new NetnsUnavailable(`these tests need root to create network namespaces; running as uid ${process.getuid?.()}${process.env.CI ? ' (CI)' : ''}`);
  }
  for (const tool of ['ip', 'nft', 'conntrack']) {
    const r = await execa('sh', ['-c', `command -v ${tool}`], { reject: false });
    if (r.exitCode !== 0) throw new NetnsUnavailable(`these tests need ${tool} on PATH (apt-get install nftables conntrack iproute2)`);
  }
}

export async function sh(argv: string[], input?: string): Promise<string> {
  const r = await execa(argv[0]!, argv.slice(1), { reject: false, ...(input === undefined ? {} : { input }) });
  if (r.exitCode !== 0) throw new Error(`${argv.join(' ')} exited ${r.exitCode}: ${r.stderr}`);
  return r.stdout;
}

let counter = 0;
const live = new Set<Lab>();

/**
 * Last resort when the test process ends without `destroy` (an interrupt, a crash): kill what was
 * started and delete the namespaces synchronously, the only way possible in an exit handler.
 */
function cleanUpAtExit(): void {
  for (const lab of live) lab.destroySync();
}
process.once('exit', cleanUpAtExit);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => process.exit(128 + (signal === 'SIGINT' ? 2 : 15)));
}

/** A set of namespaces torn down together. */
export class Lab {
  readonly prefix: string;
  private readonly made: string[] = [];
  private readonly pids: number[] = [];

  constructor(tag: string) {
    this.prefix = `pfs${tag}${process.pid}x${counter++}`;
    live.add(this);
  }

  async netns(role: string): Promise<string> {
    const name = `${this.prefix}${role}`;
    await sh(['ip', 'netns', 'add', name]);
    this.made.push(name);
    await sh(['ip', '-n', name, 'link', 'set', 'lo', 'up']);
    return name;
  }

  /** Command line that runs `argv` inside namespace `ns`. */
  static inside(ns: string, argv: string[]): string[] {
    return ['ip', 'netns', 'exec', ns, ...argv];
  }

  async exec(ns: string, argv: string[], input?: string): Promise<string> {
    return sh(Lab.inside(ns, argv), input);
  }

  /** Remember a process so `destroy` kills it by PID. */
  track(pid: number | undefined): void {
    if (pid !== undefined) this.pids.push(pid);
  }

  /** Forget a process that has exited, so its PID, perhaps reused, is never killed. */
  untrack(pid: number | undefined): void {
    const i = pid === undefined ? -1 : this.pids.indexOf(pid);
    if (i >= 0) this.pids.splice(i, 1);
  }

  destroySync(): void {
    for (const pid of this.pids.splice(0)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const name of this.made.splice(0).reverse()) {
      try {
        execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
      } catch {
        // already gone
      }
    }
    live.delete(this);
  }

  async destroy(): Promise<void> {
    live.delete(this);
    for (const pid of this.pids.splice(0)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const name of this.made.splice(0).reverse()) {
      await execa('ip', ['netns', 'del', name], { reject: false });
    }
  }
}
