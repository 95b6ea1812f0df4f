/*
 * The fleet view (README: Is the fleet in step?): every watcher of a cluster publishes what it
 * applied as one key, `<prefix>/<encoded cluster path>/<watcher id>`, on its own lease;
 * `cluster-control status` and `run`'s drain read them. Pure: the record's shape, its key, parsing
 * (values are data from the network), and the state a reader derives.
 */

/** Default status prefix; never inside a cluster prefix (the configuration refuses overlaps). */
export const DEFAULT_STATUS_PREFIX = '/cluster-control/status';
/** Default TTL of a watcher's status lease, seconds: a dead watcher disappears within it. */
export const DEFAULT_STATUS_TTL = 10;

/** The outcome of the last check or reload run. */
export interface RunOutcome {
  ok: boolean;
  /** Exit code of a failed run (absent: timed out, killed, or an action that threw). */
  exitCode?: number | undefined;
  /** First line of a failed run's output or error (one line, at most 300 characters). */
  output?: string | undefined;
  /** ISO time of the first failure in a row (absent while ok). */
  since?: string | undefined;
}

/** What one watcher publishes for one cluster. All fields are plain JSON. */
export interface WatcherStatus {
  /** Format version. */
  v: 1;
  watcher: { id: string; host: string; pid: number; command: string; version: string };
  cluster: { name: string; path: string };
  file: string;
  /** Every change up to this etcd revision is in the installed file (decimal string: revisions are int64). */
  appliedRevision: string;
  /**
   * The revision the installed file is rendered for; ahead of `appliedRevision` while the reload
   * after an install has not succeeded yet (the server still runs the older file). Absent in
   * records of older versions.
   */
  installedRevision?: string | undefined;
  /** Members in the installed file. */
  members: number;
  /** sha256 (hex) of the installed file's bytes; null before the first install. */
  sha256: string | null;
  /** ISO time of the last successful install (or of the first "unchanged" at start). */
  installedAt: string | null;
  check: RunOutcome | null;
  reload: RunOutcome | null;
  /** False while installing the file keeps failing (then `problem` says why). */
  fileCurrent: boolean;
  problem?: string | undefined;
  /** The first 100 quarantined members; `quarantinedTotal` counts them all when there are more. */
  quarantined: { name: string; kind: string; reason: string }[];
  quarantinedTotal?: number | undefined;
  /** ISO time of this write. */
  updatedAt: string;
}

export type WatcherState = 'SYNCED' | 'BEHIND' | 'ERROR';

/** The key of one watcher's status for one cluster. */
export function statusKey(prefix: string, clusterPath: string, watcherId: string): string {
  return `${statusClusterPrefix(prefix, clusterPath)}${encodeURIComponent(watcherId)}`;
}

/** The prefix holding every watcher's status of one cluster (ends in `/`). */
export function statusClusterPrefix(prefix: string, clusterPath: string): string {
  // One flat segment per cluster path, so `/clusters` never contains `/clusters/web`'s keys.
  return `${prefix.replace(/\/+$/, '')}/${encodeURIComponent(clusterPath)}/`;
}

/** A status value read from etcd, or undefined when it is not one (never throws). */
export function parseWatcherStatus(value: string): WatcherStatus | undefined {
  let data: unknown;
  try {
    data = JSON.parse(value);
  } catch {
    return undefined;
  }
  if (!isObject(data) || data.v !== 1) return undefined;
  const w = data.watcher;
  const c = data.cluster;
  if (!isObject(w) || typeof w.id !== 'string' || typeof w.host !== 'string' || typeof w.pid !== 'number') return undefined;
  if (!isObject(c) || typeof c.name !== 'string' || typeof c.path !== 'string') return undefined;
  if (typeof data.appliedRevision !== 'string' || !/^\d{1,20}$/.test(data.appliedRevision)) return undefined;
  if (data.installedRevision !== undefined && (typeof data.installedRevision !== 'string' || !/^\d{1,20}$/.test(data.installedRevision))) return undefined;
  if (typeof data.members !== 'number' || typeof data.fileCurrent !== 'boolean') return undefined;
  if (!Array.isArray(data.quarantined)) return undefined;
  return data as unknown as WatcherStatus;
}

/**
 * What a reader learnt about a cluster's members from etcd, to judge its watchers by: the newest
 * change, and which applied revisions still show the members of now.
 */
export interface MembersNow {
  /** The revision of the newest change under the member prefix: a put, or a removal (0: none yet). */
  newestRevision: bigint;
  /**
   * Applied revisions (decimal) whose members are those of now: a watcher reports the last change
   * it applied and writes nothing while its cluster is quiet (see member-history.ts). Absent: in
   * step means applied at least `newestRevision`.
   */
  inStep?: ReadonlySet<string> | undefined;
}

/**
 * SYNCED: the installed file has the members of now (the watcher applied the newest change, or
 * nothing changed since what it applied), the file current and the last check and reload ok;
 * ERROR: installing, the check or the reload failing (`reason` says which, with the exit code);
 * BEHIND otherwise. `now` as a bigint: the newest change's revision alone.
 */
export function watcherState(status: WatcherStatus, now: MembersNow | bigint): { state: WatcherState; reason?: string } {
  if (!status.fileCurrent) return { state: 'ERROR', reason: status.problem ?? 'file not current' };
  if (status.check && !status.check.ok) return { state: 'ERROR', reason: `check failing${describeRun(status.check)}` };
  if (status.reload && !status.reload.ok) return { state: 'ERROR', reason: `reload failing${describeRun(status.reload)}` };
  return inStep(status, now) ? { state: 'SYNCED' } : { state: 'BEHIND' };
}

/**
 * Whether the watcher's file has the members of now (whatever its check and reload did). A watcher
 * that installed a newer file and has not reloaded it yet is in step only by its applied revision:
 * the members at that revision being those of now says nothing of the file it is about to load.
 */
export function inStep(status: WatcherStatus, now: MembersNow | bigint): boolean {
  const { newestRevision, inStep } = typeof now === 'bigint' ? { newestRevision: now, inStep: undefined } : now;
  const caughtUp = BigInt(status.appliedRevision) >= newestRevision;
  if (inStep === undefined) return caughtUp;
  return inStep.has(status.appliedRevision) && (caughtUp || !applying(status));
}

/** Installed a file newer than what it applied, and its reload has not succeeded yet. */
export function applying(status: Pick<WatcherStatus, 'appliedRevision' | 'installedRevision'>): boolean {
  return status.installedRevision !== undefined && BigInt(status.installedRevision) > BigInt(status.appliedRevision);
}

function describeRun(run: RunOutcome): string {
  const parts = [run.exitCode !== undefined ? `exit ${run.exitCode}` : undefined, run.output, run.since ? `since ${run.since}` : undefined].filter(Boolean);
  return parts.length > 0 ? ` (${parts.join('; ')})` : '';
}

/** A check or reload outcome in one word: `ok`, `exit N`, `failed` (killed, timed out, or an action that threw), or `-` (none yet). */
export function runOutcomeCell(run: RunOutcome | null): string {
  if (!run) return '-';
  if (run.ok) return 'ok';
  return run.exitCode !== undefined ? `exit ${run.exitCode}` : 'failed';
}

/**
 * Watchers that should have the same file and do not: those in step with the members of now (one
 * group, labelled with the newest change's revision), and the others by applied revision. One entry
 * per group with more than one hash.
 */
export function hashMismatches(statuses: readonly WatcherStatus[], now?: MembersNow | bigint): { revision: string; hashes: Record<string, string[]> }[] {
  const groups = new Map<string, { revision: string; hashes: Map<string, string[]> }>();
  const newest = now === undefined ? undefined : (typeof now === 'bigint' ? now : now.newestRevision).toString();
  for (const s of statuses) {
    if (s.sha256 === null) continue;
    const current = now !== undefined && inStep(s, now);
    const key = current ? 'now' : `at ${s.appliedRevision}`;
    const group = groups.get(key) ?? { revision: current ? newest! : s.appliedRevision, hashes: new Map<string, string[]>() };
    groups.set(key, group);
    group.hashes.set(s.sha256, [...(group.hashes.get(s.sha256) ?? []), s.watcher.id]);
  }
  return [...groups.values()].filter((g) => g.hashes.size > 1).map((g) => ({ revision: g.revision, hashes: Object.fromEntries(g.hashes) }));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
