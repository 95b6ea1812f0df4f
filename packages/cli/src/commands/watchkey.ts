import { waitForKeyDeletion } from '@cluster-control/core/registration';
import { handleSignals } from '@cluster-control/core/supervisor';
import type { CommandContext } from '../context.js';

/** `watchkey`: exit 0 once the own key, after being present, is deleted. */
export async function watchkey(ctx: CommandContext): Promise<number> {
  const { key } = ctx.self();
  const shutdown = handleSignals({ logger: ctx.logger, hangup: 'ignore' });
  try {
    const etcd = await ctx.etcd();
    const result = await waitForKeyDeletion(etcd, key, { logger: ctx.logger, signal: shutdown.signal });
    ctx.logger.info(result === 'deleted' ? `${key} was deleted; exiting` : 'stopped');
    return 0;
  } finally {
    shutdown.dispose();
  }
}
