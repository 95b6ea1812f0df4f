import type { EtcdConnection, KeyValue, WatchEvent, WatchHandle } from '../etcd/types.js';
import { CompactedError, EtcdAccessError, EtcdUnavailableError } from '../etcd/errors.js';
import { describeError } from '../util/describe-error.js';
import type { KeyRange } from '../etcd/key-range.js';
import { type PagedRangeResult, pagedRange } from '../etcd/paged-range.js';
import { Backoff, type BackoffOptions, sleep } from '../util/backoff.js';
import type { Logger } from '../util/log.js';
import type { Metrics } from '../util/metrics.js';

export type SnapshotReason = 'start' | 'resync' | 'compacted';

/** A snapshot delivered page by page (see `WatchSink.beginSnapshot`). */
export interface SnapshotPages {
  /** The next page of the snapshot: key-values in key order. */
  page(kvs: KeyValue[]): void | Promise<void>;
  /** Every page was delivered: together they are the complete state of the range at `revision`. */
  end(revision: bigint): void | Promise<void>;
}

/** Where a ResilientWatch delivers what it learns. Called in revision order, never concurrently. */
export interface WatchSink {
  /** The complete state of the range at `revision` (replaces everything known before). */
  snapshot(kvs: KeyValue[], revision: bigint, reason: SnapshotReason): void | Promise<void>;
  /**
   * Optional: take each full read page by page instead of as one array, so that a range too
   * large to hold (hundreds of MB of values) never is: the sink keeps what it needs of each page
   * (e.g. `Membership.beginReset()`, which drops values over the caps as they arrive). Called at
   * the start of every read; when present, `snapshot` is not called. A read that fails part-way
   * never calls `end()`: the sink must then still hold its state from before the read (drop
   * what the pages gave it).
   */
  beginSnapshot?(reason: SnapshotReason): SnapshotPages;
  /** Changes after the last snapshot/events, as one batch (one etcd watch response). */
  events(events: WatchEvent[], revision: bigint): void | Promise<void>;
  /** Optional: etcd confirmed that nothing changed in the range up to `revision` (a progress notification). */
  progress?(revision: bigint): void;
}

export interface ResilientWatchOptions {
  /** Continue from this revision: the state at it is read, then every change after it applied. */
  startRevision?: bigint | undefined;
  /** How often to ask etcd for a progress notification on an idle watch. */
  progressIntervalMs?: number;
  /** No response at all for this long = the watch is broken (silence is never "no changes"). */
  stallTimeoutMs?: number;
  backoff?: BackoffOptions;
  logger: Logger;
  metrics?: Metrics | undefined;
  /** For logs and metrics, e.g. the cluster name. */
  label: string;
}

/**
 * Keeps a sink in step with a key range in etcd, whatever happens to the connection:
 * read (consistent) → watch from read revision + 1 → on any break (disconnect, compaction,
 * stall, cancel) back off, re-read everything, watch again. While etcd is unreachable the sink
 * hears nothing, so what it built from the last good state stays as it is.
 */
export class ResilientWatch {
  private readonly controller = new AbortController();
  private readonly backoff: Backoff;
  private readonly progressIntervalMs: number;
  private readonly stallTimeoutMs: number;
  private loop: Promise<void> | undefined;
  private firstSync!: { resolve: () => void; reject: (err: Error) => void };
  /** Resolves once the first state was delivered and the watch after it confirmed; rejects on a non-retryable error before that. */
  readonly synced: Promise<void>;
  /** The revision the sink's state corresponds to. */
  revision = 0n;

  constructor(
    private readonly etcd: EtcdConnection,
    private readonly range: KeyRange,
    private readonly sink: WatchSink,
    private readonly options: ResilientWatchOptions,
  ) {
    this.backoff = new Backoff(options.backoff);
    this.progressIntervalMs = options.progressIntervalMs ?? 5_000;
    this.stallTimeoutMs = options.stallTimeoutMs ?? 3 * this.progressIntervalMs;
    this.synced = new Promise((resolve, reject) => (this.firstSync = { resolve, reject }));
    this.synced.catch(() => {}); // observed by whoever awaits it; never an unhandled rejection
  }

  start(): this {
    this.loop ??= this.run();
    return this;
  }

  /** Stops watching; resolves when the loop has ended. */
  async stop(): Promise<void> {
    this.controller.abort();
    await this.loop;
  }

  /** Resolves when stop() was called or a non-retryable error ended the watch (then rejects). */
  done(): Promise<void> {
    return this.start().loop!;
  }

  /** Records what the sink now reflects (`applied`) and the newest etcd revision heard of. */
  private setRevision(applied: bigint, etcdRevision: bigint): void {
    this.revision = applied;
    const { metrics, label } = this.options;
    metrics?.set('cluster_control_revision', Number(applied), { cluster: label });
    metrics?.set('cluster_control_etcd_revision', Number(etcdRevision > applied ? etcdRevision : applied), { cluster: label });
  }

  private get stopped() {
    return this.controller.signal.aborted;
  }

  private async run(): Promise<void> {
    const { logger, label, metrics } = this.options;
    let reason: SnapshotReason = 'start';
    let first = true;
    while (!this.stopped) {
      try {
        const from = first ? await this.initialRead() : await this.read(reason);
        first = false;
        const why = await this.watchFrom(from);
        if (why === 'stopped') return;
        reason = why === 'compacted' ? 'compacted' : 'resync';
      } catch (err) {
        if (this.stopped) return;
        if (err instanceof EtcdAccessError) {
          // Permission or authentication problems do not heal by retrying.
          this.firstSync.reject(err);
          throw err;
        }
        reason = err instanceof CompactedError ? 'compacted' : 'resync';
        logger.warn(`${label}: etcd unavailable (${describeError(err)}); retrying`);
      }
      metrics?.inc('cluster_control_watch_resyncs_total', { cluster: label, reason });
      await sleep(this.backoff.next(), this.controller.signal);
    }
  }

  /** The first read: at the hand-off revision when one was given, so nothing after it is lost. */
  private async initialRead(): Promise<bigint> {
    const start = this.options.startRevision;
    if (start === undefined) return this.read('start');
    try {
      const res = await this.readPages('start', start);
      this.setRevision(start, res.headerRevision);
      return start + 1n;
    } catch (err) {
      if (err instanceof CompactedError) {
        this.options.logger.warn(`${this.options.label}: revision ${start} has been compacted; re-reading everything`);
        return this.read('compacted');
      }
      if (/future revision/.test(describeError(err))) {
        this.options.logger.warn(`${this.options.label}: revision ${start} is newer than etcd's; re-reading everything`);
        return this.read('resync');
      }
      throw err;
    }
  }

  private async read(reason: SnapshotReason): Promise<bigint> {
    const res = await this.readPages(reason);
    if (reason === 'compacted') this.options.logger.info(`${this.options.label}: re-read after compaction at revision ${res.revision}`);
    else if (reason === 'resync') this.options.logger.info(`${this.options.label}: re-read at revision ${res.revision}`);
    this.setRevision(res.revision, res.revision);
    return res.revision + 1n;
  }

  /**
   * Reads the whole range in pages at one revision (`revision`, or the current one) and hands
   * it to the sink: page by page when it takes pages, else as one array once all arrived.
   */
  private async readPages(reason: SnapshotReason, revision?: bigint): Promise<PagedRangeResult> {
    const pages = this.sink.beginSnapshot?.(reason);
    if (pages) {
      const res = await pagedRange(this.etcd, this.range, { revision, onPage: (kvs) => pages.page(kvs) });
      await pages.end(res.revision);
      return res;
    }
    const all: KeyValue[] = [];
    const res = await pagedRange(this.etcd, this.range, {
      revision,
      onPage: (kvs) => {
        for (const kv of kvs) all.push(kv);
      },
    });
    await this.sink.snapshot(all, res.revision, reason);
    return res;
  }

  /** Watches until the stream breaks or stop() is called. */
  private watchFrom(from: bigint): Promise<'stopped' | 'broken' | 'compacted'> {
    const { logger, label, metrics } = this.options;
    return new Promise((resolve, reject) => {
      let handle: WatchHandle | undefined;
      let lastHeard = Date.now();
      let settled = false;
      // Batches are applied one after another even if the sink is async.
      let chain = Promise.resolve();
      /** `err` set = fatal (not retryable): the loop ends with it. */
      const end = (why: 'stopped' | 'broken' | 'compacted', err?: Error) => {
        if (settled) return;
        settled = true;
        clearInterval(ticker);
        this.controller.signal.removeEventListener('abort', onAbort);
        handle?.close();
        void chain.then(() => (err ? reject(err) : resolve(why)));
      };
      const onAbort = () => end('stopped');
      // stop() during the read before this watch: the abort event has fired already and would never reach onAbort.
      if (this.stopped) return resolve('stopped');
      this.controller.signal.addEventListener('abort', onAbort, { once: true });
      const ticker = setInterval(() => {
        if (Date.now() - lastHeard > this.stallTimeoutMs) {
          logger.warn(`${label}: watch silent for over ${this.stallTimeoutMs} ms; re-creating it`);
          metrics?.inc('cluster_control_watch_stalls_total', { cluster: label });
          // Tells the connection its member stopped answering, so the re-read goes elsewhere.
          handle?.close(new EtcdUnavailableError(`watch silent for over ${this.stallTimeoutMs} ms`));
          end('broken');
        } else {
          handle?.requestProgress();
        }
      }, this.progressIntervalMs);
      ticker.unref?.();

      this.etcd
        .watch(this.range, from, {
          onEvents: (events, revision) => {
            lastHeard = Date.now();
            chain = chain
              .then(async () => {
                if (settled) return;
                await this.sink.events(events, revision);
                metrics?.inc('cluster_control_events_total', { cluster: label }, events.length);
                const last = events[events.length - 1]!.modRevision;
                this.setRevision(last > this.revision ? last : this.revision, revision);
              })
              .catch((err) => {
                logger.error(`${label}: applying changes failed (${describeError(err)}); re-reading`);
                end('broken');
              });
          },
          onProgress: (headerRevision) => {
            lastHeard = Date.now();
            // etcd only notifies progress on a watch that has sent every event up to it.
            chain = chain.then(() => {
              if (!settled && headerRevision > this.revision) {
                this.setRevision(headerRevision, headerRevision);
                this.sink.progress?.(headerRevision);
              }
            });
          },
          onBroken: (err) => {
            if (err instanceof CompactedError) logger.warn(`${label}: watch revision compacted (${describeError(err)})`);
            else if (!this.stopped) logger.warn(`${label}: watch broken (${describeError(err)})`);
            end(err instanceof CompactedError ? 'compacted' : 'broken');
          },
        })
        .then(
          (h) => {
            handle = h;
            lastHeard = Date.now();
            if (settled) return h.close();
            this.backoff.reset();
            this.firstSync.resolve();
          },
          (err: Error) => {
            if (err instanceof CompactedError) return end('compacted');
            if (err instanceof EtcdAccessError) return end('broken', err);
            logger.warn(`${label}: could not open watch (${describeError(err)})`);
            end('broken');
          },
        );
    });
  }
}
