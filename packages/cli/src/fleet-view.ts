import { type MembersNow, type RunOutcome, type WatcherState, type WatcherStatus, applying, hashMismatches, inStep, runOutcomeCell, watcherState } from '@cluster-control/core/status';

/**
 * The fleet view behind `cluster-control status` (README: Is the fleet in step?), pure: what was
 * read from etcd in, rows, the table, the JSON and the `--wait` verdict out.
 */

/** One cluster as read: its newest change, which applied revisions still have its members, and every live watcher's status. */
export interface ClusterReading extends MembersNow {
  name: string;
  /** The cluster's path as configured (members live under `path + '/'`). */
  path: string;
  /** The revision of the newest change under the member prefix, a put or a removal (0: none yet). */
  newestRevision: bigint;
  statuses: readonly WatcherStatus[];
  /** etcd's revision when the member prefix was read. */
  membersRevision?: bigint | undefined;
}

export interface WatcherRow {
  id: string;
  state: WatcherState;
  reason?: string;
  appliedRevision: string;
  /** The revision its installed file is for: ahead of `appliedRevision` while that file's reload is pending (null: not reported). */
  installedRevision: string | null;
  /** Revisions between what the watcher applied and the newest change under the prefix (0 when in step). */
  lagRevisions: number;
  /** BEHIND: seconds since a watcher first reported the newest change (else since this one last reported); 0 otherwise. */
  lagSeconds: number;
  members: number;
  sha256: string | null;
  reload: RunOutcome | null;
  check: RunOutcome | null;
  host: string;
  pid: number;
  file: string;
  quarantined: WatcherStatus['quarantined'];
}

export interface ClusterView {
  name: string;
  path: string;
  /** The revision of the newest change under the cluster prefix, a put or a removal (decimal). */
  revision: string;
  watchers: WatcherRow[];
  hashMismatches: { revision: string; hashes: Record<string, string[]> }[];
}

/** The rows of one cluster at time `now` (ms), sorted by watcher id. */
export function viewCluster(reading: ClusterReading, now: number): ClusterView {
  const statuses = [...reading.statuses].sort((a, b) => (a.watcher.id < b.watcher.id ? -1 : a.watcher.id > b.watcher.id ? 1 : 0));
  const changedAt = newestChangeSeenAt(reading);
  const watchers = statuses.map((s): WatcherRow => {
    const { state, reason } = watcherState(s, reading);
    const behindBy = inStep(s, reading) ? 0n : reading.newestRevision - BigInt(s.appliedRevision);
    // Behind since the newest change, as far as the fleet saw it; else since it last reported.
    const since = changedAt ?? Date.parse(s.updatedAt);
    const silentFor = Number.isFinite(since) ? Math.max(0, now - since) / 1000 : 0;
    return {
      id: s.watcher.id,
      state,
      ...(reason !== undefined ? { reason } : {}),
      appliedRevision: s.appliedRevision,
      installedRevision: s.installedRevision ?? null,
      lagRevisions: behindBy > 0n ? Number(behindBy) : 0,
      lagSeconds: state === 'BEHIND' ? Math.round(silentFor * 10) / 10 : 0,
      members: s.members,
      sha256: s.sha256,
      reload: s.reload,
      check: s.check,
      host: s.watcher.host,
      pid: s.watcher.pid,
      file: s.file,
      quarantined: s.quarantined,
    };
  });
  return { name: reading.name, path: reading.path, revision: reading.newestRevision.toString(), watchers, hashMismatches: hashMismatches(statuses, reading) };
}

/**
 * When the newest change was first applied by a watcher (ms; its report's time): etcd keeps no
 * times, and the first watcher to apply it reports within moments. Undefined while none has.
 */
function newestChangeSeenAt(reading: ClusterReading): number | undefined {
  const times = reading.statuses.filter((s) => BigInt(s.appliedRevision) >= reading.newestRevision).map((s) => Date.parse(s.updatedAt));
  const known = times.filter(Number.isFinite);
  return known.length > 0 && reading.newestRevision > 0n ? Math.min(...known) : undefined;
}

/** `--json`'s document. */
export function fleetJson(views: readonly ClusterView[]): string {
  return JSON.stringify({ clusters: views }) + '\n';
}

/** The last reload's outcome in a cell: ok, exit N, failed (no exit code: killed or timed out), - (none yet). */
export const outcomeCell: (run: RunOutcome | null) => string = runOutcomeCell;

function lagCell(row: WatcherRow): string {
  if (row.lagRevisions === 0 && row.lagSeconds === 0) return '0';
  return `${row.lagRevisions} rev, ${row.lagSeconds.toFixed(1)}s`;
}

/** The text table of one cluster: header line, one row per live watcher, hash mismatch lines. */
export function clusterTable(view: ClusterView): string {
  const lines = [`cluster ${view.name} (${view.path}/): newest revision ${view.revision}`];
  if (view.watchers.length === 0) {
    lines.push('  no live watchers (none has reported within its status TTL)');
    return lines.join('\n') + '\n';
  }
  const header = ['WATCHER', 'STATE', 'APPLIED', 'LAG', 'MEMBERS', 'HASH', 'RELOAD', ''];
  const rows = view.watchers.map((w) => [w.id, w.state, w.appliedRevision, lagCell(w), String(w.members), w.sha256 ? w.sha256.slice(0, 12) : '-', outcomeCell(w.reload), w.reason ?? '']);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const format = (cells: string[]) =>
    '  ' +
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  lines.push(format(header), ...rows.map(format));
  for (const m of view.hashMismatches) {
    lines.push(
      `  ! hash mismatch at revision ${m.revision}: ${Object.values(m.hashes)
        .map((ids) => ids.join(','))
        .join(' vs ')}`,
    );
  }
  return lines.join('\n') + '\n';
}

export function fleetTable(views: readonly ClusterView[]): string {
  return views.map(clusterTable).join('\n');
}

export interface WaitGoal {
  /** Every live watcher must have applied at least this revision (or have nothing to apply up to it). */
  revision: bigint;
  /** Per cluster path: applied revisions below `revision` whose members are those at `revision`. */
  unchanged?: ReadonlyMap<string, ReadonlySet<string>> | undefined;
  /** At least this many live watchers per cluster. */
  expect?: number | undefined;
}

/**
 * What keeps one cluster from the goal: empty when it is met, else one line such as
 * `web: waiting for lb2:123:ab (BEHIND at 812 < 815), lb3 (ERROR: reload failing (exit 3))`.
 */
export function holdUp(view: ClusterView, goal: WaitGoal): string | undefined {
  const waiting: string[] = [];
  const unchanged = goal.unchanged?.get(view.path);
  for (const w of view.watchers) {
    // Unchanged members since its revision count, unless it is about to load a newer file.
    const nothingToApply = unchanged?.has(w.appliedRevision) === true && !applying({ appliedRevision: w.appliedRevision, installedRevision: w.installedRevision ?? undefined });
    if (w.state === 'ERROR') waiting.push(`${w.id} (ERROR: ${w.reason ?? 'failing'})`);
    else if (BigInt(w.appliedRevision) < goal.revision && !nothingToApply) waiting.push(`${w.id} (BEHIND at ${w.appliedRevision} < ${goal.revision})`);
  }
  const parts: string[] = [];
  if (waiting.length > 0) parts.push(`waiting for ${waiting.join(', ')}`);
  if (goal.expect !== undefined && view.watchers.length < goal.expect) parts.push(`only ${view.watchers.length} of ${goal.expect} expected watchers`);
  return parts.length > 0 ? `${view.name}: ${parts.join('; ')}` : undefined;
}

/** The hold-up lines of every cluster still short of the goal (empty: all there). */
export function holdUps(views: readonly ClusterView[], goal: WaitGoal): string[] {
  return views.map((v) => holdUp(v, goal)).filter((line): line is string => line !== undefined);
}
