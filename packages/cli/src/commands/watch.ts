import { type ClusterControlConfig, ConfigError, findCluster, loadConfig, resolveClusterTarget } from '@cluster-control/core';
import { StatusPublisher } from '@cluster-control/core/status';
import { handleSignals } from '@cluster-control/core/supervisor';
import { aborted, createMetrics, describeError } from '@cluster-control/core/util';
import { builtinHandlers } from '@cluster-control/handlers';
import { type ApplyReport, ClusterWatchers, type WatchSpec } from '../cluster-watchers.js';
import type { CommandContext } from '../context.js';

/** One cluster from a revision (the PHP version's `watch`), or every configured cluster (`--all`). */
export type WatchSelection = { all: true } | { all?: false; cluster: string; revision: bigint; command: string[] };

/**
 * `watch <cluster> <revision> [cmd...]`: apply every change after `revision` to the cluster's
 * file; after each replacement run `cmd` (or the configured `reload`). `watch --all`: the same for
 * every configured cluster, from the current state, each with its configured reload — one daemon
 * for a load balancer following several clusters. Runs until SIGTERM/SIGINT/SIGQUIT; SIGHUP
 * re-reads the configuration file and applies it (an invalid one is logged and the running one
 * kept).
 */
export async function watch(ctx: CommandContext, selection: WatchSelection): Promise<number> {
  // Configuration errors (unknown cluster, bad handler options) end the command before it starts.
  const first = await specsFor(ctx.config, selection);
  let hangups: Promise<void> = Promise.resolve();
  let reread: (() => Promise<void>) | undefined;
  // Installed before anything slow: a SIGHUP while connecting is applied once running, never fatal.
  const shutdown = handleSignals({
    hangup: () => {
      hangups = hangups.then(() => reread?.());
    },
  });
  try {
    const etcd = await ctx.etcd();
    const metrics = createMetrics();
    const { status } = ctx.config;
    // What this watcher applied, for `status` and `run`'s drain (README: Is the fleet in step?);
    // gone with the process.
    const publisher = status ? new StatusPublisher(etcd, { prefix: status.prefix, ttl: status.ttl, command: 'watch', logger: ctx.logger, metrics }) : undefined;
    const watchers = new ClusterWatchers(etcd, { logger: ctx.logger, metrics, status: publisher });
    let running = ctx.config;
    reread = async () => {
      if (shutdown.signal.aborted) return;
      let next: ClusterControlConfig;
      let specs: WatchSpec[];
      try {
        next = await loadConfig({ path: running.sourcePath });
        specs = await specsFor(next, selection);
      } catch (err) {
        const message = err instanceof ConfigError ? err.message : describeError(err);
        ctx.logger.error(`SIGHUP: ${message}; keeping the running configuration`);
        return;
      }
      if (shutdown.signal.aborted) return;
      const report = await watchers.apply(specs);
      const kept = unappliedSections(running, next);
      running = next;
      ctx.logger.info(`SIGHUP: re-read ${next.sourcePath}: ${describeReport(report)}${kept ? `; ${kept} changes take effect on restart` : ''}`);
    };
    await watchers.apply(first);
    await Promise.race([aborted(shutdown.signal), watchers.failed]).finally(async () => {
      await hangups;
      await watchers.stopAll();
      await publisher?.close();
    });
    return 0;
  } finally {
    shutdown.dispose();
  }
}

/** The clusters `selection` follows under `config`, with their targets (handlers loaded, options checked). */
async function specsFor(config: ClusterControlConfig, selection: WatchSelection): Promise<WatchSpec[]> {
  if (selection.all) {
    return Promise.all(config.clusters.map(async (cluster) => ({ cluster, baseDir: config.baseDir, target: await resolveClusterTarget(config, cluster, builtinHandlers), reload: cluster.reload })));
  }
  const cluster = findCluster(config, selection.cluster);
  return [
    {
      cluster,
      baseDir: config.baseDir,
      target: await resolveClusterTarget(config, cluster, builtinHandlers),
      reload: selection.command.length > 0 ? selection.command : cluster.reload,
      // 0 means "from now": read the current state instead of replaying history.
      startRevision: selection.revision > 0n ? selection.revision : undefined,
    },
  ];
}

function describeReport(report: ApplyReport): string {
  const parts = (['started', 'restarted', 'stopped'] as const).filter((k) => report[k].length > 0).map((k) => `${k} ${report[k].join(', ')}`);
  if (report.unchanged.length > 0) parts.push(`${report.unchanged.join(', ')} unchanged`);
  return parts.length > 0 ? parts.join('; ') : 'no clusters';
}

/** The sections a re-read does not apply (the connection and the status publisher are made once). */
function unappliedSections(before: ClusterControlConfig, after: ClusterControlConfig): string | undefined {
  const changed = (['etcd', 'status'] as const).filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
  return changed.length > 0 ? changed.map((k) => `"${k}"`).join(' and ') : undefined;
}
