/**
 * A signal that aborts at a deadline or when its parent does, unhooked from the parent once
 * the run is over. Built by hand rather than with AbortSignal.any(): combined with the
 * monitor's long-lived signal, every check run would stay attached to it and the daemon's
 * memory would grow without bound (nodejs/node#55351).
 */
export interface Deadline {
  signal: AbortSignal;
  dispose(): void;
}

export function deadline(parent: AbortSignal, ms: number): Deadline {
  const controller = new AbortController();
  const onParent = (): void => controller.abort(parent.reason);
  const timer = setTimeout(() => controller.abort(new DOMException(`no answer within ${ms} ms`, 'TimeoutError')), ms);
  if (parent.aborted) onParent();
  else parent.addEventListener('abort', onParent, { once: true });
  return {
    signal: controller.signal,
    dispose() {
      clearTimeout(timer);
      parent.removeEventListener('abort', onParent);
    },
  };
}
