/**
 * Prometheus metrics (prom-client: the text format, histograms and a registry are more than
 * worth a dependency). One registry per daemon, so tests can run several.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export function createMetrics() {
  const registry = new Registry();
  const m = {
    registry,
    hostUp: new Gauge({ name: 'pfsteer_host_up', help: 'Host health: 1 up, 0 down, -1 not judged yet', labelNames: ['host'], registers: [registry] }),
    hostDrained: new Gauge({ name: 'pfsteer_host_drained', help: '1 while the host is drained', labelNames: ['host'], registers: [registry] }),
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
    stateFileValid: new Gauge({ name: 'pfsteer_state_file_valid', help: '0 when the state file could not be read at start (drains lost; a copy kept), 1 once it is valid', registers: [registry] }),
    stateWriteFailures: new Counter({ name: 'pfsteer_state_write_failures_total', help: 'Drains and undrains refused because the state file could not be written', registers: [registry] }),
    hookFailures: new Counter({ name: 'pfsteer_hook_failures_total', help: 'Failed on_up/on_down commands', labelNames: ['host'], registers: [registry] }),
  };
  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;
