import { aborted, Registration, registerKey } from '@cluster-control/core';
import type { CommandContext } from '../context.js';
import { shutdownSignal } from '../signals.js';

/**
 * `heartbeat [--once]`: register the own key on a lease and keep it alive. Exits 0 when an
 * operator deletes the key (or revokes the lease), and on SIGTERM/SIGINT after revoking the lease.
 */
export async function heartbeat(ctx: CommandContext, options: { once?: boolean }): Promise<number> {
  const self = ctx.self();
  const shutdown = shutdownSignal();
  try {
    if (options.once) {
      // The key lives for one TTL unless a later heartbeat takes it over. Unary calls only: the
      // light gateway client, no gRPC to load. A signal while etcd is away just ends the command.
      const registering = registerKey(ctx.etcdClient(), { key: self.key, value: self.value, ttl: self.ttl, logger: ctx.logger, signal: shutdown.signal });
      registering.catch(() => {}); // after a signal, its "stopped" rejection is expected
      await Promise.race([registering, aborted(shutdown.signal)]);
      return 0;
    }
    const etcd = await ctx.etcd();
    const registration = new Registration(etcd, { key: self.key, value: self.value, ttl: self.ttl, heartbeat: self.heartbeat, logger: ctx.logger });
    // Registering retries while etcd is away; a signal meanwhile just ends the command.
    const registered = await Promise.race([registration.register().then(() => true), aborted(shutdown.signal).then(() => false)]);
    if (!registered) {
      await registration.stop();
      return 0;
    }
    const stopOnSignal = aborted(shutdown.signal).then(() => registration.stop());
    const end = await registration.run();
    if (end === 'stopped') await stopOnSignal;
    ctx.logger.info(end === 'removed' ? `${self.key} was removed by an operator; exiting` : 'stopped');
    return 0;
  } finally {
    shutdown.dispose();
  }
}
