/**
 * Prometheus metrics (prom-client: the text format, histograms and a registry are more than
 * worth a dependency). One registry per daemon, so tests can run several.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * What the pair gauges show, read at every scrape so they can never lag the daemon: the
 * mapping's digest, the hosts the mapping may use, and every drain with its source.
 */
export interface SteeringView {
  digest: string;
  hosts: ReadonlyArray<{ name: string; eligible: boolean; drains: ReadonlyArray<{ source: string; since: number }>; drainStates?: number }>;
}

export function createMetrics(view?: () => SteeringView) {
  const registry = new Registry();
  // A scrape sets these from the view; without one (tests of other parts) they stay empty.
  const fromView = <T extends string>(fill: (gauge: Gauge<T>, v: SteeringView) => void) =>
    function collect(this: Gauge<T>): void {
      if (!view) return;
      this.reset();
      fill(this, view());
    };
  const m = {
    registry,
    hostUp: new Gauge({ name: 'pfsteer_host_up', help: 'Host health: 1 up, 0 down, -1 not judged yet', labelNames: ['host'], registers: [registry] }),
    hostDrained: new Gauge({
      name: 'pfsteer_host_drained',
      help: '1 while the host is drained (by the config or at run time)',
      labelNames: ['host'],
      registers: [registry],
      collect: fromView((g, v) => v.hosts.forEach((h) => g.set({ host: h.name }, h.drains.length > 0 ? 1 : 0))),
    }),
    mappingInfo: new Gauge({
      name: 'pfsteer_mapping_info',
      help: 'Digest of the mapping the filter holds (every bucket\'s owner, B, seed, partition): the two firewalls of a pair steer alike when theirs are equal',
      labelNames: ['digest'],
      registers: [registry],
      collect: fromView((g, v) => g.set({ digest: v.digest }, 1)),
    }),
    hostEligible: new Gauge({
      name: 'pfsteer_host_eligible',
      help: 'The healthy set: 1 when the mapping may use the host (not down, not drained), else 0',
      labelNames: ['host'],
      registers: [registry],
      collect: fromView((g, v) => v.hosts.forEach((h) => g.set({ host: h.name }, h.eligible ? 1 : 0))),
    }),
    drainSince: new Gauge({
      name: 'pfsteer_drain_since_seconds',
      help: 'Unix time each drain began, by source: config (hosts.NAME.drain, both firewalls) or runtime (pfsteer drain, this firewall)',
      labelNames: ['host', 'source'],
      registers: [registry],
      collect: fromView((g, v) => v.hosts.forEach((h) => h.drains.forEach((d) => g.set({ host: h.name, source: d.source }, d.since / 1000)))),
    }),
    drainStates: new Gauge({
      name: 'pfsteer_drain_states',
      help: 'Filter states left to a drained host at the last count; 0 when it can be serviced',
      labelNames: ['host'],
      registers: [registry],
      collect: fromView((g, v) => v.hosts.forEach((h) => h.drainStates !== undefined && g.set({ host: h.name }, h.drainStates))),
    }),
    bucketsPerHost: new Gauge({ name: 'pfsteer_buckets', help: 'Buckets each host owns in the filter', labelNames: ['host'], registers: [registry] }),
    checkDuration: new Histogram({
      name: 'pfsteer_check_duration_seconds',
      help: 'Duration of health checks',
      labelNames: ['host', 'check'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    checkFailures: new Counter({ name: 'pfsteer_check_failures_total', help: 'Failed health checks by result code', labelNames: ['host', 'check', 'code'], registers: [registry] }),
    transitions: new Counter({ name: 'pfsteer_transitions_total', help: 'Host state transitions', labelNames: ['host', 'to'], registers: [registry] }),
    applyDuration: new Histogram({ name: 'pfsteer_apply_duration_seconds', help: 'Duration of one reconcile pass that loaded anchors', buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [registry] }),
    anchorLoads: new Counter({ name: 'pfsteer_anchor_loads_total', help: 'Bucket loads by outcome', labelNames: ['outcome'], registers: [registry] }),
    driverErrors: new Counter({ name: 'pfsteer_driver_errors_total', help: 'Failed driver calls (pfctl or nft)', labelNames: ['operation'], registers: [registry] }),
    driftRepairs: new Counter({ name: 'pfsteer_drift_repairs_total', help: 'Buckets found changed behind pfsteer and repaired', registers: [registry] }),
    pendingRetries: new Gauge({ name: 'pfsteer_pending_retries', help: 'Buckets waiting for a retry after a failed load', registers: [registry] }),
    hookFailures: new Counter({ name: 'pfsteer_hook_failures_total', help: 'Failed on_up/on_down commands', labelNames: ['host'], registers: [registry] }),
  };
  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;
