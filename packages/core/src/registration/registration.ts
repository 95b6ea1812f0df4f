import type { EtcdClient, EtcdConnection } from '../etcd/connection.js';
import { EtcdAccessError, describeError } from '../etcd/errors.js';
import { singleKey } from '../etcd/key-range.js';
import { ResilientWatch } from '../watch/resilient-watch.js';
import { Backoff, type BackoffOptions, sleep } from '../util/backoff.js';
import type { Logger } from '../util/log.js';
import type { Metrics } from '../util/metrics.js';

export interface RegistrationOptions {
  key: string;
  value: string;
  /** Lease TTL in seconds. */
  ttl: number;
  /** Keepalive interval in seconds. */
  heartbeat: number;
  logger: Logger;
  metrics?: Metrics | undefined;
  backoff?: BackoffOptions;
  /** Passed to the key watch; tests shorten them. */
  watch?: { progressIntervalMs?: number; stallTimeoutMs?: number };
}

/** Why a registration ended: an operator removed it, or we were asked to stop. */
export type RegistrationEnd = 'removed' | 'stopped';

/**
 * The own key on a lease, kept alive (SPEC §4). Tells apart an operator's removal (key deleted or
 * lease revoked while we were keeping it alive → end with 'removed') from a lease that expired
 * because etcd was out of reach for longer than the TTL (→ register again, logged).
 */
export class Registration {
  private readonly controller = new AbortController();
  private leaseId: string | undefined;
  /**
   * When etcd last confirmed the lease alive: a lease gone sooner than its TTL after it was
   * revoked. Taken when the confirming request was sent, not when its answer arrived: etcd
   * refreshed the lease somewhere in between, and a slow answer (a busy etcd, a starved process)
   * must not make a lease that simply expired look revoked.
   */
  private lastConfirmed = 0;
  private deciding: Promise<void> | undefined;
  private stopped = false;
  private finish!: (end: RegistrationEnd) => void;
  private readonly ended = new Promise<RegistrationEnd>((resolve) => (this.finish = resolve));
  private readonly backoff: Backoff;

  constructor(
    private readonly etcd: EtcdConnection,
    private readonly options: RegistrationOptions,
  ) {
    this.backoff = new Backoff(options.backoff);
  }

  get lease(): string | undefined {
    return this.leaseId;
  }

  /** Grants a lease and puts the key on it, retrying while etcd is unreachable. */
  async register(): Promise<void> {
    const { lease, sent } = await registerKey(this.etcd, { ...this.options, backoff: this.backoff, signal: this.controller.signal });
    this.leaseId = lease;
    this.lastConfirmed = sent;
    this.options.metrics?.set('cluster_control_registered', 1);
  }

  /**
   * Registers (unless register() already did), then keeps the lease alive until an operator
   * removes the key ('removed') or stop() is called ('stopped').
   */
  async run(): Promise<RegistrationEnd> {
    if (!this.leaseId) await this.register();
    const watch = new ResilientWatch(
      this.etcd,
      singleKey(this.options.key),
      {
        snapshot: (kvs) => {
          if (kvs.length === 0) this.checkMissing();
        },
        events: (events) => {
          if (events[events.length - 1]!.type === 'delete') this.checkMissing();
        },
      },
      { logger: this.options.logger, label: this.options.key, ...this.options.watch },
    ).start();
    const keepalive = this.keepAliveLoop();
    const end = await Promise.race([this.ended, watch.done().then(() => this.ended)]);
    this.controller.abort();
    await Promise.allSettled([watch.stop(), keepalive]);
    return end;
  }

  /** Revokes the lease (the key disappears at once) and ends run() with 'stopped'. */
  async stop(options: { revoke?: boolean } = {}): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.controller.abort();
    this.finish('stopped');
    const lease = this.leaseId;
    if (options.revoke !== false && lease) {
      try {
        await this.etcd.revokeLease(lease);
        this.options.logger.info(`deregistered ${this.options.key}`);
      } catch (err) {
        this.options.logger.warn(`could not revoke lease of ${this.options.key} (${describeError(err)}); it expires within ${this.options.ttl}s`);
      }
    }
    this.options.metrics?.set('cluster_control_registered', 0);
  }

  private async keepAliveLoop(): Promise<void> {
    const { heartbeat, logger, key } = this.options;
    const signal = this.controller.signal;
    let wait = heartbeat * 1000;
    while (!signal.aborted) {
      await sleep(wait, signal);
      if (signal.aborted) return;
      const lease = this.leaseId;
      if (!lease) continue;
      try {
        const sent = Date.now();
        const ttl = await this.etcd.keepAlive(lease);
        if (ttl > 0) {
          this.lastConfirmed = sent;
          wait = heartbeat * 1000;
        } else {
          await this.decideOnLostLease();
        }
      } catch (err) {
        // Retry sooner than the heartbeat while etcd is away, so the lease survives short outages.
        wait = Math.min(heartbeat * 1000, 1000);
        logger.warn(`keepalive for ${key} failed: ${describeError(err)}`);
      }
    }
  }

  private checkMissing(): void {
    void this.decideOnLostLease();
  }

  /** The key or the lease is gone: an operator's removal, or an expiry during an outage? */
  private decideOnLostLease(): Promise<void> {
    this.deciding ??= this.decide().finally(() => (this.deciding = undefined));
    return this.deciding;
  }

  private async decide(): Promise<void> {
    const { key, ttl, logger } = this.options;
    const signal = this.controller.signal;
    while (!signal.aborted) {
      const lease = this.leaseId;
      if (!lease) return;
      try {
        const remaining = await this.etcd.leaseTimeToLive(lease);
        const present = (await this.etcd.range(singleKey(key))).kvs[0];
        if (present) return; // re-put meanwhile (by us or a takeover): still registered
        if (remaining > 0) {
          logger.info(`${key} was deleted by someone else: removing this node`);
          await this.etcd.revokeLease(lease).catch(() => {});
          this.leaseId = undefined;
          this.finish('removed');
          return;
        }
        const silentMs = Date.now() - this.lastConfirmed;
        if (silentMs < ttl * 1000) {
          logger.info(`the lease of ${key} was revoked by someone else: removing this node`);
          this.leaseId = undefined;
          this.finish('removed');
          return;
        }
        logger.warn(`the lease of ${key} expired while etcd was out of reach (${Math.round(silentMs / 1000)}s without keepalive); registering again`);
        this.options.metrics?.inc('cluster_control_reregistrations_total');
        this.leaseId = undefined;
        await this.register();
        return;
      } catch (err) {
        if (signal.aborted) return;
        logger.warn(`checking the lease of ${key} failed: ${describeError(err)}; retrying`);
        await sleep(this.backoff.next(), signal);
      }
    }
  }
}

/**
 * Grants a lease and puts `key` on it, retrying while etcd is unreachable (until `signal` aborts).
 * Needs only unary calls, so `heartbeat --once` can use the light gateway client. Resolves to the
 * lease and when its grant was sent (the lease's TTL runs from about then).
 */
export async function registerKey(
  etcd: EtcdClient,
  options: { key: string; value: string; ttl: number; logger: Logger; backoff?: Backoff; signal?: AbortSignal },
): Promise<{ lease: string; sent: number }> {
  const { key, value, ttl, logger, signal } = options;
  const backoff = options.backoff ?? new Backoff();
  for (;;) {
    try {
      const sent = Date.now();
      const lease = await etcd.grantLease(ttl);
      await etcd.put(key, value, { lease });
      backoff.reset();
      logger.info(`registered ${key} (lease ${BigInt(lease).toString(16)}, ttl ${ttl}s)`);
      return { lease, sent };
    } catch (err) {
      // Not allowed (e.g. a role that may not write this key): retrying cannot help; say which key.
      if (err instanceof EtcdAccessError) throw new EtcdAccessError(`could not register ${key}: ${describeError(err)}`, { cause: err });
      if (signal?.aborted) throw err;
      logger.warn(`could not register ${key}: ${describeError(err)}; retrying`);
      await sleep(backoff.next(), signal);
      if (signal?.aborted) throw new Error('registration stopped');
    }
  }
}
