import { lstat } from 'node:fs/promises';
import { findCluster } from '@cluster-control/core';
import { retryUntil } from '@cluster-control/core/etcd';
import { logDiagnostics, readCluster, renderCluster, reportQuarantine } from '@cluster-control/core/sync';
import type { CommandContext } from '../context.js';
import { WROTE_EMPTY_EXIT_CODE } from './prepare.js';
import { RuntimeError } from '../errors.js';

/**
 * `render <cluster>`: print the bytes prepare would install now (same member filtering and
 * quarantine, the check not run), writing nothing. stdout is the file alone, so it can be piped or
 * diffed; the revision it reflects goes to stderr as an info line. Below minMembers with no file
 * yet it prints the empty form prepare would write and exits 3, as prepare does.
 */
export async function render(ctx: CommandContext, clusterName: string, options: { timeout: number }): Promise<number> {
  const cluster = findCluster(ctx.config, clusterName);
  const target = await ctx.target(clusterName);
  const etcd = ctx.etcdClient();
  const read = await retryUntil('render', () => readCluster(etcd, cluster.path, cluster.limits), { timeoutMs: options.timeout, logger: ctx.logger });
  logDiagnostics(cluster.name, cluster.path, read.diagnostics, ctx.logger);
  const fileExists = await lstat(target.file).then(
    () => true,
    () => false,
  );
  const result = await renderCluster(read, target, ctx.logger, { fileExists });
  reportQuarantine(cluster.name, result.quarantined, ctx.logger);
  if (!result.ok) throw new RuntimeError(`render ${clusterName}: prepare would leave ${target.file} as it is at revision ${read.revision}: ${result.reason}`);
  process.stdout.write(result.text);
  if (result.emptyForm) {
    ctx.logger.info(`${clusterName}: rendered the empty form at revision ${read.revision} (below minMembers ${target.minMembers}, no ${target.file} yet)`);
    return WROTE_EMPTY_EXIT_CODE;
  }
  ctx.logger.info(`${clusterName}: rendered revision ${read.revision} (${result.members.length} member(s))`);
  return 0;
}
