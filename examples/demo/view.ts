/**
 * The live view: buckets per host as the daemon reports them. On a terminal the block redraws
 * in place and event lines scroll above it; elsewhere (CI, tests, `--quick`) each change is one
 * plain line.
 */
export interface HostStatus {
  name: string;
  state: string;
  drained: boolean;
  buckets: number;
}

export interface DaemonStatus {
  driver: string;
  buckets: number;
  ready: boolean;
  hosts: HostStatus[];
  loads: number;
  lastApply: { loaded: number; failed: number; moves: string; ms: number } | null;
}

function bar(count: number, total: number, width = 32): string {
  const filled = Math.round((count / total) * width);
  return `${'#'.repeat(filled)}${'.'.repeat(width - filled)}`;
}

export function renderBlock(status: DaemonStatus, seconds: number, note: string): string[] {
  const lines = [`  t=${seconds.toFixed(1).padStart(5)} s   ${note}`];
  for (const h of status.hosts) {
    lines.push(`  ${h.name.padEnd(4)} ${h.state.padEnd(7)} ${(h.drained ? 'drained' : '').padEnd(7)} ${String(h.buckets).padStart(3)}  ${bar(h.buckets, status.buckets)}`);
  }
  const last = status.lastApply ? `last apply: ${status.lastApply.loaded} buckets in ${Math.round(status.lastApply.ms)} ms (${status.lastApply.moves})` : 'nothing applied yet';
  lines.push(`  buckets applied so far: ${status.loads}; ${last}`);
  return lines;
}

export function renderLine(status: DaemonStatus, seconds: number): string {
  const hosts = status.hosts.map((h) => `${h.name} ${h.state}${h.drained ? ' drained' : ''} ${h.buckets}`).join(' | ');
  return `  [${seconds.toFixed(1).padStart(5)} s] ${hosts}  (buckets applied ${status.loads})`;
}

export class LiveView {
  readonly #tty: boolean;
  readonly #out: NodeJS.WriteStream;
  readonly #started = performance.now();
  #drawn = 0;
  #lastLine = '';
  #status: DaemonStatus | undefined;
  #note = '';

  constructor(out: NodeJS.WriteStream, tty: boolean) {
    this.#out = out;
    this.#tty = tty;
  }

  seconds(): number {
    return (performance.now() - this.#started) / 1000;
  }

  #clear(): void {
    if (this.#drawn > 0) this.#out.write(`\x1b[${this.#drawn}A\x1b[0J`);
    this.#drawn = 0;
  }

  #draw(): void {
    if (!this.#status) return;
    const lines = renderBlock(this.#status, this.seconds(), this.#note);
    this.#out.write(`${lines.join('\n')}\n`);
    this.#drawn = lines.length;
  }

  /** A line that stays, printed above the live block. */
  say(text: string): void {
    if (this.#tty) this.#clear();
    this.#out.write(`${text}\n`);
    if (this.#tty) this.#draw();
  }

  note(text: string): void {
    this.#note = text;
    if (this.#tty) {
      this.#clear();
      this.#draw();
    }
  }

  update(status: DaemonStatus): void {
    this.#status = status;
    if (this.#tty) {
      this.#clear();
      this.#draw();
      return;
    }
    const line = renderLine(status, this.seconds());
    const key = line.replace(/^ {2}\[[^\]]*\]/, '');
    if (key !== this.#lastLine) this.#out.write(`${line}\n`);
    this.#lastLine = key;
  }

  /** Leaves the last block on screen and stops redrawing it. */
  freeze(): void {
    this.#drawn = 0;
  }
}
