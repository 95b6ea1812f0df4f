import { retryUntil } from '@cluster-control/core/etcd';
import type { CommandContext } from '../context.js';

/** `removekey`: delete the own key; success whether or not it was there. */
export async function removekey(ctx: CommandContext, options: { timeout: number }): Promise<number> {
  const { key } = ctx.self();
  const etcd = ctx.etcdClient();
  const deleted = await retryUntil('removekey', () => etcd.delete(key), { timeoutMs: options.timeout, logger: ctx.logger });
  ctx.logger.info(deleted > 0 ? `removed ${key}` : `${key} was already absent`);
  return 0;
}
