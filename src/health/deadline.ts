/**
 * A signal that aborts at a deadline or when its parent does, unhooked from the parent once
 * the run is over. Built by hand rather than with AbortSignal.any(): combined with the
 * monitor's long-lived signal, every check run would stay attached to it and the daemon's
 * memory would grow without bound (nodejs/node#55351).
 *
 * The deadline is `ms` after the call, the run's start, for every phase of the run. It aborts one
 * turn of the event loop after its timer: when the loop was held up, timers run before the I/O
 * that waited meanwhile, and an answer that reached the process in time would be judged late.
 */
export interface Deadline {
  signal: AbortSignal;
  dispose(): void;
}

/**
 * What every deadline aborts with. Nothing reads more than its name, and one made per run would
 * capture a stack each time (hundreds a second when hosts are silent).
 */
const DEADLINE_PASSED = new DOMException("the run's deadline passed", 'TimeoutError');

export function deadline(parent: AbortSignal, ms: number): Deadline {
  const controller = new AbortController();
  const onParent = (): void => controller.abort(parent.reason);
  const expire = () => controller.abort(DEADLINE_PASSED);
  let pending: NodeJS.Immediate | undefined;
  const timer = setTimeout(() => (pending = setImmediate(expire)), ms);
  if (parent.aborted) onParent();
  else parent.addEventListener('abort', onParent, { once: true });
  return {
    signal: controller.signal,
    dispose() {
      clearTimeout(timer);
      clearImmediate(pending);
      parent.removeEventListener('abort', onParent);
    },
  };
}
