import type { EtcdConnection } from '../etcd/connection.js';
import { prefixRange } from '../etcd/key-range.js';
import { Debouncer } from '../install/debounce.js';
import { Reloader } from '../install/reloader.js';
import { LogOnce } from '../model/log-once.js';
import { Membership, type MembershipDiagnostics } from '../model/membership.js';
import type { Logger } from '../util/log.js';
import type { Metrics } from '../util/metrics.js';
import { ResilientWatch, type ResilientWatchOptions } from '../watch/resilient-watch.js';
import { type ClusterTarget, type InstallOutcome, renderAndInstall } from './cluster-target.js';
import { logDiagnostics } from './prepare.js';
import { reloadEnvironment } from './reload-env.js';

export interface ClusterSyncOptions {
  target: ClusterTarget;
  /** Reload command (argv), run after each replacement. */
  reload?: string[] | undefined;
  reloadTimeoutMs?: number;
  wait?: { min: number; max: number } | undefined;
  /** Continue from `prepare`'s revision: every change after it is applied. */
  startRevision?: bigint | undefined;
  logger: Logger;
  metrics?: Metrics | undefined;
  /** Told after every install attempt (tests and the supervisor use it). */
  onOutcome?: (outcome: InstallOutcome, members: number) => void;
  watch?: Pick<ResilientWatchOptions, 'progressIntervalMs' | 'stallTimeoutMs' | 'backoff'>;
}

/**
 * One cluster's pipeline: etcd (ResilientWatch) → membership (pure) → render (pure handler)
 * → atomic install (+ check) → reload. Renders are serialised; a change that arrives during a
 * render is applied right after it.
 */
export class ClusterSync {
  private readonly membership: Membership;
  private readonly watch: ResilientWatch;
  private readonly debouncer: Debouncer;
  private readonly reloader: Reloader | undefined;
  private readonly logOnce = new LogOnce();
  private rendering: Promise<void> | undefined;
  private again = false;
  /** A failed check or write is retried on the next change, even if that change renders the same. */
  private retryPending = true;
  /** Every change up to this revision has been applied to `membership` (the last read, then events). */
  private applied = 0n;

  constructor(
    etcd: EtcdConnection,
    private readonly options: ClusterSyncOptions,
  ) {
    const { target, logger, metrics } = options;
    this.membership = new Membership(target.path);
    // With `wait`, quiet is judged at the source: etcd pausing delivery to a watch that fell
    // behind (a burst) is not quiet while it still holds newer keys than those applied.
    const settled = async () => (await etcd.newestModRevision(prefixRange(target.path + '/'))) <= this.applied;
    this.debouncer = new Debouncer(options.wait, () => this.render(), undefined, settled);
    if (options.reload && options.reload.length > 0) {
      this.reloader = new Reloader({
        argv: options.reload,
        timeoutMs: options.reloadTimeoutMs ?? 30_000,
        cluster: target.name,
        logger,
        ...(metrics ? { metrics } : {}),
        envFor: () => {
          const env = reloadEnvironment(target.name, target.file, this.membership.members());
          if (env.CLUSTER_CONTROL_MEMBERS_OMITTED && this.logOnce.first('members-env-omitted')) {
            logger.warn(`${target.name}: ${env.CLUSTER_CONTROL_MEMBER_COUNT} members are too many for CLUSTER_CONTROL_MEMBERS; reloads get CLUSTER_CONTROL_MEMBERS_OMITTED=1 instead (read ${target.file})`);
          }
          return env;
        },
      });
    }
    this.watch = new ResilientWatch(
      etcd,
      prefixRange(target.path + '/'),
      {
        snapshot: (kvs, revision) => {
          this.applied = revision;
          this.report(this.membership.reset(kvs));
          this.changed();
        },
        events: (events) => {
          for (const e of events) if (e.modRevision > this.applied) this.applied = e.modRevision;
          this.report(this.membership.apply(events));
          this.changed();
        },
      },
      { logger, metrics, label: target.name, startRevision: options.startRevision, ...options.watch },
    );
  }

  /** Starts watching; resolves once the first state from etcd has been read. */
  async start(): Promise<void> {
    this.watch.start();
    await this.watch.synced;
  }

  /** Resolves when the watch ended: after stop(), or with a non-retryable error. */
  done(): Promise<void> {
    return this.watch.done();
  }

  get revision(): bigint {
    return this.watch.revision;
  }

  /** Resolves when no render or reload is pending. */
  async idle(): Promise<void> {
    while (this.rendering || this.debouncer.pending) {
      if (this.debouncer.pending) this.debouncer.flushNow();
      await this.rendering;
    }
    await this.reloader?.idle();
  }

  async stop(): Promise<void> {
    await this.watch.stop();
    this.debouncer.cancel();
    await this.rendering;
    await this.reloader?.close();
  }

  private report(diagnostics: MembershipDiagnostics): void {
    // Once per key: a bad key stays bad across every re-read.
    const { target, logger, metrics } = this.options;
    logDiagnostics(target.name, target.path, diagnostics, logger, metrics, this.logOnce);
  }

  private changed(): void {
    const changed = this.membership.takeChanged();
    this.options.metrics?.set('cluster_control_members', this.membership.size, { cluster: this.options.target.name });
    if (changed || this.retryPending) this.debouncer.trigger();
  }

  private render(): void {
    if (this.rendering) {
      this.again = true;
      return;
    }
    this.rendering = (async () => {
      do {
        this.again = false;
        const members = this.membership.members();
        const outcome = await renderAndInstall(this.options.target, members, this.options.logger, this.options.metrics, this.logOnce);
        this.retryPending = outcome === 'check-failed' || outcome === 'failed' || outcome === 'refused';
        if (outcome === 'installed') this.reloader?.request();
        this.options.onOutcome?.(outcome, members.length);
      } while (this.again);
    })().finally(() => (this.rendering = undefined));
  }
}
