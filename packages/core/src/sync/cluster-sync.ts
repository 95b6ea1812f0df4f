import { createHash } from 'node:crypto';
import type { EtcdConnection } from '../etcd/types.js';
import { prefixRange } from '../etcd/key-range.js';
import { Debouncer } from '../install/debounce.js';
import { Reloader } from '../install/reloader.js';
import { LogOnce } from '../model/log-once.js';
import { Membership, type MembershipDiagnostics } from '../model/membership.js';
import type { QuarantinedMember } from '../model/quarantine.js';
import { Backoff } from '../util/backoff.js';
import type { Logger } from '../util/log.js';
import type { Metrics } from '../util/metrics.js';
import type { ReloadOutcome } from '../install/reloader.js';
import { StatusPublisher } from '../status/status-publisher.js';
import { DEFAULT_STATUS_PREFIX, DEFAULT_STATUS_TTL, type RunOutcome } from '../status/status-record.js';
import { ResilientWatch, type ResilientWatchOptions } from '../watch/resilient-watch.js';
import type { ClusterTarget, InstallOutcome } from './cluster-target.js';
import { HostResolver } from './host-resolver.js';
import { logDiagnostics, membershipQuarantine } from './prepare.js';
import { reportQuarantine } from './quarantine-report.js';
import { reloadEnvironment } from './reload-env.js';
import { SafeInstaller } from './safe-install.js';
import { renderedBytes } from './cluster-target.js';

/** Quarantined members listed in a status record at most (the total is given beyond it). */
const MAX_PUBLISHED_QUARANTINE = 100;

export interface ClusterSyncOptions {
  target: ClusterTarget;
  /** Reload command (argv), run after each replacement. */
  reload?: string[] | undefined;
  /** Instead of a command: what reloading means (e.g. a signal to a supervised server); a rejection is a failed reload. */
  reloadAction?: (() => Promise<void>) | undefined;
  reloadTimeoutMs?: number;
  /** Least time between two reloads, ms (default 1000): a flapping member must not reload the server hundreds of times a second. */
  reloadMinIntervalMs?: number | undefined;
  wait?: { min: number; max: number } | undefined;
  /** Continue from `prepare`'s revision: every change after it is applied. */
  startRevision?: bigint | undefined;
  logger: Logger;
  metrics?: Metrics | undefined;
  /** Told after every install attempt (tests and the supervisor use it). */
  onOutcome?: (outcome: InstallOutcome, members: number) => void;
  watch?: Pick<ResilientWatchOptions, 'progressIntervalMs' | 'stallTimeoutMs' | 'backoff'>;
  /** Resolves member host names (bounded, cached); one per process can be shared. */
  resolver?: HostResolver | undefined;
  /** Delays between retries of an install that failed (write error, check failing with no member to blame). */
  retry?: { initialMs: number; maxMs: number } | undefined;
  /**
   * Where this watcher publishes what it applied (README: Is the fleet in step?), usually one per
   * process, closed by whoever made it. Absent: the sync makes its own under the default prefix
   * (and closes it on stop); false: nothing is published.
   */
  status?: StatusPublisher | false | undefined;
}

/** Whether the file reflects the current members, and if not, why (for /readyz and status). */
export interface FileState {
  current: boolean;
  problem?: string | undefined;
}

/**
 * One cluster's pipeline: etcd (ResilientWatch) → membership (pure) → safe install (address
 * policy, render, check, quarantine of members that break them, atomic install) → reload.
 * Renders are serialised; a change that arrives during a render is applied right after it. An
 * install that fails is retried on a timer as well as on the next change.
 */
export class ClusterSync {
  private readonly membership: Membership;
  private readonly watch: ResilientWatch;
  private readonly debouncer: Debouncer;
  private readonly reloader: Reloader | undefined;
  private readonly installer: SafeInstaller;
  private readonly resolver: HostResolver;
  private readonly logOnce = new LogOnce();
  private readonly retryBackoff: Backoff;
  private readonly status: StatusPublisher | undefined;
  /** The publisher was made here (no `status` option): closed on stop. */
  private readonly ownsStatus: boolean;
  private retryTimer: NodeJS.Timeout | undefined;
  private rendering: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  /** A failed check or write is retried on the next change, even if that change renders the same. */
  private retryPending = true;
  /** Every change up to this revision has been applied to `membership` (the last read, then events). */
  private applied = 0n;
  private quarantine: QuarantinedMember[] = [];
  /** Until a render says otherwise, the file is what `prepare` wrote. */
  private state: FileState = { current: true };
  // What the fleet view publishes (README: Is the fleet in step?). The file reflects the members as
  // of `fileRevision`; with a reload, a revision counts as applied only once a reload that started
  // after its install succeeded (`appliedRevision`), so a drain waiting for it knows the server has
  // the file too.
  private fileRevision = 0n;
  private reloadedRevision = 0n;
  /** Bumped by every install; a reload run that started at the current epoch covers every install. */
  private installEpoch = 0;
  private reloadCoversEpoch = 0;
  private reloadCoversRevision = 0n;
  private reloadRunEpoch = 0;
  private reloadRunRevision = 0n;
  /** The file as last installed or found: its text, or for a render made as bytes those bytes (not decoded). */
  private installed: { count: number; text: string | undefined; bytes?: Buffer | undefined; sha256: string | null; at: string | null } = { count: 0, text: undefined, sha256: null, at: null };
  private checkOutcome: RunOutcome | null = null;
  private reloadOutcome: RunOutcome | null = null;

  constructor(
    etcd: EtcdConnection,
    private readonly options: ClusterSyncOptions,
  ) {
    const { target, logger, metrics } = options;
    this.membership = new Membership(target.path, target.limits);
    this.resolver = options.resolver ?? new HostResolver();
    this.installer = new SafeInstaller(target, logger, metrics, this.logOnce, this.resolver);
    this.retryBackoff = new Backoff(options.retry ?? { initialMs: 1_000, maxMs: 30_000 });
    this.ownsStatus = options.status === undefined;
    this.status = this.ownsStatus ? new StatusPublisher(etcd, { prefix: DEFAULT_STATUS_PREFIX, ttl: DEFAULT_STATUS_TTL, command: 'api', logger, metrics }) : options.status || undefined;
    // With `wait`, quiet is judged at the source: etcd pausing delivery to a watch that fell
    // behind (a burst) is not quiet while it still holds newer keys than those applied.
    const settled = async () => (await etcd.newestModRevision(prefixRange(target.path + '/'))) <= this.applied;
    this.debouncer = new Debouncer(options.wait, () => this.render(), undefined, settled);
    const reloadCommon = {
      timeoutMs: options.reloadTimeoutMs ?? 30_000,
      minIntervalMs: options.reloadMinIntervalMs ?? 1_000,
      cluster: target.name,
      onRunStart: () => {
        this.reloadRunEpoch = this.installEpoch;
        this.reloadRunRevision = this.fileRevision;
      },
      onRunEnd: (outcome: ReloadOutcome) => this.reloaded(outcome),
      logger,
      ...(metrics ? { metrics } : {}),
    };
    if (options.reload && options.reload.length > 0) {
      this.reloader = new Reloader({
        ...reloadCommon,
        argv: options.reload,
        envFor: () => {
          const env = reloadEnvironment(target.name, target.file, this.membership.members());
          if (env.CLUSTER_CONTROL_MEMBERS_OMITTED && this.logOnce.first('members-env-omitted')) {
            logger.warn(
              `${target.name}: ${env.CLUSTER_CONTROL_MEMBER_COUNT} members are too many for CLUSTER_CONTROL_MEMBERS; reloads get CLUSTER_CONTROL_MEMBERS_OMITTED=1 instead (read ${target.file})`,
            );
          }
          return env;
        },
      });
    } else if (options.reloadAction) {
      this.reloader = new Reloader({ ...reloadCommon, argv: [], action: options.reloadAction, envFor: () => ({}) });
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
        // Page by page: an oversized value is dropped as its page arrives, never held for the whole read.
        beginSnapshot: () => {
          const reset = this.membership.beginReset();
          return {
            page: (kvs) => reset.add(kvs),
            end: (revision) => {
              this.applied = revision;
              this.report(reset.end());
              this.changed();
            },
          };
        },
        events: (events) => {
          for (const e of events) if (e.modRevision > this.applied) this.applied = e.modRevision;
          this.report(this.membership.apply(events));
          this.changed();
        },
        // No status write for a progress notification: readers tell from etcd's history that
        // nothing changed since what a quiet watcher applied (member-history.ts), and a write
        // here would move etcd's revision on for every other watcher to notice in turn.
        progress: (revision) => {
          if (revision > this.applied) this.applied = revision;
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

  /** Members left out of the file, with why, as of the last render. */
  quarantined(): readonly QuarantinedMember[] {
    return this.quarantine;
  }

  /** Whether the file reflects the members as of the last render. */
  fileState(): FileState {
    return this.state;
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
    this.stopped = true;
    clearTimeout(this.retryTimer);
    await this.watch.stop();
    this.debouncer.cancel();
    await this.rendering;
    await this.reloader?.close();
    if (this.ownsStatus) await this.status?.close();
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
    else this.caughtUp();
  }

  /** Nothing to render for the changes up to `applied`: the file already reflects them. */
  private caughtUp(): void {
    if (this.rendering || this.debouncer.pending || !this.state.current || this.applied <= this.fileRevision) return;
    this.fileRevision = this.applied;
    this.publish();
  }

  private render(): void {
    if (this.rendering) {
      this.again = true;
      return;
    }
    this.rendering = (async () => {
      do {
        this.again = false;
        const revision = this.applied;
        const members = this.membership.members();
        const result = await this.installer.install(members);
        const { target, logger, metrics } = this.options;
        this.noteInstall(result, revision);
        this.quarantine = [...membershipQuarantine(this.membership), ...result.quarantined];
        reportQuarantine(target.name, this.quarantine, logger, metrics, this.logOnce);
        const failed = result.outcome === 'check-failed' || result.outcome === 'failed';
        this.retryPending = failed || result.outcome === 'refused';
        this.setState(failed ? { current: false, problem: `${target.file} not current: ${result.reason ?? result.outcome}` } : { current: true });
        if (failed) this.retryLater(this.retryBackoff.next());
        else if (this.quarantine.some((q) => q.kind === 'unresolved')) this.retryLater(this.resolver.negativeTtlMs);
        else this.retryBackoff.reset();
        // A file written empty at first start is a new file too: the server may read it now.
        if (result.outcome === 'installed' || result.wroteEmpty) this.reloader?.request();
        this.options.onOutcome?.(result.outcome, result.outcome === 'installed' || result.outcome === 'unchanged' ? result.installed.length : members.length);
        this.publish();
      } while (this.again);
    })().finally(() => (this.rendering = undefined));
  }

  /** Every change up to this revision is in the file, and reloaded when the cluster reloads. */
  get appliedRevision(): bigint {
    return this.reloader && this.reloadCoversEpoch < this.installEpoch ? this.reloadedRevision : this.fileRevision;
  }

  private noteInstall(result: Awaited<ReturnType<SafeInstaller['install']>>, revision: bigint): void {
    const now = new Date().toISOString();
    if (result.outcome === 'installed' || result.outcome === 'unchanged') {
      if (revision > this.fileRevision) this.fileRevision = revision;
      const bytes = renderedBytes(result);
      const content = bytes ? { text: undefined, bytes } : { text: result.text };
      if (result.outcome === 'installed') {
        this.installEpoch++;
        this.installed = { count: result.installed.length, ...content, sha256: null, at: now };
        this.options.metrics?.set('cluster_control_last_install_timestamp_seconds', Date.now() / 1000, { cluster: this.options.target.name });
      } else if (!this.sameContent(content) || this.installed.at === null) {
        // The file as found (e.g. written by `prepare` just before): current since now.
        this.installed = { count: result.installed.length, ...content, sha256: null, at: this.installed.at ?? now };
        if (this.installed.at === now) this.options.metrics?.set('cluster_control_last_install_timestamp_seconds', Date.now() / 1000, { cluster: this.options.target.name });
      }
      if (this.options.target.check) this.checkOutcome = { ok: true };
    } else if (result.outcome === 'refused') {
      // Held at minMembers on purpose (or written empty at first start): this is the file this
      // watcher keeps for that revision, so it counts as applied (a drain need not wait for it).
      if (revision > this.fileRevision) this.fileRevision = revision;
      if (result.wroteEmpty) {
        this.installEpoch++;
        this.installed = { count: 0, text: result.text, sha256: null, at: now };
      }
    } else if (result.stage === 'check') {
      this.checkOutcome = { ok: false, output: result.reason, since: this.checkOutcome?.ok === false ? this.checkOutcome.since : now };
    }
  }

  /** Whether `content` is the file last installed or found (bytes against bytes, else as text). */
  private sameContent(content: { text: string | undefined; bytes?: Buffer | undefined }): boolean {
    const { installed } = this;
    if (content.bytes && installed.bytes) return content.bytes.equals(installed.bytes);
    const text = (c: { text: string | undefined; bytes?: Buffer | undefined }) => (c.bytes ? c.bytes.toString('utf8') : c.text);
    return text(content) === text(installed);
  }

  private reloaded(outcome: ReloadOutcome): void {
    if (outcome.ok) {
      this.reloadedRevision = this.reloadRunRevision;
      this.reloadCoversEpoch = this.reloadRunEpoch;
      this.reloadOutcome = { ok: true };
    } else {
      const since = this.reloadOutcome?.ok === false ? this.reloadOutcome.since : new Date().toISOString();
      this.reloadOutcome = { ok: false, exitCode: outcome.exitCode, output: outcome.output, since };
    }
    this.publish();
  }

  /** Tells the fleet view what this watcher applied (coalesced by the publisher). */
  private publish(): void {
    const { status } = this;
    const { target } = this.options;
    if (!status) return;
    const content = this.installed.bytes ?? this.installed.text;
    if (this.installed.sha256 === null && content !== undefined) this.installed.sha256 = createHash('sha256').update(content).digest('hex');
    status.update({
      cluster: { name: target.name, path: target.path },
      file: target.file,
      appliedRevision: this.appliedRevision.toString(),
      installedRevision: this.fileRevision.toString(),
      members: this.installed.count,
      sha256: this.installed.sha256,
      installedAt: this.installed.at,
      check: this.checkOutcome,
      reload: this.reloadOutcome,
      fileCurrent: this.state.current,
      ...(this.state.problem ? { problem: this.state.problem } : {}),
      // Bounded: a flood of bad members must not make every watcher's record (and `status`'s read) huge.
      quarantined: this.quarantine.slice(0, MAX_PUBLISHED_QUARANTINE).map(({ name, kind, reason }) => ({ name, kind, reason: reason.slice(0, 200) })),
      ...(this.quarantine.length > MAX_PUBLISHED_QUARANTINE ? { quarantinedTotal: this.quarantine.length } : {}),
    });
  }

  private setState(state: FileState): void {
    this.state = state;
    this.options.metrics?.set('cluster_control_file_current', state.current ? 1 : 0, { cluster: this.options.target.name });
  }

  /** Renders again after `ms` even if nothing changes (a failed install; a host name that may resolve by then). */
  private retryLater(ms: number): void {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.retryPending = true;
      this.debouncer.trigger();
    }, ms);
    this.retryTimer.unref();
  }
}
