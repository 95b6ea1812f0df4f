/*
 * Whether a watcher's file is still in step, from etcd's history of the member prefix (README: Is
 * the fleet in step?). A watcher reports the revision of the last change it applied, and writes
 * nothing while its cluster is quiet; a reader decides whether the members then are the members
 * now. Two summaries (key count and newest mod revision) decide it: when no key there now was
 * written after `from` and as many keys were there at `from`, the sets are equal (each key now
 * existed at `from` with the same mod revision, and the counts leave no room for one removed).
 * So a removal counts as a change, which the newest mod revision alone cannot see.
 */
import { CompactedError } from '../etcd/errors.js';
import { prefixRange } from '../etcd/key-range.js';
import type { EtcdClient, RangeSummary } from '../etcd/types.js';

/** Summaries of past revisions never change; this many are kept per cluster. */
const KEEP = 1024;
/** Applied revisions newestChange looks at, newest first (each costs up to two summaries). */
const MAX_APPLIED_LOOKS = 32;

export class MemberHistory {
  /** Past revisions' summaries; null: compacted away. */
  private readonly past = new Map<bigint, RangeSummary | null>();

  constructor(
    private readonly etcd: Pick<EtcdClient, 'summarize'>,
    /** The cluster's path: its members are the keys under `path/`. */
    readonly clusterPath: string,
  ) {}

  /** The member prefix now (kept: it is the summary of its revision from now on). */
  async now(): Promise<RangeSummary> {
    const summary = await this.etcd.summarize(prefixRange(this.clusterPath + '/'));
    this.remember(summary.revision, summary);
    return summary;
  }

  /** The member prefix at a past revision (at most etcd's current one); null when compacted away. */
  async summaryAt(revision: bigint): Promise<RangeSummary | null> {
    // Revision 0 would mean "now" to etcd; before the first write nothing was there.
    if (revision <= 0n) return { count: 0, newestModRevision: 0n, revision: 0n };
    const known = this.past.get(revision);
    if (known !== undefined) return known;
    let summary: RangeSummary | null;
    try {
      summary = await this.etcd.summarize(prefixRange(this.clusterPath + '/'), { revision });
    } catch (err) {
      if (!(err instanceof CompactedError)) throw err;
      summary = null;
    }
    this.remember(revision, summary);
    return summary;
  }

  /**
   * The applied revisions (decimal) among `applied` whose members are those of `to`. Where etcd
   * compacted the history away, one not older than `to`'s newest mod revision counts.
   */
  async inStep(applied: Iterable<string>, to: RangeSummary): Promise<Set<string>> {
    const out = new Set<string>();
    for (const revision of new Set(applied)) {
      const same = await this.unchanged(BigInt(revision), to);
      if (same ?? BigInt(revision) >= to.newestModRevision) out.add(revision);
    }
    return out;
  }

  /**
   * Whether the members at revision `from` are those of `to` (a summary from `now()`, or of a past
   * revision): true when nothing changed in between, or only what was undone again (a member added
   * and removed). Undefined when etcd compacted `from` away and cannot tell.
   */
  async unchanged(from: bigint, to: RangeSummary): Promise<boolean | undefined> {
    if (from >= to.revision) return true;
    if (to.newestModRevision > from) return false;
    const then = await this.summaryAt(from);
    return then === null ? undefined : then.count === to.count;
  }

  /**
   * The revision of the newest change under the prefix, as far as it can be told: the newest mod
   * revision, or later when a member was removed since. A removal leaves no key behind, so it is
   * found where the members change: bisecting (a summary each) from a revision whose members differ
   * from `to`'s, and at the watchers' `applied` revisions (each is a change the watcher saw, unless
   * the members were the same just before it). Compaction ends a search early.
   */
  async newestChange(to: RangeSummary, applied: Iterable<string> = []): Promise<bigint> {
    let newest = to.newestModRevision;
    if ((await this.unchanged(newest, to)) === false) newest = await this.changeAfter(newest, to);
    // Newest first, and the first change found ends it: a fleet's many revisions cost a few reads.
    const revisions = [...new Set(applied)]
      .map(BigInt)
      .filter((r) => r > newest && r < to.revision)
      .sort((a, b) => (a > b ? -1 : a < b ? 1 : 0))
      .slice(0, MAX_APPLIED_LOOKS);
    for (const revision of revisions) {
      const same = await this.unchanged(revision, to);
      if (same === false) return this.changeAfter(revision, to);
      if (same === true && (await this.unchanged(revision - 1n, to)) === false) return revision;
    }
    return newest;
  }

  /** Where the members became `to`'s, after `from` (whose members differ): by bisection. */
  private async changeAfter(from: bigint, to: RangeSummary): Promise<bigint> {
    let low = from;
    let high = to.revision;
    while (high - low > 1n) {
      const mid = low + (high - low) / 2n;
      const same = await this.unchanged(mid, to);
      if (same === undefined) break;
      if (same) high = mid;
      else low = mid;
    }
    return high;
  }

  private remember(revision: bigint, summary: RangeSummary | null): void {
    if (this.past.size >= KEEP) this.past.clear();
    this.past.set(revision, summary);
  }
}
