import { findCluster } from '@cluster-control/core';
import { type EtcdClient, retryUntil } from '@cluster-control/core/etcd';
import { readWatcherStatuses } from '@cluster-control/core/status';
import { logDiagnostics, previewCluster, readCluster } from '@cluster-control/core/sync';
import { describeError } from '@cluster-control/core/util';
import type { CommandContext } from '../context.js';

/**
 * `members <cluster> [--json]`: the members a watcher would write now, one name per line or as
 * JSON with the quarantined ones (over a limit, address not allowed, not resolving, breaking the
 * render, and refused by the check in a live watcher) and why.
 */
export async function members(ctx: CommandContext, clusterName: string, options: { json?: boolean; timeout: number }): Promise<number> {
  const cluster = findCluster(ctx.config, clusterName);
  const target = await ctx.target(clusterName);
  const etcd = ctx.etcdClient();
  const read = await retryUntil('members', () => readCluster(etcd, cluster.path, cluster.limits), { timeoutMs: options.timeout, logger: ctx.logger });
  logDiagnostics(cluster.name, cluster.path, read.diagnostics, ctx.logger);
  const preview = await previewCluster(read, target, ctx.logger);
  const refused = ctx.config.status ? await refusedByCheck(etcd, ctx.config.status.prefix, cluster.path, ctx) : new Map<string, CheckQuarantine>();
  const written = preview.members.filter((m) => !refused.has(m.name));
  if (options.json) {
    const list = written.map(({ name, host, port, meta }) => ({ name, host, port: port ?? null, meta }));
    const quarantined: object[] = preview.quarantined.map(({ name, key, kind, reason }) => ({ name, key, kind, reason }));
    for (const m of preview.members) {
      const q = refused.get(m.name);
      if (q) quarantined.push({ name: m.name, key: m.key, kind: 'check', reason: q.reason, reportedBy: q.reportedBy });
    }
    process.stdout.write(JSON.stringify({ cluster: cluster.name, revision: read.revision.toString(), members: list, quarantined }) + '\n');
  } else {
    process.stdout.write(written.map((m) => m.name + '\n').join(''));
  }
  return 0;
}

interface CheckQuarantine {
  reason: string;
  /** The live watchers whose check refused it (their ids). */
  reportedBy: string[];
}

/**
 * The members live watchers left out because their `check` refused the file with them: a check
 * runs only in watchers, so this command learns it from their status records (README: Is the fleet
 * in step?). Best effort: without a readable status prefix, nothing.
 */
async function refusedByCheck(etcd: EtcdClient, statusPrefix: string, clusterPath: string, ctx: CommandContext): Promise<Map<string, CheckQuarantine>> {
  const out = new Map<string, CheckQuarantine>();
  try {
    const { statuses } = await readWatcherStatuses(etcd, statusPrefix, clusterPath);
    for (const s of statuses) {
      for (const q of s.quarantined) {
        if (q.kind !== 'check' || typeof q.name !== 'string') continue;
        const entry = out.get(q.name) ?? { reason: String(q.reason), reportedBy: [] };
        entry.reportedBy.push(s.watcher.id);
        out.set(q.name, entry);
      }
    }
  } catch (err) {
    ctx.logger.debug(`members: watchers' status under ${statusPrefix}/ not read (${describeError(err)}); check quarantines not shown`);
  }
  return out;
}
