import { findCluster } from '@cluster-control/core';
import { retryUntil } from '@cluster-control/core/etcd';
import { logDiagnostics, previewCluster, readCluster } from '@cluster-control/core/sync';
import type { CommandContext } from '../context.js';

/**
 * `members <cluster> [--json]`: the members a watcher would write now, one name per line or as
 * JSON with the quarantined ones (over a limit, address not allowed, not resolving, breaking the
 * render) and why.
 */
export async function members(ctx: CommandContext, clusterName: string, options: { json?: boolean; timeout: number }): Promise<number> {
  const cluster = findCluster(ctx.config, clusterName);
  const target = await ctx.target(clusterName);
  const etcd = ctx.etcdClient();
  const read = await retryUntil('members', () => readCluster(etcd, cluster.path, cluster.limits), { timeoutMs: options.timeout, logger: ctx.logger });
  logDiagnostics(cluster.name, cluster.path, read.diagnostics, ctx.logger);
  const preview = await previewCluster(read, target, ctx.logger);
  if (options.json) {
    const list = preview.members.map(({ name, host, port, meta }) => ({ name, host, port: port ?? null, meta }));
    const quarantined = preview.quarantined.map(({ name, key, kind, reason }) => ({ name, key, kind, reason }));
    process.stdout.write(JSON.stringify({ cluster: cluster.name, revision: read.revision.toString(), members: list, quarantined }) + '\n');
  } else {
    process.stdout.write(preview.members.map((m) => m.name + '\n').join(''));
  }
  return 0;
}
