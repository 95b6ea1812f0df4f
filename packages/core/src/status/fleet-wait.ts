/*
 * The drain's wait for the fleet (README: Drain): once a registrant deleted its key at revision R,
 * wait until every live watcher of every cluster whose prefix contains the key reports that it
 * applied R with the file current and its reload ok, bounded. Reads the watchers' status records
 * (see status-record.ts); a watcher whose record is gone (its lease expired: dead or frozen past
 * its TTL) is no longer waited for. R is the key's own deletion, an event every watcher of those
 * clusters applies and reports, so the applied revision alone decides; etcd's history (what
 * `status` uses for quiet watchers) is not consulted: a watcher frozen between installing a file
 * and reporting it could look done by it.
 */
import type { EtcdClient, KeyValue } from '../etcd/types.js';
import { describeError } from '../util/describe-error.js';
import { prefixRange } from '../etcd/key-range.js';
import { pagedRange } from '../etcd/paged-range.js';
import { sleep } from '../util/backoff.js';
import type { Logger } from '../util/log.js';
import { type WatcherStatus, parseWatcherStatus, statusClusterPrefix } from './status-record.js';

export interface FleetWaitOptions {
  /** The status prefix the watchers publish under (config `status.prefix`). */
  statusPrefix: string;
  /** The key that was deleted (or put): its clusters are those with the key directly under `path/`. */
  key: string;
  /** Wait until every watcher applied at least this revision. */
  revision: bigint;
  /** Give up after this long (ms); 0: look once. */
  maxMs: number;
  logger: Logger;
  /** Ends the wait early (outcome 'aborted'). */
  signal?: AbortSignal | undefined;
  /** Between two reads of the status records, ms. Default 150. */
  pollMs?: number;
  /** What the log lines start with. Default "drain". */
  label?: string;
}

/** One watcher of one cluster, as the wait saw it. */
export interface FleetWatcher {
  /** The cluster's name and path, as the watcher reports them. */
  cluster: string;
  path: string;
  /** The watcher's id (`host:pid:random`) and command (`watch`, `run`, ...). */
  id: string;
  command: string;
  /** The revision it last reported as applied. */
  appliedRevision: string;
  /** ms from the start of the wait until it reported R applied with its reload ok; absent: it did not. */
  readyAfterMs?: number | undefined;
  /** Its status record disappeared during the wait (it died, or froze past its TTL): no longer waited for. */
  gone?: boolean | undefined;
  /** Why it was not done at the last read (absent once done or gone). */
  reason?: string | undefined;
}

export interface FleetWaitResult {
  /**
   * converged: every live watcher applied R; no-watchers: none reports for a cluster containing
   * the key; timed-out: `maxMs` passed first (`missed` names who); aborted: `signal` ended it.
   */
  outcome: 'converged' | 'no-watchers' | 'timed-out' | 'aborted';
  revision: bigint;
  /** The clusters whose prefix contains the key (those with a reporting watcher). */
  clusters: { name: string; path: string }[];
  /** Every watcher waited for (live at some read during the wait). */
  watchers: FleetWatcher[];
  /** Live watchers not done when the wait ended (empty when converged). */
  missed: FleetWatcher[];
  elapsedMs: number;
}

/** The path of the cluster `key` is a member of, under `path`: the key directly under `path/`. */
export function clusterContains(path: string, key: string): boolean {
  const base = path.replace(/\/+$/, '') + '/';
  if (!key.startsWith(base)) return false;
  const name = key.slice(base.length);
  return name.length > 0 && !name.includes('/');
}

/** Why a watcher has not (yet) applied `revision` with everything ok; undefined when it has. */
export function notDoneReason(status: WatcherStatus, revision: bigint): string | undefined {
  if (!status.fileCurrent) return `file not current${status.problem ? ` (${status.problem})` : ''}`;
  if (status.reload && !status.reload.ok) {
    const detail = [status.reload.exitCode !== undefined ? `exit ${status.reload.exitCode}` : undefined, status.reload.output].filter(Boolean).join('; ');
    return `reload failing${detail ? ` (${detail})` : ''}`;
  }
  if (BigInt(status.appliedRevision) < revision) return `applied ${status.appliedRevision} < ${revision}`;
  return undefined;
}

const watcherKey = (s: WatcherStatus) => `${s.cluster.path}\u0000${s.watcher.id}`;

/**
 * Waits until every live watcher of every cluster containing `key` has applied `revision` with
 * its file current and its last reload ok (a watcher without a reload counts as ok), or `maxMs`
 * passes, or `signal` aborts. Never throws: an etcd that does not answer just makes it time out
 * (logged). Logs who it waited for and how long, and names who missed the bound.
 */
export async function waitForFleet(etcd: Pick<EtcdClient, 'range'>, options: FleetWaitOptions): Promise<FleetWaitResult> {
  const { key, revision, maxMs, logger, signal } = options;
  const label = options.label ?? 'drain';
  const prefix = options.statusPrefix.replace(/\/+$/, '');
  const pollMs = options.pollMs ?? 150;
  const started = Date.now();
  const deadline = started + Math.max(0, maxMs);
  const seen = new Map<string, FleetWatcher>();
  const clusters = new Map<string, string>();
  let live: WatcherStatus[] | undefined;
  let lastError: string | undefined;
  let first = true;

  const bound = new AbortController();
  const onAbort = () => bound.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  const result = (outcome: FleetWaitResult['outcome']): FleetWaitResult => {
    const watchers = [...seen.values()];
    return {
      outcome,
      revision,
      clusters: [...clusters].map(([path, name]) => ({ name, path })),
      watchers,
      missed: outcome === 'converged' || outcome === 'no-watchers' ? [] : watchers.filter((w) => !w.gone && w.readyAfterMs === undefined),
      elapsedMs: Date.now() - started,
    };
  };
  try {
    for (;;) {
      if (signal?.aborted) return finish(result('aborted'), options, label);
      const remaining = deadline - Date.now();
      try {
        // The first read covers every cluster; later ones only those containing the key.
        const ranges = first ? [`${prefix}/`] : [...clusters.keys()].map((path) => statusClusterPrefix(prefix, path));
        live = await withinMs(readStatuses(etcd, ranges, key), Math.max(remaining, 250), bound.signal);
        lastError = undefined;
      } catch (err) {
        const text = describeError(err);
        if (text !== lastError) logger.warn(`${label}: could not read the watchers' status under ${prefix}/: ${text}; still trying`);
        lastError = text;
        live = undefined;
      }
      if (live) {
        if (first && live.length === 0) return finish(result('no-watchers'), options, label);
        first = false;
        note(live);
        const pending = [...seen.values()].filter((w) => !w.gone && w.readyAfterMs === undefined);
        if (pending.length === 0) return finish(result('converged'), options, label);
      }
      if (Date.now() >= deadline) return finish(result('timed-out'), options, label);
      await sleep(Math.min(pollMs, Math.max(0, deadline - Date.now())), bound.signal);
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    bound.abort();
  }

  function note(statuses: WatcherStatus[]): void {
    const now = Date.now() - started;
    const present = new Set<string>();
    for (const s of statuses) {
      const id = watcherKey(s);
      present.add(id);
      clusters.set(s.cluster.path, s.cluster.name);
      const w = seen.get(id) ?? { cluster: s.cluster.name, path: s.cluster.path, id: s.watcher.id, command: s.watcher.command, appliedRevision: s.appliedRevision };
      seen.set(id, w);
      w.appliedRevision = s.appliedRevision;
      w.gone = undefined;
      const reason = notDoneReason(s, revision);
      if (reason === undefined) {
        w.readyAfterMs ??= now;
        w.reason = undefined;
      } else {
        // A reload failing after it was done still counts as done: R is in its file.
        if (w.readyAfterMs === undefined) w.reason = reason;
      }
    }
    for (const [id, w] of seen) {
      if (!present.has(id) && !w.gone && w.readyAfterMs === undefined) {
        w.gone = true;
        w.reason = undefined;
        logger.info(`${label}: watcher ${named(w)} is gone (its status expired); not waiting for it`);
      }
    }
  }
}

/** The parsed status records under `ranges` of clusters containing `key`. */
async function readStatuses(etcd: Pick<EtcdClient, 'range'>, ranges: string[], key: string): Promise<WatcherStatus[]> {
  const out: WatcherStatus[] = [];
  const onPage = (kvs: KeyValue[]) => {
    for (const kv of kvs) {
      const status = parseWatcherStatus(kv.value);
      if (status && clusterContains(status.cluster.path, key)) out.push(status);
    }
  };
  for (const range of ranges) await pagedRange(etcd, prefixRange(range), { onPage });
  return out;
}

/** `promise`, or a rejection once `ms` passed (or `signal` aborted) without it settling. */
async function withinMs<T>(promise: Promise<T>, ms: number, signal: AbortSignal): Promise<T> {
  promise.catch(() => {});
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await Promise.race([
      promise,
      sleep(Math.max(ms, 0), stop.signal).then(() => {
        throw new Error(signal.aborted ? 'stopped' : `no answer within ${ms} ms`);
      }),
    ]);
  } finally {
    signal.removeEventListener('abort', onAbort);
    stop.abort();
  }
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const named = (w: FleetWatcher) => `${w.cluster}: ${w.id}${w.command ? ` (${w.command})` : ''}`;

/** One line per outcome: who was waited for and how long, and who missed the bound. */
export function describeFleetWait(result: FleetWaitResult, key: string): string {
  const { revision, watchers, missed, elapsedMs } = result;
  if (result.outcome === 'no-watchers') return `no watcher of a cluster containing ${key} reports its status; not waiting for the fleet`;
  const names = [...new Set(result.clusters.map((c) => c.name))].join(', ');
  const done = watchers.filter((w) => w.readyAfterMs !== undefined).map((w) => `${named(w)} after ${seconds(w.readyAfterMs!)}`);
  const gone = watchers.filter((w) => w.gone).map(named);
  const parts = [`waited ${seconds(elapsedMs)} for ${watchers.length} watcher${watchers.length === 1 ? '' : 's'} of ${names} to apply revision ${revision}`];
  if (done.length > 0) parts.push(`applied: ${done.join(', ')}`);
  if (gone.length > 0) parts.push(`gone meanwhile: ${gone.join(', ')}`);
  if (missed.length > 0) {
    const why = missed.map((w) => `${named(w)}: ${w.reason ?? `applied ${w.appliedRevision}`}`).join(', ');
    parts.push(`${result.outcome === 'aborted' ? 'stopped waiting for' : 'missed the bound'}: ${why}`);
  }
  return parts.join('; ');
}

function finish(result: FleetWaitResult, options: FleetWaitOptions, label: string): FleetWaitResult {
  const line = `${label}: ${describeFleetWait(result, options.key)}`;
  if (result.missed.length > 0) options.logger.warn(line);
  else options.logger.info(line);
  return result;
}
