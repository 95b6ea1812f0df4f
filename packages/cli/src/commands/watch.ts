import { aborted, ClusterSync, createMetrics, StatusPublisher } from '@cluster-control/core';
import type { CommandContext } from '../context.js';
import { shutdownSignal } from '../signals.js';

/**
 * `watch <cluster> <revision> [cmd...]`: apply every change after `revision` to the cluster's
 * file; after each replacement run `cmd` (or the configured `reload`). Runs until SIGTERM/SIGINT.
 */
export async function watch(ctx: CommandContext, clusterName: string, revision: bigint, command: string[]): Promise<number> {
  const target = await ctx.target(clusterName);
  const cluster = ctx.config.clusters.find((c) => c.name === clusterName)!;
  const shutdown = shutdownSignal();
  try {
    const etcd = await ctx.etcd();
    const metrics = createMetrics();
    const { status } = ctx.config;
    // What this watcher applied, for `status` and `run`'s drain (SPEC §10); gone with the process.
    const publisher = status ? new StatusPublisher(etcd, { prefix: status.prefix, ttl: status.ttl, command: 'watch', logger: ctx.logger, metrics }) : undefined;
    const sync = new ClusterSync(etcd, {
      target,
      reload: command.length > 0 ? command : cluster.reload,
      reloadTimeoutMs: cluster.reloadTimeoutMs,
      reloadMinIntervalMs: cluster.reloadMinIntervalMs,
      wait: cluster.wait,
      // 0 means "from now": read the current state instead of replaying history.
      startRevision: revision > 0n ? revision : undefined,
      logger: ctx.logger,
      metrics,
      status: publisher ?? false,
    });
    const stopped = aborted(shutdown.signal).then(() => sync.stop());
    const synced = sync.start().then(() => ctx.logger.info(`${clusterName}: in sync at revision ${sync.revision}; watching ${target.path}/`));
    await Promise.race([stopped, Promise.all([synced, sync.done()])]);
    await sync.stop();
    await publisher?.close();
    return 0;
  } finally {
    shutdown.dispose();
  }
}
