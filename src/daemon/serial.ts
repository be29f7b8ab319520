/**
 * Two small ways of keeping the daemon's changes from interleaving: a queue that runs tasks one
 * at a time in call order, and a request that collapses a storm of calls (ten SIGHUPs) into at
 * most one run in progress and one waiting.
 */

/** Runs tasks one at a time, in call order; a failed task does not stop the ones behind it. */
export class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(task);
    this.#tail = result.catch(() => undefined);
    return result;
  }
}

/**
 * At most one run of `task` at a time and at most one waiting: every caller gets the result of
 * a run that began after its call, so a request made during a run is never answered by it.
 */
export class Coalesced<T> {
  readonly #task: () => Promise<T>;
  #running: Promise<T> | undefined;
  #waiting: Promise<T> | undefined;

  constructor(task: () => Promise<T>) {
    this.#task = task;
  }

  request(): Promise<T> {
    if (!this.#running) return this.#start();
    this.#waiting ??= this.#running.then(
      () => this.#next(),
      () => this.#next(),
    );
    return this.#waiting;
  }

  #next(): Promise<T> {
    this.#waiting = undefined;
    return this.#start();
  }

  #start(): Promise<T> {
    const run = this.#task().finally(() => {
      if (this.#running === run) this.#running = undefined;
    });
    this.#running = run;
    return run;
  }
}
