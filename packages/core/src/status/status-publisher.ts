import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import type { EtcdClient } from '../etcd/types.js';
import { EtcdAccessError } from '../etcd/errors.js';
import { describeError } from '../util/describe-error.js';
import type { Logger } from '../util/log.js';
import type { Metrics } from '../util/metrics.js';
import { type WatcherStatus, statusKey } from './status-record.js';

export interface WatcherIdentity {
  id: string;
  host: string;
  pid: number;
  command: string;
  version: string;
}

export interface StatusPublisherOptions {
  /** Status prefix (`status.prefix`), without trailing slash. */
  prefix: string;
  /** TTL of the publisher's lease, seconds (`status.ttl`): a dead watcher's keys vanish within it. */
  ttl: number;
  /** What this watcher is called in `status`: `watch`, `run`, or an application's name. */
  command: string;
  logger: Logger;
  metrics?: Metrics | undefined;
  /**
   * Least time between two writes of one cluster's status in steady churn, unless its state
   * changes (ms). Default 1000. Two writes may go at once after a quiet spell (an install and the
   * reload after it), then one per interval.
   */
  minIntervalMs?: number;
}

const version = (() => {
  try {
    const { version } = createRequire(import.meta.url)('../../package.json') as { version?: unknown };
    return typeof version === 'string' ? version : '';
  } catch {
    return '';
  }
})();

/**
 * Writes that may go at once after a quiet spell, per cluster: the install and the reload after it
 * (a revision counts as applied only once that reload succeeded), so a watcher reports a change it
 * applied without waiting out the interval behind its own install's write. Refilled at one per
 * `minIntervalMs`: steady churn still writes about once a second.
 */
const BURST = 2;

/** What a write would say, but for when: equal statuses need no second write. */
const contentOf = (s: WatcherStatus) => JSON.stringify({ ...s, updatedAt: '' });

/** The parts of a status whose change is a state transition: written at once, not coalesced. */
const stateOf = (s: WatcherStatus) => `${s.fileCurrent}|${s.check?.ok}|${s.reload?.ok}|${s.quarantined.length}`;

/**
 * Publishes what this process's watchers applied (README: Is the fleet in step?): one key per
 * cluster under the status prefix, all on one lease of this process, kept alive, revoked on close.
 * Writes are coalesced to about one per `minIntervalMs` per cluster (a token bucket: the first two
 * after a quiet spell go at once — an install and its reload; the last state is always written),
 * plus an immediate write when the state changes (file current, check or reload ok, quarantine), so
 * 1,000 watchers of a churning cluster do not flood etcd.
 * Never throws into the watcher: a status it cannot write is logged once and tried again later; a
 * role that may not write the prefix turns publishing off (logged once).
 */
export class StatusPublisher {
  readonly identity: WatcherIdentity;
  private lease: string | undefined;
  private granting: Promise<string> | undefined;
  private readonly latest = new Map<string, WatcherStatus>();
  /** Per key: writes that may go now (up to BURST) as of `at`; taken when a write is started. */
  private readonly budget = new Map<string, { tokens: number; at: number }>();
  /** Per key: the last write started, its content and state. */
  private readonly sent = new Map<string, { content: string; state: string }>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly writing = new Map<string, Promise<void>>();
  private keepAliveTimer: NodeJS.Timeout | undefined;
  private disabled = false;
  private closed = false;
  private warned = false;

  constructor(
    private readonly etcd: EtcdClient,
    private readonly options: StatusPublisherOptions,
  ) {
    const host = hostname();
    this.identity = { id: `${host}:${process.pid}:${randomBytes(2).toString('hex')}`, host, pid: process.pid, command: options.command, version };
  }

  /** The key this publisher writes for a cluster path. */
  keyFor(clusterPath: string): string {
    return statusKey(this.options.prefix, clusterPath, this.identity.id);
  }

  /** Publishes `status` (watcher identity filled in), at once or coalesced. */
  update(status: Omit<WatcherStatus, 'watcher' | 'updatedAt' | 'v'>): void {
    if (this.disabled || this.closed) return;
    const key = this.keyFor(status.cluster.path);
    const full: WatcherStatus = { v: 1, watcher: this.identity, ...status, updatedAt: '' };
    this.latest.set(key, full);
    if (this.timers.has(key)) return; // the scheduled write takes the latest
    const sent = this.sent.get(key);
    if (sent?.content === contentOf(full)) return; // nothing new to say
    const interval = this.options.minIntervalMs ?? 1000;
    const tokens = this.tokens(key, interval);
    const transition = !sent || sent.state !== stateOf(full);
    if (transition || tokens >= 1) {
      this.take(key, tokens);
      void this.write(key);
    } else {
      this.schedule(key, Math.ceil((1 - tokens) * interval));
    }
  }

  /** Writes `key` may start now (fractional: refilled at one per interval, at most BURST). */
  private tokens(key: string, interval: number): number {
    const b = this.budget.get(key);
    if (!b) return BURST;
    return Math.min(BURST, b.tokens + (interval > 0 ? (Date.now() - b.at) / interval : BURST));
  }

  /** One write of `key` started (synchronously, so two updates in one tick cannot both take the last token). */
  private take(key: string, tokens = this.tokens(key, this.options.minIntervalMs ?? 1000)): void {
    const now = Date.now();
    this.budget.set(key, { tokens: Math.max(0, tokens - 1), at: now });
    const status = this.latest.get(key);
    if (status) this.sent.set(key, { content: contentOf(status), state: stateOf(status) });
  }

  /** Writes every pending status now (e.g. before a drain reads them). */
  async flush(): Promise<void> {
    for (const [key, timer] of this.timers) {
      clearTimeout(timer);
      this.timers.delete(key);
      this.take(key);
      void this.write(key);
    }
    await Promise.all(this.writing.values());
  }

  /**
   * Stops publishing for one cluster and deletes its record (a daemon that stopped following it):
   * `status` must not keep listing a watcher that no longer applies anything there.
   */
  async forget(clusterPath: string): Promise<void> {
    const key = this.keyFor(clusterPath);
    clearTimeout(this.timers.get(key));
    this.timers.delete(key);
    this.latest.delete(key);
    await this.writing.get(key);
    this.sent.delete(key);
    this.budget.delete(key);
    if (this.disabled || this.closed || (!this.lease && !this.granting)) return;
    await this.etcd.delete(key).catch((err: unknown) => this.options.logger.warn(`could not delete the status record ${key}: ${describeError(err)}; it goes with this process`));
  }

  /** Stops writing and revokes the lease: every key of this watcher disappears at once. */
  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    clearInterval(this.keepAliveTimer);
    await Promise.allSettled(this.writing.values());
    const lease = this.lease ?? (await this.granting?.catch(() => undefined));
    this.lease = undefined;
    if (lease) await this.etcd.revokeLease(lease).catch(() => {});
  }

  private schedule(key: string, ms: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.take(key);
      void this.write(key);
    }, ms);
    timer.unref();
    this.timers.set(key, timer);
  }

  /** One write of the latest status of `key`; serialised per key, so an older one never lands last. */
  private write(key: string): Promise<void> {
    const previous = this.writing.get(key) ?? Promise.resolve();
    const next = previous.then(async () => {
      const status = this.latest.get(key);
      if (!status || this.disabled || this.closed) return;
      const value = { ...status, updatedAt: new Date().toISOString() };
      try {
        await this.etcd.put(key, JSON.stringify(value), { lease: await this.ensureLease() });
        this.options.metrics?.inc('cluster_control_status_writes_total', { cluster: status.cluster.name });
        this.warned = false;
      } catch (err) {
        if (err instanceof EtcdAccessError) {
          this.disabled = true;
          this.options.logger.warn(`not publishing status under ${this.options.prefix}/: ${describeError(err)} (grant this role write on it, or set "status": false)`);
          return;
        }
        if (/lease not found/.test(describeError(err))) this.lease = undefined;
        if (!this.warned) this.options.logger.warn(`could not publish status of ${status.cluster.name}: ${describeError(err)}; trying again`);
        this.warned = true;
        if (!this.closed && !this.timers.has(key)) this.schedule(key, this.options.minIntervalMs ?? 1000);
      }
    });
    this.writing.set(key, next);
    void next.finally(() => {
      if (this.writing.get(key) === next) this.writing.delete(key);
    });
    return next;
  }

  private async ensureLease(): Promise<string> {
    if (this.lease) return this.lease;
    this.granting ??= this.etcd.grantLease(this.options.ttl).finally(() => (this.granting = undefined));
    const lease = await this.granting;
    this.lease = lease;
    this.startKeepAlive();
    return lease;
  }

  /** Keeps the lease alive every third of its TTL; a lease found gone is granted again and every status rewritten. */
  private startKeepAlive(): void {
    clearInterval(this.keepAliveTimer);
    this.keepAliveTimer = setInterval(
      () => {
        const lease = this.lease;
        if (!lease || this.closed) return;
        this.etcd.keepAlive(lease).then(
          (ttl) => {
            if (ttl > 0 || this.lease !== lease) return;
            this.lease = undefined;
            for (const key of this.latest.keys()) void this.write(key);
          },
          () => {}, // etcd away: the next tick tries again; a lease lost meanwhile is found then
        );
      },
      Math.max(500, (this.options.ttl * 1000) / 3),
    );
    this.keepAliveTimer.unref();
  }
}
