import type { EtcdClient } from '../etcd/types.js';
import { prefixRange } from '../etcd/key-range.js';
import { pagedRange } from '../etcd/paged-range.js';
import { type WatcherStatus, parseWatcherStatus, statusClusterPrefix } from './status-record.js';

/** One cluster's fleet as read from etcd. */
export interface ClusterStatuses {
  /** The newest mod revision of any member key (0: no members), read before the statuses. */
  newestRevision: bigint;
  /** Every live watcher's status (values that are not status records are left out). */
  statuses: WatcherStatus[];
  /** etcd's revision when the statuses were read. */
  revision: bigint;
}

/**
 * Reads what every live watcher of the cluster at `clusterPath` published: the newest change under
 * its member prefix first (a status read after it can only be newer), then its status keys, in
 * pages. Keys deeper than one segment are not this cluster's status keys; values are parsed, never
 * trusted. Used by `cluster-control status` and by applications showing the fleet.
 */
export async function readClusterStatuses(etcd: Pick<EtcdClient, 'range' | 'newestModRevision'>, statusPrefix: string, clusterPath: string): Promise<ClusterStatuses> {
  const newestRevision = await etcd.newestModRevision(prefixRange(clusterPath + '/'));
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
  return { newestRevision, statuses, revision: headerRevision };
}
