import { prepareCluster } from '@cluster-control/core';
import { retryUntil } from '@cluster-control/core/etcd';
import type { CommandContext } from '../context.js';
import { RuntimeError } from '../errors.js';

/**
 * Exit code of `prepare` when the cluster has fewer members than its minMembers and had no file:
 * the handler's form for no members was written (so a server including it can start) and the
 * revision printed as usual. With a file already there, too few members leave it as it is: exit 0.
 */
export const WROTE_EMPTY_EXIT_CODE = 3;

/** `prepare <cluster>`: write the cluster's file now; print the read's revision (stdout's only line). */
export async function prepare(ctx: CommandContext, clusterName: string, options: { timeout: number }): Promise<number> {
  const target = await ctx.target(clusterName);
  const etcd = ctx.etcdClient();
  const result = await retryUntil('prepare', () => prepareCluster(etcd, target, ctx.logger), { timeoutMs: options.timeout, logger: ctx.logger });
  if (result.outcome === 'check-failed' || result.outcome === 'failed') {
    throw new RuntimeError(`prepare ${clusterName}: ${target.file} was not written (${result.outcome})`);
  }
  process.stdout.write(`${result.revision}\n`);
  return result.wroteEmpty ? WROTE_EMPTY_EXIT_CODE : 0;
}
