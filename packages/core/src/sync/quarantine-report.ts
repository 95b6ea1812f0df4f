import type { LogOnce } from '../model/log-once.js';
import type { QuarantinedMember } from '../model/quarantine.js';
import type { Logger } from '../util/log.js';
import type { Metrics } from '../util/metrics.js';

/**
 * Logs each quarantined member once per reason (not on every render), counts it by kind, and
 * sets the cluster's gauge of members left out.
 */
export function reportQuarantine(cluster: string, quarantined: readonly QuarantinedMember[], logger: Logger, metrics?: Metrics, once?: LogOnce): void {
  for (const q of quarantined) {
    if (once && !once.first(`quarantine:${q.key}:${q.reason}`)) continue;
    logger.warn(`${cluster}: member ${q.name} quarantined (${q.kind}): ${q.reason}; left out of the file until its value changes (key ${JSON.stringify(q.key)})`);
    metrics?.inc('cluster_control_quarantines_total', { cluster, kind: q.kind });
  }
  metrics?.set('cluster_control_quarantined_members', quarantined.length, { cluster });
}
