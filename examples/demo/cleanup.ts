/**
 * Undo steps run last-in first-out, once, whether the demo ends, fails or is interrupted
 * (Ctrl-C, SIGTERM, SIGHUP).
 */
export class Cleanup {
  readonly #steps: Array<{ what: string; undo: () => Promise<unknown> }> = [];
  #done: Promise<void> | undefined;

  add(what: string, undo: () => Promise<unknown>): void {
    this.#steps.push({ what, undo });
  }

  run(report: (line: string) => void = () => {}): Promise<void> {
    this.#done ??= (async () => {
      for (const step of this.#steps.splice(0).reverse()) {
        try {
          await step.undo();
        } catch (error) {
          report(`cleanup: ${step.what} failed: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
    })();
    return this.#done;
  }

  /** On a signal: clean up, say so, exit 128 + signal number as a shell would report it. */
  onSignals(report: (line: string) => void): void {
    const codes: Record<string, number> = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 };
    for (const [signal, number] of Object.entries(codes)) {
      process.once(signal, () => {
        report(`\n${signal}: stopping the daemon and backends, removing temporary files...`);
        void this.run(report).then(() => {
          report('cleaned up; no real pf was touched.');
          process.exit(128 + number);
        });
      });
    }
  }
}
