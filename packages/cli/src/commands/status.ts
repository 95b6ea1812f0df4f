import { type ClusterConfig, type EtcdClient, ConfigError, findCluster } from '@cluster-control/core';
import { retryUntil } from '@cluster-control/core/etcd';
import { MemberHistory, readClusterStatuses } from '@cluster-control/core/status';
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
  // Kept across the reads of --wait: etcd's past revisions, once summarised, never change.
  const histories = new Map(clusters.map((c) => [c.path, new MemberHistory(etcd, c.path)]));
  const read = () => retryUntil('status', () => readFleet(etcd, statusConfig.prefix, clusters, histories), { timeoutMs: Math.max(0, deadline - Date.now()), logger: ctx.logger });

  const first = await read();
  let readings = first.readings;
  const print = (views: ClusterView[]) => process.stdout.write(options.json ? fleetJson(views) : fleetTable(views));
  if (!options.wait) {
    print(readings.map((r) => viewCluster(r, Date.now())));
    return 0;
  }
  const revision = options.revision ?? first.revision;
  ctx.logger.debug(`status: waiting until every watcher of ${clusters.map((c) => c.name).join(', ')} applied revision ${revision}`);
  for (;;) {
    const views = readings.map((r) => viewCluster(r, Date.now()));
    const unchanged = await retryUntil('status', () => unchangedUpTo(readings, revision, histories), { timeoutMs: Math.max(0, deadline - Date.now()), logger: ctx.logger });
    const waiting = holdUps(views, { revision, expect: options.expect, unchanged });
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

/**
 * Each cluster's newest change and its watchers' statuses; `revision`: etcd's revision at the
 * first read (the default of `--wait`).
 */
async function readFleet(
  etcd: EtcdClient,
  prefix: string,
  clusters: readonly ClusterConfig[],
  histories: ReadonlyMap<string, MemberHistory>,
): Promise<{ readings: ClusterReading[]; revision: bigint }> {
  let revision: bigint | undefined;
  const readings: ClusterReading[] = [];
  for (const cluster of clusters) {
    const read = await readClusterStatuses(etcd, prefix, cluster.path, histories.get(cluster.path));
    revision ??= read.members.revision;
    readings.push({ name: cluster.name, path: cluster.path, newestRevision: read.newestRevision, inStep: read.inStep, statuses: read.statuses, membersRevision: read.members.revision });
  }
  return { readings, revision: revision ?? 0n };
}

/**
 * Per cluster: the applied revisions below `revision` whose members are those at `revision`, so
 * that a watcher with nothing to apply up to it counts as there (it writes nothing while its
 * cluster is quiet). A `revision` etcd has not reached yet has no such members.
 */
async function unchangedUpTo(readings: readonly ClusterReading[], revision: bigint, histories: ReadonlyMap<string, MemberHistory>): Promise<Map<string, Set<string>>> {
  const out = new Map<string, Set<string>>();
  for (const reading of readings) {
    const history = histories.get(reading.path);
    if (!history || reading.membersRevision === undefined || revision > reading.membersRevision) continue;
    const at = await history.summaryAt(revision);
    if (!at) continue;
    const below = reading.statuses.map((s) => s.appliedRevision).filter((a) => BigInt(a) < revision);
    out.set(reading.path, await history.inStep(below, at));
  }
  return out;
}
