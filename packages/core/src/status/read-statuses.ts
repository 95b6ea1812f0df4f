import type { EtcdClient, RangeSummary } from '../etcd/types.js';
import { prefixRange } from '../etcd/key-range.js';
import { pagedRange } from '../etcd/paged-range.js';
import { MemberHistory } from './member-history.js';
import { type MembersNow, type WatcherStatus, parseWatcherStatus, statusClusterPrefix } from './status-record.js';

/** One cluster's fleet as read from etcd. */
export interface ClusterStatuses extends MembersNow {
  /** The revision of the newest change under the member prefix, a put or a removal (0: none yet), read before the statuses. */
  newestRevision: bigint;
  /** The member prefix as read (its revision: etcd's when the read started). */
  members: RangeSummary;
  /** The applied revisions (decimal) of `statuses` whose members are those of `members`. */
  inStep: ReadonlySet<string>;
  /** Every live watcher's status (values that are not status records are left out). */
  statuses: WatcherStatus[];
  /** etcd's revision when the statuses were read. */
  revision: bigint;
}

/**
 * Reads what every live watcher of the cluster at `clusterPath` published: the member prefix first
 * (a status read after it can only be newer), then its status keys (readWatcherStatuses), then which
 * watchers have the members of now (etcd's history of the prefix; see member-history.ts). Pass the same
 * `history` to reads in a loop: what it learnt of past revisions is kept. Used by
 * `cluster-control status` and by applications showing the fleet.
 */
export async function readClusterStatuses(
  etcd: Pick<EtcdClient, 'range' | 'summarize'>,
  statusPrefix: string,
  clusterPath: string,
  history = new MemberHistory(etcd, clusterPath),
): Promise<ClusterStatuses> {
  const members = await history.now();
  const { statuses, revision } = await readWatcherStatuses(etcd, statusPrefix, clusterPath);
  const applied = statuses.map((s) => s.appliedRevision);
  const inStep = await history.inStep(applied, members);
  return { newestRevision: await history.newestChange(members, applied), members, inStep, statuses, revision };
}

/**
 * Every live watcher's status record of the cluster at `clusterPath`, as published, in pages, with
 * etcd's revision of the read. Keys deeper than one segment are not this cluster's status keys;
 * values are parsed, never trusted.
 */
export async function readWatcherStatuses(etcd: Pick<EtcdClient, 'range'>, statusPrefix: string, clusterPath: string): Promise<{ statuses: WatcherStatus[]; revision: bigint }> {
  const keyPrefix = statusClusterPrefix(statusPrefix, clusterPath);
  const statuses: WatcherStatus[] = [];
  const { headerRevision } = await pagedRange(etcd, prefixRange(keyPrefix), {
    onPage: (kvs) => {
      for (const kv of kvs) {
        if (kv.key.slice(keyPrefix.length).includes('/')) continue;
        const status = parseWatcherStatus(kv.value);
        if (status) statuses.push(status);
      }
    },
  });
  return { statuses, revision: headerRevision };
}
