import type { EtcdClient } from '../etcd/connection.js';
import { CompactedError } from '../etcd/errors.js';
import { prefixRange } from '../etcd/key-range.js';
import { pagedRange } from '../etcd/paged-range.js';
import type { LogOnce } from '../model/log-once.js';
import type { MemberLimits } from '../model/member-limits.js';
import type { Member } from '../model/member.js';
import { Membership, type MembershipDiagnostics } from '../model/membership.js';
import type { QuarantinedMember } from '../model/quarantine.js';
import type { Logger } from '../util/log.js';
import type { Metrics } from '../util/metrics.js';
import { type ClusterTarget, type InstallOutcome, renderAndInstall } from './cluster-target.js';

export interface ClusterRead {
  members: readonly Member[];
  /** The etcd revision the read was served at: hand it to `watch` so nothing after it is lost. */
  revision: bigint;
  diagnostics: MembershipDiagnostics;
  /** Keys with a valid name over a cap (`limits`), in member order: not in `members`. */
  quarantined: QuarantinedMember[];
}

/**
 * One consistent read of a cluster's members, in pages at one revision (no response larger
 * than a page, SPEC §7); each page goes into the membership as it arrives, so values over
 * `limits.valueBytes` (or past `limits.clusterBytes`) are dropped at once, never held.
 * Compaction between two pages: read again from the start (up to 3 times).
 */
export async function readCluster(etcd: EtcdClient, path: string, limits?: MemberLimits): Promise<ClusterRead> {
  for (let attempt = 1; ; attempt++) {
    const membership = new Membership(path, limits);
    const reset = membership.beginReset();
    try {
      const { revision } = await pagedRange(etcd, prefixRange(path + '/'), { onPage: (kvs) => reset.add(kvs) });
      const diagnostics = reset.end();
      return { members: membership.members(), revision, diagnostics, quarantined: membershipQuarantine(membership) };
    } catch (err) {
      if (!(err instanceof CompactedError) || attempt >= 3) throw err;
    }
  }
}

/** Logs and counts rejected and nested keys; with `once`, each key only the first time it is seen. */
export function logDiagnostics(
  cluster: string,
  path: string,
  diagnostics: MembershipDiagnostics,
  logger: Logger,
  metrics?: Metrics,
  once?: LogOnce,
): void {
  for (const { key, reason } of diagnostics.rejected) {
    if (once && !once.first(`rejected:${key}`)) continue;
    logger.warn(`${cluster}: ignoring member key ${JSON.stringify(key)}: ${reason}`);
    metrics?.inc('cluster_control_rejected_members_total', { cluster });
  }
  for (const key of diagnostics.nested) {
    if (once && !once.first(`nested:${key}`)) continue;
    logger.info(`${cluster}: ignoring ${JSON.stringify(key)}: not directly under ${path}/`);
  }
}

/** `prepare`: read once, write the file, return the read's revision. */
export async function prepareCluster(
  etcd: EtcdClient,
  target: ClusterTarget,
  logger: Logger,
  metrics?: Metrics,
): Promise<{ revision: bigint; outcome: InstallOutcome; members: readonly Member[] }> {
  const read = await readCluster(etcd, target.path);
  logDiagnostics(target.name, target.path, read.diagnostics, logger, metrics);
  const outcome = await renderAndInstall(target, read.members, logger, metrics);
  return { revision: read.revision, outcome, members: read.members };
}

/** The members a Membership holds back for being over a limit (limits.*), in member order. */
export function membershipQuarantine(membership: Membership): QuarantinedMember[] {
  return membership.quarantined().map((q) => ({ ...q, kind: 'limits' as const }));
}
