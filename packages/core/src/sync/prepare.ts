import type { EtcdClient } from '../etcd/types.js';
import { CompactedError } from '../etcd/errors.js';
import { prefixRange } from '../etcd/key-range.js';
import { pagedRange } from '../etcd/paged-range.js';
import type { MemberLimits } from '../model/member-limits.js';
import type { Member } from '../model/member.js';
import { Membership, type MembershipDiagnostics } from '../model/membership.js';
import type { Metrics } from '../util/metrics.js';
import { DEFAULT_ADDRESS_POLICY } from '../model/address-policy.js';
import { LogOnce } from '../model/log-once.js';
import type { QuarantinedMember } from '../model/quarantine.js';
import { type Logger, silentLogger } from '../util/log.js';
import { type ClusterTarget, type InstallOutcome, renderMembers } from './cluster-target.js';
import { HostResolver } from './host-resolver.js';
import { largestSafeSet } from './largest-safe-set.js';
import { filterByAddress } from './member-filter.js';
import { reportQuarantine } from './quarantine-report.js';
import { SafeInstaller, resolves } from './safe-install.js';

export interface ClusterRead {
  members: readonly Member[];
  /** The etcd revision the read was served at: hand it to `watch` so nothing after it is lost. */
  revision: bigint;
  diagnostics: MembershipDiagnostics;
  /** Keys with a valid name over a cap (`limits`), in member order: not in `members`. */
  quarantined: QuarantinedMember[];
}

/**
 * One consistent read of a cluster's members, in pages at one revision (no response larger than a
 * page: README, Caps on member data); each page goes into the membership as it arrives, so values
 * over `limits.valueBytes` (or past `limits.clusterBytes`) are dropped at once, never held.
 * Compaction between two pages: read again from the start (up to 3 times).
 */
export async function readCluster(etcd: EtcdClient, path: string, limits?: MemberLimits): Promise<ClusterRead> {
  for (let attempt = 1; ; attempt++) {
    const membership = new Membership(path, limits);
    const reset = membership.beginReset();
    try {
      const { revision } = await pagedRange(etcd, prefixRange(path + '/'), { onPage: (kvs) => reset.add(kvs) });
      const diagnostics = reset.end();
      return { members: membership.members(), revision, diagnostics, quarantined: membershipQuarantine(membership) };
    } catch (err) {
      if (!(err instanceof CompactedError) || attempt >= 3) throw err;
    }
  }
}

/** Logs and counts rejected and nested keys; with `once`, each key only the first time it is seen. */
export function logDiagnostics(cluster: string, path: string, diagnostics: MembershipDiagnostics, logger: Logger, metrics?: Metrics, once?: LogOnce): void {
  for (const { key, reason } of diagnostics.rejected) {
    if (once && !once.first(`rejected:${key}`)) continue;
    logger.warn(`${cluster}: ignoring member key ${JSON.stringify(key)}: ${reason}`);
    metrics?.inc('cluster_control_rejected_members_total', { cluster });
  }
  for (const key of diagnostics.nested) {
    if (once && !once.first(`nested:${key}`)) continue;
    logger.info(`${cluster}: ignoring ${JSON.stringify(key)}: not directly under ${path}/`);
  }
}

/**
 * `prepare`: read once, install what is safe (README: Hostile or broken members), return the read's
 * revision. Below minMembers the outcome is `refused`; `wroteEmpty` says the file did not exist and
 * was written with no members.
 */
export async function prepareCluster(
  etcd: EtcdClient,
  target: ClusterTarget,
  logger: Logger,
  metrics?: Metrics,
  resolver: HostResolver = new HostResolver(),
): Promise<{ revision: bigint; outcome: InstallOutcome; members: readonly Member[]; quarantined: QuarantinedMember[]; wroteEmpty?: true }> {
  const read = await readCluster(etcd, target.path, target.limits);
  logDiagnostics(target.name, target.path, read.diagnostics, logger, metrics);
  const once = new LogOnce();
  const result = await new SafeInstaller(target, logger, metrics, once, resolver).install(read.members);
  const quarantined = [...read.quarantined, ...result.quarantined];
  reportQuarantine(target.name, quarantined, logger, metrics, once);
  return { revision: read.revision, outcome: result.outcome, members: result.installed, quarantined, ...(result.wroteEmpty ? { wroteEmpty: true as const } : {}) };
}

/**
 * What a watcher would install now, without writing anything: the members that pass the
 * address policy and render, and those quarantined. (A `check` is not run: quarantine for
 * failing it is known only to the watchers that ran it.)
 */
export async function previewCluster(
  read: ClusterRead,
  target: ClusterTarget,
  logger: Logger,
  resolver: HostResolver = new HostResolver(),
): Promise<{ members: Member[]; quarantined: QuarantinedMember[] }> {
  const { allowed, quarantined } = await filterByAddress(read.members, target.policy ?? DEFAULT_ADDRESS_POLICY, resolves(target) ? resolver : undefined);
  quarantined.unshift(...read.quarantined);
  if (renderMembers(target, allowed, logger).ok) return { members: allowed, quarantined };
  const safe = await largestSafeSet([], allowed, async (items) => renderMembers(target, items, silentLogger), allowed, 'render failed');
  if (!safe) return { members: allowed, quarantined };
  for (const { item, reason } of safe.rejected) quarantined.push({ name: item.name, key: item.key, kind: 'render', reason });
  return { members: safe.accepted, quarantined };
}

/** The members a Membership holds back for being over a limit (limits.*), in member order. */
export function membershipQuarantine(membership: Membership): QuarantinedMember[] {
  return membership.quarantined().map((q) => ({ ...q, kind: 'limits' as const }));
}

/** What `renderCluster` found: the bytes prepare would install, or why it would install nothing. */
export type RenderedCluster =
  /** `emptyForm`: below minMembers with no file yet, so prepare would write the handler's empty form. */
  | { ok: true; text: string; members: readonly Member[]; quarantined: QuarantinedMember[]; emptyForm?: true }
  | { ok: false; reason: string; members: readonly Member[]; quarantined: QuarantinedMember[] };

/**
 * The file prepare would install for this read, without writing anything: the members that pass
 * the address policy and render (previewCluster); below minMembers, refused, or the handler's
 * empty form when `fileExists` is false (what prepare writes on a first start). The `check` is not
 * run: it needs the staged file on disk next to the target.
 */
export async function renderCluster(read: ClusterRead, target: ClusterTarget, logger: Logger, options: { resolver?: HostResolver; fileExists?: boolean } = {}): Promise<RenderedCluster> {
  const { members, quarantined } = await previewCluster(read, target, logger, options.resolver);
  if (members.length < target.minMembers) {
    const reason = `${members.length} member(s), fewer than minMembers ${target.minMembers}`;
    if (options.fileExists !== false) return { ok: false, reason, members, quarantined };
    const empty = renderMembers(target, [], silentLogger);
    return empty.ok ? { ok: true, text: empty.text, members: [], quarantined, emptyForm: true } : { ok: false, reason: `${reason}; no empty form: ${empty.reason}`, members, quarantined };
  }
  // Silent: previewCluster already logged what the handler reported about these members.
  const rendered = renderMembers(target, members, silentLogger);
  return rendered.ok ? { ok: true, text: rendered.text, members, quarantined } : { ok: false, reason: rendered.reason, members, quarantined };
}
