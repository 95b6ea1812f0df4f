import type { EtcdClient } from '../etcd/connection.js';
import { prefixRange } from '../etcd/key-range.js';
import type { LogOnce } from '../model/log-once.js';
import type { Member } from '../model/member.js';
import { Membership, type MembershipDiagnostics } from '../model/membership.js';
import type { Logger } from '../util/log.js';
import type { Metrics } from '../util/metrics.js';
import { type ClusterTarget, type InstallOutcome, renderAndInstall } from './cluster-target.js';

export interface ClusterRead {
  members: readonly Member[];
  /** The etcd revision the read was served at: hand it to `watch` so nothing after it is lost. */
  revision: bigint;
  diagnostics: MembershipDiagnostics;
}

/** One consistent read of a cluster's members. */
export async function readCluster(etcd: EtcdClient, path: string): Promise<ClusterRead> {
  const res = await etcd.range(prefixRange(path + '/'));
  const membership = new Membership(path);
  const diagnostics = membership.reset(res.kvs);
  return { members: membership.members(), revision: res.revision, diagnostics };
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
