import type { EtcdClient } from '@cluster-control/core';
import {
  type MembersNow,
  type WatcherStatus,
  DEFAULT_STATUS_PREFIX,
  MemberHistory,
  hashMismatches,
  parseWatcherStatus,
  readClusterStatuses,
  runOutcomeCell,
  watcherState,
} from '@cluster-control/core/status';
import { describeError } from '@cluster-control/core/util';

// The fleet table of the load balancer's page (README: Is the fleet in step?): every watcher of the
// demo's clusters publishes what it applied under the status prefix (core's StatusPublisher, on by
// default in the Supervisor); the load balancer reads those records back with core's helpers and
// pushes them to the page next to its own report. Values come from etcd: parsed, never trusted.

/** One live watcher of a cluster, as the page shows it. */
export interface FleetWatcher {
  id: string;
  /** What the watcher runs as (`run` for the demo apps) and its process id. */
  command: string;
  pid: number;
  state: 'SYNCED' | 'BEHIND' | 'ERROR';
  reason?: string;
  appliedRevision: string;
  members: number;
  /** The last reload: ok, exit N, failed, or - (none yet). */
  reload: string;
  /** First 12 hex digits of the installed file's sha256 ('-' before the first install). */
  hash: string;
}

export interface FleetCluster {
  name: string;
  path: string;
  /** The newest change under the cluster's prefix (decimal; 0: no members). */
  revision: string;
  watchers: FleetWatcher[];
  /** Groups of watchers that should have the same file and do not (see core's hashMismatches). */
  mismatches: number;
}

/** The body of GET /fleet.json (and of every `fleet` event). */
export interface FleetReport {
  statusPrefix: string;
  clusters: FleetCluster[];
  /** Why the last read failed (the clusters are then the previous read's). */
  error?: string;
}

export interface FleetSource {
  name: string;
  /** The cluster's path (members under `path/`). */
  path: string;
}

const MAX_TEXT = 200;
const clip = (text: string) => (text.length <= MAX_TEXT ? text : `${text.slice(0, MAX_TEXT - 1)}…`);

/**
 * One cluster's table from what is known of its members now (the newest change's revision, and
 * which applied revisions still have those members) and the raw status values under its status
 * prefix. Pure.
 */
export function fleetCluster(source: FleetSource, now: MembersNow | bigint, values: readonly string[]): FleetCluster {
  return fleetClusterOf(
    source,
    now,
    values.map(parseWatcherStatus).filter((s) => s !== undefined),
  );
}

/** One cluster's table from what is known of its members now and its watchers' (parsed) statuses. Pure. */
function fleetClusterOf(source: FleetSource, now: MembersNow | bigint, parsed: readonly WatcherStatus[]): FleetCluster {
  const newestRevision = typeof now === 'bigint' ? now : now.newestRevision;
  const statuses = [...parsed];
  statuses.sort((a, b) => (a.watcher.id < b.watcher.id ? -1 : a.watcher.id > b.watcher.id ? 1 : 0));
  const watchers = statuses.map((s): FleetWatcher => {
    const { state, reason } = watcherState(s, now);
    return {
      id: clip(s.watcher.id),
      command: clip(String(s.watcher.command ?? '')),
      pid: s.watcher.pid,
      state,
      ...(reason !== undefined ? { reason: clip(reason) } : {}),
      appliedRevision: s.appliedRevision,
      members: s.members,
      reload: runOutcomeCell(s.reload),
      hash: typeof s.sha256 === 'string' ? s.sha256.slice(0, 12) : '-',
    };
  });
  return { name: source.name, path: source.path, revision: newestRevision.toString(), watchers, mismatches: hashMismatches(statuses, now).length };
}

/** Equal keys = the same table. */
export function fleetKey(report: FleetReport): string {
  return JSON.stringify(report);
}

/** Reads the status records of `sources` from etcd: the member prefix's summary and one range per cluster. */
export class FleetReader {
  /** Per cluster path, kept across reads: what etcd said of past revisions does not change. */
  private readonly histories = new Map<string, MemberHistory>();

  constructor(
    private readonly etcd: EtcdClient,
    private readonly sources: readonly FleetSource[],
    readonly statusPrefix: string = DEFAULT_STATUS_PREFIX,
  ) {}

  async read(): Promise<FleetCluster[]> {
    return Promise.all(
      this.sources.map(async (source) => {
        let history = this.histories.get(source.path);
        if (!history) this.histories.set(source.path, (history = new MemberHistory(this.etcd, source.path)));
        const read = await readClusterStatuses(this.etcd, this.statusPrefix, source.path, history);
        return fleetClusterOf(source, read, read.statuses);
      }),
    );
  }
}

export const FLEET_POLL_MS = 250;

/**
 * Reads the fleet every `intervalMs` and calls `onChange` with the report whenever it differs
 * from the last one (a failed read keeps the last clusters and sets `error`).
 */
export class FleetPoller {
  private report: FleetReport;
  private key: string;
  private timer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  private stopped = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly read: () => Promise<FleetCluster[]>,
    statusPrefix: string,
    private readonly onChange: (report: FleetReport) => void,
    private readonly intervalMs = FLEET_POLL_MS,
  ) {
    this.report = { statusPrefix, clusters: [] };
    this.key = fleetKey(this.report);
  }

  current(): FleetReport {
    return this.report;
  }

  /** Reads once (so the first page has the table), then keeps reading. */
  async start(): Promise<void> {
    await this.poll();
    this.loop ??= (async () => {
      while (!this.stopped) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          this.timer = setTimeout(resolve, this.intervalMs);
        });
        if (!this.stopped) await this.poll();
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.wake?.();
    await this.loop;
  }

  async poll(): Promise<void> {
    let next: FleetReport;
    try {
      next = { statusPrefix: this.report.statusPrefix, clusters: await this.read() };
    } catch (err) {
      next = { ...this.report, error: clip(describeError(err)) };
    }
    const key = fleetKey(next);
    if (key === this.key) return;
    this.report = next;
    this.key = key;
    this.onChange(next);
  }
}
