import { findCluster, logDiagnostics, readCluster, retryUntil } from '@cluster-control/core';
import type { CommandContext } from '../context.js';

/** `members <cluster> [--json]`: the current valid members, one name per line or as JSON. */
export async function members(ctx: CommandContext, clusterName: string, options: { json?: boolean; timeout: number }): Promise<number> {
  const cluster = findCluster(ctx.config, clusterName);
  const etcd = ctx.etcdClient();
  const read = await retryUntil('members', () => readCluster(etcd, cluster.path), { timeoutMs: options.timeout, logger: ctx.logger });
  logDiagnostics(cluster.name, cluster.path, read.diagnostics, ctx.logger);
  if (options.json) {
    const list = read.members.map(({ name, host, port, meta }) => ({ name, host, port: port ?? null, meta }));
    process.stdout.write(JSON.stringify({ cluster: cluster.name, revision: read.revision.toString(), members: list }) + '\n');
  } else {
    process.stdout.write(read.members.map((m) => m.name + '\n').join(''));
  }
  return 0;
}
