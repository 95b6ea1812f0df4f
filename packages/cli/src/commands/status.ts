import { type ClusterConfig, type EtcdClient, ConfigError, findCluster } from '@cluster-control/core';
import { retryUntil } from '@cluster-control/core/etcd';
import { readClusterStatuses } from '@cluster-control/core/status';
import { sleep } from '@cluster-control/core/util';
import type { CommandContext } from '../context.js';
import { UsageError } from '../errors.js';
import { type ClusterReading, type ClusterView, fleetJson, fleetTable, holdUps, viewCluster } from '../fleet-view.js';

export interface StatusOptions {
  json?: boolean;
  wait?: boolean;
  revision?: bigint;
  expect?: number;
  /** Milliseconds. */
  timeout: number;
}

/** How often `--wait` reads the status keys again. */
const POLL_MS = 250;

/**
 * `status [cluster...]` (README: Is the fleet in step?): every live watcher of the named clusters
 * (all configured ones by default) with its state; `--wait` until the fleet applied a revision.
 * Reads only.
 */
export async function status(ctx: CommandContext, names: readonly string[], options: StatusOptions): Promise<number> {
  if (!options.wait && (options.revision !== undefined || options.expect !== undefined)) throw new UsageError('status: --revision and --expect only apply with --wait');
  const statusConfig = ctx.config.status;
  if (!statusConfig) throw new ConfigError(`${ctx.config.sourcePath}: status: false: watchers publish no status, so there is nothing to show (remove "status": false)`);
  const clusters = names.length > 0 ? [...new Set(names)].map((n) => findCluster(ctx.config, n)) : ctx.config.clusters;
  if (clusters.length === 0) throw new ConfigError(`${ctx.config.sourcePath}: no clusters configured`);
  const etcd = ctx.etcdClient();
  const started = Date.now();
  const deadline = started + options.timeout;
  const read = () => retryUntil('status', () => readFleet(etcd, statusConfig.prefix, clusters), { timeoutMs: Math.max(0, deadline - Date.now()), logger: ctx.logger });

  const first = await read();
  let readings = first.readings;
  const print = (views: ClusterView[]) => process.stdout.write(options.json ? fleetJson(views) : fleetTable(views));
  if (!options.wait) {
    print(readings.map((r) => viewCluster(r, Date.now())));
    return 0;
  }
  const goal = { revision: options.revision ?? first.revision, expect: options.expect };
  ctx.logger.debug(`status: waiting until every watcher of ${clusters.map((c) => c.name).join(', ')} applied revision ${goal.revision}`);
  for (;;) {
    const views = readings.map((r) => viewCluster(r, Date.now()));
    const waiting = holdUps(views, goal);
    if (waiting.length === 0) {
      print(views);
      return 0;
    }
    if (Date.now() >= deadline) {
      print(views);
      process.stderr.write(waiting.map((line) => line + '\n').join(''));
      return 1;
    }
    await sleep(Math.min(POLL_MS, Math.max(0, deadline - Date.now())));
    ({ readings } = await read());
  }
}

/** Each cluster's newest change and its watchers' statuses; `revision`: etcd's revision at the first read. */
async function readFleet(etcd: EtcdClient, prefix: string, clusters: readonly ClusterConfig[]): Promise<{ readings: ClusterReading[]; revision: bigint }> {
  let revision: bigint | undefined;
  const readings: ClusterReading[] = [];
  for (const cluster of clusters) {
    const read = await readClusterStatuses(etcd, prefix, cluster.path);
    revision ??= read.revision;
    readings.push({ name: cluster.name, path: cluster.path, newestRevision: read.newestRevision, statuses: read.statuses });
  }
  return { readings, revision: revision ?? 0n };
}
