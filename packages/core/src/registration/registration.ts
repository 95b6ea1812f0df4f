import type { EtcdClient, EtcdConnection, KeyHolder } from '../etcd/types.js';
import { EtcdAccessError, EtcdEndpointError } from '../etcd/errors.js';
import { describeError } from '../util/describe-error.js';
import { singleKey } from '../etcd/key-range.js';
import { type FleetWaitResult, waitForFleet } from '../status/fleet-wait.js';
import { ResilientWatch } from '../watch/resilient-watch.js';
import { Backoff, type BackoffOptions, sleep } from '../util/backoff.js';
import { ErrorCode } from '../util/error-codes.js';
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
  /** A lease this node was handed (`heartbeat --once` before it): kept alive and used if it still lives. */
  adoptLease?: string | undefined;
  /**
   * What drain() does (README: Drain): the status prefix the watchers publish under, and how long to
   * wait for them to apply the key's deletion (ms; 0: do not wait). Without it drain() is stop().
   */
  drain?: DrainOptions | undefined;
}

export interface DrainOptions {
  /** The watchers' status prefix (config `status.prefix`). */
  statusPrefix: string;
  /** How long to wait for the fleet, ms; 0: do not wait. */
  maxMs: number;
  /** Ends the wait early. */
  signal?: AbortSignal | undefined;
}

/** Why a registration ended: an operator removed it, or we were asked to stop. */
export type RegistrationEnd = 'removed' | 'stopped';

/**
 * The own key on a lease, kept alive (`heartbeat`, README: Using it). Tells apart an operator's
 * removal (key deleted or lease revoked while we were keeping it alive → end with 'removed') from a
 * lease that expired because etcd was out of reach for longer than the TTL (→ register again,
 * logged).
 */
export class Registration {
  private readonly controller = new AbortController();
  private leaseId: string | undefined;
  /** A lease granted by a registration in progress, not known to carry the key yet: stop() revokes it too. */
  private pendingLease: string | undefined;
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
  /** Rejects with the first error no retry can fix (EtcdAccessError: permission, a misconfigured endpoint): run() ends with it. */
  private fail!: (err: Error) => void;
  private readonly failed = new Promise<never>((_, reject) => (this.fail = reject));
  private readonly backoff: Backoff;

  constructor(
    private readonly etcd: EtcdConnection,
    private readonly options: RegistrationOptions,
  ) {
    this.backoff = new Backoff(options.backoff);
    this.failed.catch(() => {}); // observed by run()
  }

  get lease(): string | undefined {
    return this.leaseId;
  }

  /**
   * Grants a lease and puts the key on it, retrying while etcd is unreachable and waiting while the
   * key is held by another lease (registerKey). `timeoutMs`: give up with a RegistrationTimeoutError.
   */
  async register(options: { timeoutMs?: number | undefined } = {}): Promise<void> {
    const { lease, sent } = await registerKey(this.etcd, {
      ...this.options,
      backoff: this.backoff,
      signal: this.controller.signal,
      timeoutMs: options.timeoutMs,
      onPendingLease: (id) => (this.pendingLease = id),
    });
    this.leaseId = lease;
    this.lastConfirmed = sent;
    this.options.metrics?.set('cluster_control_registered', 1);
  }

  /**
   * Registers (unless register() already did), then keeps the lease alive until an operator
   * removes the key ('removed') or stop() is called ('stopped'). Rejects on an error no retry can
   * fix (an EtcdAccessError: permission, a misconfigured endpoint) instead of retrying it forever.
   */
  async run(): Promise<RegistrationEnd> {
    if (!this.leaseId) await this.register();
    const watch = new ResilientWatch(
      this.etcd,
      singleKey(this.options.key),
      {
        snapshot: (kvs) => {
          if (kvs.length === 0 || kvs[0]!.lease !== this.leaseId) this.checkMissing();
        },
        // A put too: our own re-registration, or someone else's plain put over our key (decide()).
        events: () => this.checkMissing(),
      },
      { logger: this.options.logger, label: this.options.key, ...this.options.watch },
    ).start();
    const keepalive = this.keepAliveLoop();
    try {
      return await Promise.race([this.ended, watch.done().then(() => this.ended), this.failed]);
    } finally {
      this.controller.abort();
      await Promise.allSettled([watch.stop(), keepalive]);
    }
  }

  /**
   * Revokes the lease (the key disappears at once) and ends run() with 'stopped'. A registration
   * still in progress is abandoned and its lease revoked too. `timeoutMs`: wait no longer than
   * this for etcd's answer (the lease then expires within its TTL).
   */
  async stop(options: { revoke?: boolean; timeoutMs?: number } = {}): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.controller.abort();
    this.finish('stopped');
    const lease = this.leaseId;
    const pending = this.pendingLease;
    if (options.revoke !== false && (lease || pending)) {
      const revoking = (async () => {
        if (pending && pending !== lease) await this.etcd.revokeLease(pending).catch(() => {});
        if (lease) await this.etcd.revokeLease(lease);
      })();
      const bound = new AbortController();
      try {
        const revoked = await Promise.race([revoking.then(() => true), ...(options.timeoutMs !== undefined ? [sleep(options.timeoutMs, bound.signal).then(() => false)] : [])]);
        if (revoked && lease) this.options.logger.info(`deregistered ${this.options.key}`);
        if (!revoked) {
          revoking.catch(() => {});
          this.options.logger.warn(`etcd did not confirm the revocation of the lease of ${this.options.key} within ${options.timeoutMs} ms; it expires within ${this.options.ttl}s`);
        }
      } catch (err) {
        this.options.logger.warn(`could not revoke lease of ${this.options.key} (${describeError(err)}); it expires within ${this.options.ttl}s`);
      } finally {
        bound.abort();
      }
    }
    this.options.metrics?.set('cluster_control_registered', 0);
  }

  /**
   * Ends the registration so that traffic stops reaching this node before it stops (README: Drain):
   * deletes the own key (only while it is on our lease) and notes the delete's revision R, revokes
   * the lease, then waits until every live watcher of every cluster containing the key has applied
   * R with its reload ok, at most `maxMs` (waitForFleet; logs whom it waited for, how long, and
   * who missed the bound). Ends run() with 'stopped'. Without a status prefix, with `maxMs` 0, or
   * when the key is not ours (any more), it is stop() and resolves undefined.
   */
  async drain(options: Partial<DrainOptions> = {}): Promise<FleetWaitResult | undefined> {
    const statusPrefix = options.statusPrefix ?? this.options.drain?.statusPrefix;
    const maxMs = options.maxMs ?? this.options.drain?.maxMs ?? 0;
    const signal = options.signal ?? this.options.drain?.signal;
    const lease = this.leaseId;
    const { key, logger } = this.options;
    if (this.stopped || !statusPrefix || maxMs <= 0 || !lease) {
      await this.stop();
      return undefined;
    }
    // From here on the key's deletion is ours, not an operator's removal: stop reacting to it.
    this.controller.abort();
    this.finish('stopped');
    let deleted: { deleted: number; revision: bigint };
    try {
      deleted = await this.etcd.deleteAt(key, { lease });
    } catch (err) {
      logger.warn(`could not delete ${key} (${describeError(err)}); revoking its lease, not waiting for the fleet`);
      await this.stop();
      return undefined;
    }
    await this.stop();
    if (deleted.deleted === 0) {
      logger.info(`${key} was no longer on our lease; not waiting for the fleet`);
      return undefined;
    }
    logger.info(`deleted ${key} at revision ${deleted.revision}; waiting up to ${Math.round(maxMs / 100) / 10}s for every watcher of its clusters to apply it`);
    return waitForFleet(this.etcd, { statusPrefix, key, revision: deleted.revision, maxMs, logger, signal });
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
        if (err instanceof EtcdAccessError) return this.fail(err);
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
        if (present?.lease === lease) return; // still (or again) ours: still registered
        if (present) {
          // On another lease: someone put it over ours with a plain put (cluster-control itself
          // never takes a held key over: README, Owning a key). Not an operator's removal: this
          // node keeps running. Nor do we put it back over theirs (two writers fighting over one
          // key): we let our lease go and wait, as any second registrant does, for the key to be
          // free again, then register. Meanwhile we are not registered (metric 0, /readyz says so).
          logger.warn(`${key} was put on lease ${BigInt(present.lease).toString(16)} by someone else; not registered until it is free again`);
          this.options.metrics?.set('cluster_control_registered', 0);
          this.leaseId = undefined;
          await this.etcd.revokeLease(lease).catch(() => {});
          await this.register();
          return;
        }
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
        if (err instanceof EtcdAccessError) return this.fail(err);
        logger.warn(`checking the lease of ${key} failed: ${describeError(err)}; retrying`);
        await sleep(this.backoff.next(), signal);
      }
    }
  }
}

/** registerKey gave up: its `timeoutMs` passed before the key could be put. The message says why. */
export class RegistrationTimeoutError extends Error {
  override name = 'RegistrationTimeoutError';
  readonly code = ErrorCode.CC_REGISTRATION_TIMEOUT;
}

export interface RegisterKeyOptions {
  key: string;
  value: string;
  ttl: number;
  logger: Logger;
  backoff?: Backoff;
  /** Stops the attempt (rejects with "registration stopped"). */
  signal?: AbortSignal | undefined;
  /** Give up after this long with a RegistrationTimeoutError; default: keep trying until `signal`. */
  timeoutMs?: number | undefined;
  /** How often a key held by another lease is read to see whether it is free yet. Default 1 s. */
  pollMs?: number;
  /** Told each lease granted and not yet known to carry the key (undefined once it is settled), so a stop can revoke it. */
  onPendingLease?: (lease: string | undefined) => void;
  /**
   * A lease this node registered the key on before (`heartbeat --once`): if etcd still keeps it,
   * it is used instead of a new one, so the key on it is taken over, not waited for.
   */
  adoptLease?: string | undefined;
}

const hex = (lease: string) => BigInt(lease).toString(16);
const describeHolder = (key: string, holder: KeyHolder) =>
  holder.lease === '0'
    ? `${key} is held by a key without a lease (put by hand at revision ${holder.createRevision})`
    : `${key} is held by lease ${hex(holder.lease)} (since revision ${holder.createRevision})`;

/**
 * Grants a lease and puts `key` on it, retrying while etcd is unreachable (until `signal` aborts or
 * `timeoutMs` passes). The key is put only if it is absent or already on our lease (README: Owning
 * a key): a key held by another lease is never taken over; that is said once, and the key is read
 * every `pollMs` until it is free (its holder deregistered or expired), then registered. Needs only
 * unary calls, so `heartbeat --once` can use the light gateway client. Resolves to the lease and
 * when its grant was sent (the lease's TTL runs from about then).
 */
export async function registerKey(etcd: EtcdClient, options: RegisterKeyOptions): Promise<{ lease: string; sent: number }> {
  const { key, value, ttl, logger, signal, timeoutMs, pollMs = 1000, onPendingLease } = options;
  const backoff = options.backoff ?? new Backoff();
  // Aborts on `signal` or at the deadline; every call is raced against it, so neither waits for a
  // call to a frozen etcd to reach its own deadline.
  const giveUp = new AbortController();
  const onAbort = () => giveUp.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  if (signal?.aborted) giveUp.abort();
  const timer = timeoutMs === undefined ? undefined : setTimeout(() => giveUp.abort(), timeoutMs);
  const call = <T>(promise: Promise<T>): Promise<T> => {
    promise.catch(() => {}); // abandoned when giving up
    if (giveUp.signal.aborted) return Promise.reject(new Error('registration stopped'));
    // The abort listener goes once the call settles: a long wait for a held key makes a call a
    // second, which would otherwise pile up listeners (Node warns past ten).
    return new Promise<T>((resolve, reject) => {
      const stop = () => reject(new Error('registration stopped'));
      giveUp.signal.addEventListener('abort', stop, { once: true });
      promise.then(resolve, reject).finally(() => giveUp.signal.removeEventListener('abort', stop));
    });
  };
  /** A lease granted for this attempt and not (yet) carrying the key. */
  let lease: string | undefined;
  let sent = 0;
  /** The other lease that holds the key, while we wait for it to let go. */
  let holder: KeyHolder | undefined;
  let lastError: unknown;
  const setLease = (id: string | undefined) => {
    lease = id;
    onPendingLease?.(id);
  };
  if (options.adoptLease) {
    try {
      const remaining = await call(etcd.keepAlive(options.adoptLease));
      if (remaining > 0) {
        setLease(options.adoptLease);
        sent = Date.now();
        logger.info(`taking over lease ${hex(options.adoptLease)} of ${key} from heartbeat --once`);
      }
    } catch {
      // gone, or etcd away: register as usual
    }
  }
  const dropLease = () => {
    const id = lease;
    setLease(undefined);
    // Best effort: unrevoked, it expires within the TTL.
    if (id) etcd.revokeLease(id).catch(() => {});
  };
  try {
    while (!giveUp.signal.aborted) {
      try {
        if (holder) {
          // Wait until the holder lets go: one read a poll (cheap; no lease of ours meanwhile).
          const kv = (await call(etcd.range(singleKey(key)))).kvs[0];
          if (kv && kv.lease === holder.lease) {
            await sleep(pollMs, giveUp.signal);
            continue;
          }
        }
        if (!lease) {
          sent = Date.now();
          setLease(await call(etcd.grantLease(ttl)));
        }
        const result = await call(etcd.putIfFree(key, value, lease!));
        if (result.ok) {
          const ours = lease!;
          lease = undefined;
          onPendingLease?.(undefined);
          backoff.reset();
          logger.info(`registered ${key} (lease ${hex(ours)}, ttl ${ttl}s)${holder ? `; lease ${hex(holder.lease)} let go of it` : ''}`);
          return { lease: ours, sent };
        }
        // Held by someone else: say so once per holder, never take it over, hold no lease meanwhile.
        dropLease();
        if (result.holder.lease !== holder?.lease) logger.info(`${describeHolder(key, result.holder)}; waiting for it to be free`);
        holder = result.holder;
        backoff.reset();
        await sleep(pollMs, giveUp.signal);
      } catch (err) {
        // Not allowed (e.g. a role that may not write this key): retrying cannot help; say which key.
        if (err instanceof EtcdAccessError) {
          const Permanent = err instanceof EtcdEndpointError ? EtcdEndpointError : EtcdAccessError;
          throw new Permanent(`could not register ${key}: ${describeError(err)}`, { cause: err });
        }
        if (giveUp.signal.aborted) break;
        lastError = err;
        // Our lease expired (a long outage) or was revoked: grant a new one. Kept otherwise: a put
        // whose answer was lost may have landed on it, and retrying on the same lease finds it ours.
        if (/lease not found/.test(describeError(err))) setLease(undefined);
        logger.warn(`could not register ${key}: ${describeError(err)}; retrying`);
        await sleep(backoff.next(), giveUp.signal);
      }
    }
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
  dropLease();
  if (signal?.aborted || timeoutMs === undefined) throw new Error('registration stopped');
  const why = holder ? describeHolder(key, holder).replace(`${key} is held`, 'it is held') : `etcd did not accept it${lastError ? ` (${describeError(lastError)})` : ''}`;
  throw new RegistrationTimeoutError(`could not register ${key} within ${Math.round(timeoutMs / 100) / 10}s: ${why}`);
}
