import { Registration, RegistrationTimeoutError, registerKey } from '@cluster-control/core';
import { handleSignals } from '@cluster-control/core/supervisor';
import { aborted } from '@cluster-control/core/util';
import type { CommandContext } from '../context.js';
import { RuntimeError } from '../errors.js';
import { leaveLease, takeLeftLease } from '../lease-handover.js';

/** `heartbeat --once` without `--timeout`: the default of the other one-shot commands. */
const ONCE_TIMEOUT_MS = 30_000;

/**
 * `heartbeat [--once] [--timeout S] [--drain-max S]`: register the own key on a lease and keep it
 * alive. Exits 0 when an operator deletes the key (or revokes the lease), and on SIGTERM/SIGINT/SIGQUIT
 * after deleting the key and revoking the lease, then (status on, `--drain-max` > 0) waiting at
 * most `--drain-max` until every watcher of the clusters containing the key applied its deletion
 * (README: Drain). A key held by another lease is waited for, never taken over (README: Owning a
 * key); `--timeout` bounds that wait and any etcd outage while registering (exit 1, one line saying
 * why).
 */
export async function heartbeat(ctx: CommandContext, options: { once?: boolean; timeout?: number | undefined; drainMax?: number | undefined }): Promise<number> {
  const self = ctx.self();
  const shutdown = handleSignals({ logger: ctx.logger, hangup: 'ignore' });
  /** A failed registration: after a signal, its "stopped" is expected; otherwise one line, exit 1. */
  const failed = (err: unknown): false => {
    if (shutdown.signal.aborted) return false;
    throw err instanceof RegistrationTimeoutError ? new RuntimeError(err.message) : err;
  };
  try {
    if (options.once) {
      // The key lives for one TTL unless a later heartbeat of this node takes its lease over (see
      // lease-handover.ts). Unary calls only: the light gateway client, no gRPC to load. A signal
      // while etcd is away just ends the command.
      const registering = registerKey(ctx.etcdClient(), {
        key: self.key,
        value: self.value,
        ttl: self.ttl,
        logger: ctx.logger,
        signal: shutdown.signal,
        // A one-shot command gives up like the others do; the long-running one keeps trying unless told.
        timeoutMs: options.timeout ?? ONCE_TIMEOUT_MS,
      });
      const registered = await Promise.race([registering.catch(failed), aborted(shutdown.signal)]);
      if (registered) await leaveLease(self.key, ctx.config.etcd.endpoints, registered.lease, ctx.logger);
      return 0;
    }
    const etcd = await ctx.etcd();
    const adoptLease = takeLeftLease(self.key, ctx.config.etcd.endpoints);
    const registration = new Registration(etcd, { key: self.key, value: self.value, ttl: self.ttl, heartbeat: self.heartbeat, logger: ctx.logger, adoptLease });
    // Registering retries while etcd is away; a signal meanwhile just ends the command.
    const registered = await Promise.race([registration.register({ timeoutMs: options.timeout }).then(() => true, failed), aborted(shutdown.signal).then(() => false)]);
    if (!registered) {
      await registration.stop();
      return 0;
    }
    // On a signal: the key deleted at R, the lease revoked, then a bounded wait for the fleet (R applied everywhere).
    const status = ctx.config.status;
    const drainMax = options.drainMax ?? 30_000;
    const stopOnSignal = aborted(shutdown.signal).then(async () => {
      if (status && drainMax > 0) await registration.drain({ statusPrefix: status.prefix, maxMs: drainMax });
      else await registration.stop();
    });
    const end = await registration.run();
    if (end === 'stopped') await stopOnSignal;
    ctx.logger.info(end === 'removed' ? `${self.key} was removed by an operator; exiting` : 'stopped');
    return 0;
  } finally {
    shutdown.dispose();
  }
}
