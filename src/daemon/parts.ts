/** The real parts the daemon runs with: the configured driver and the health monitor. */
import type { Logger } from 'pino';
import type { Config } from '../config/model.ts';
import type { Driver } from '../drivers/driver.ts';
import { MemoryDriver } from '../drivers/memory.ts';
import { HealthMonitor } from '../health/monitor.ts';
import { NftDriver } from '../nft/driver.ts';
import { PfDriver } from '../pf/driver.ts';
import type { DaemonParts } from './daemon.ts';
import type { Metrics } from './metrics.ts';

export function createDriver(config: Config): Driver {
  switch (config.driver) {
    case 'nft':
      return new NftDriver(config);
    case 'memory':
      return new MemoryDriver();
    case 'pf':
      return new PfDriver(config);
  }
}

export const realParts: DaemonParts = {
  createDriver,
  createHealth(config: Config, logger: Logger, metrics: Metrics) {
    return new HealthMonitor(config.hosts, logger, {
      result(host, check, result) {
        metrics.checkDuration.observe({ host, check }, result.ms / 1000);
        if (!result.ok) metrics.checkFailures.inc({ host, check, code: result.code });
      },
      hookFailed(host) {
        metrics.hookFailures.inc({ host });
      },
    });
  },
};
