import { DEFAULT_ADDRESS_POLICY } from '../model/address-policy.js';
import type { LogOnce } from '../model/log-once.js';
import type { Member } from '../model/member.js';
import type { QuarantinedMember } from '../model/quarantine.js';
import type { Logger } from '../util/log.js';
import type { Metrics } from '../util/metrics.js';
import { type ClusterTarget, type DetailedOutcome, type InstallOutcome, renderAndInstallDetailed, trialRender, withTextOf } from './cluster-target.js';
import type { HostResolver } from './host-resolver.js';
import { largestSafeSet } from './largest-safe-set.js';
import { filterByAddress } from './member-filter.js';

export interface SafeInstallResult {
  outcome: InstallOutcome;
  /** Why the outcome is not installed/unchanged (one line). */
  reason?: string | undefined;
  /** The members the file now holds (when installed or unchanged). */
  installed: readonly Member[];
  /** The file's text (when installed or unchanged). */
  text?: string | undefined;
  /** The stage that failed, when neither installed nor unchanged. */
  stage?: DetailedOutcome['stage'];
  /** Refused for too few members, and the file did not exist: written with no members (see DetailedOutcome). */
  wroteEmpty?: true;
  /** Left out by the address policy, the resolver, or because they broke the render or check. */
  quarantined: QuarantinedMember[];
}

/**
 * One cluster's "install what is safe" step (README: Hostile or broken members), between the member
 * list and the file: address policy → members held back earlier → render + check + install → on
 * failure, find the new or changed members that cause it (bisection against the last good set),
 * quarantine them, and install the largest set that renders and passes the check. Removals always
 * get through: the known-good part of a change is the last good set minus whoever left.
 *
 * A member quarantined for breaking the render or the check stays out until its value changes
 * (or it leaves); a member whose host name did not resolve is tried again once the resolver's
 * negative cache expires.
 */
/** Whether host-name members of `target` are resolved before rendering (see AddressPolicy.resolve). */
export function resolves(target: ClusterTarget): boolean {
  const policy = target.policy ?? DEFAULT_ADDRESS_POLICY;
  return policy.resolve ?? (target.check !== undefined || policy.allow !== undefined || policy.deny.length > 0);
}

export class SafeInstaller {
  /** The members in the last file that was installed (or found unchanged). */
  private lastGood: readonly Member[] = [];
  /** Address verdicts of IP-literal members the target's (fixed) policy denies. */
  private readonly verdicts = new WeakMap<Member, string | null>();
  /** The last member list judged by the policy, and whether it allowed it whole (see filterByAddress). */
  private readonly lastAllowed: { allowed: readonly Member[] | undefined; judged?: readonly Member[] | undefined } = { allowed: undefined };
  /** Members that broke the render or the check, with the value they did it with. */
  private readonly held = new Map<string, { value: string; entry: QuarantinedMember }>();

  constructor(
    private readonly target: ClusterTarget,
    private readonly logger: Logger,
    private readonly metrics?: Metrics | undefined,
    private readonly once?: LogOnce | undefined,
    private readonly resolver?: HostResolver | undefined,
  ) {}

  async install(members: readonly Member[]): Promise<SafeInstallResult> {
    const { target, logger, metrics, once } = this;
    const policy = target.policy ?? DEFAULT_ADDRESS_POLICY;
    const { allowed, quarantined } = await filterByAddress(members, policy, resolves(target) ? this.resolver : undefined, this.verdicts, this.lastAllowed);

    // Held members stay out until their value changes; forget those that changed or left.
    let candidate = allowed;
    if (this.held.size > 0) {
      const present = new Map(allowed.map((m) => [m.name, m.value]));
      for (const [name, { value }] of this.held) if (present.get(name) !== value) this.held.delete(name);
      candidate = allowed.filter((m) => !this.held.has(m.name));
    }

    const first = await renderAndInstallDetailed(target, candidate, logger, metrics, once);
    if (first.outcome === 'installed' || first.outcome === 'unchanged') return this.done(first, candidate, quarantined);
    if (first.stage !== 'render' && first.stage !== 'check') {
      // Too few members, or the file could not be written: no member is to blame.
      return { ...first, installed: [], quarantined: this.withHeld(quarantined) };
    }

    const good = new Map(this.lastGood.map((m) => [m.name, m.value]));
    const known = candidate.filter((m) => good.get(m.name) === m.value);
    const suspects = candidate.filter((m) => good.get(m.name) !== m.value);
    const kind = first.stage;
    const safe =
      suspects.length === 0
        ? undefined
        : await largestSafeSet(
            known,
            suspects,
            async (items) => {
              // Between trials, let timers run: keepalives must not starve behind a long bisection.
              await new Promise((resolve) => setImmediate(resolve));
              return trialRender(target, items, logger);
            },
            candidate,
            first.reason ?? first.outcome,
          );
    if (!safe) {
      logger.warn(`${target.name}: the ${kind} failure is not caused by a new or changed member; ${target.file} left as it is until the next change or retry`);
      return { ...first, installed: [], quarantined: this.withHeld(quarantined) };
    }
    for (const { item, reason } of safe.rejected) {
      const entry: QuarantinedMember = { name: item.name, key: item.key, kind, reason };
      this.held.set(item.name, { value: item.value, entry });
    }
    logger.info(`${target.name}: ${safe.rejected.length} member(s) quarantined after ${safe.trials} trial(s); installing the other ${safe.accepted.length}`);
    const second = await renderAndInstallDetailed(target, safe.accepted, logger, metrics, once);
    if (second.outcome === 'installed' || second.outcome === 'unchanged') return this.done(second, safe.accepted, quarantined);
    return { ...second, installed: [], quarantined: this.withHeld(quarantined) };
  }

  /** Members held back for breaking the render or check, as they stand. */
  heldBack(): QuarantinedMember[] {
    return [...this.held.values()].map((h) => h.entry);
  }

  private done(result: DetailedOutcome, installed: readonly Member[], quarantined: QuarantinedMember[]): SafeInstallResult {
    this.lastGood = installed;
    // The text as the render made it: for a render made as bytes, decoded only if read.
    return withTextOf({ outcome: result.outcome, installed, quarantined: this.withHeld(quarantined) }, result);
  }

  private withHeld(quarantined: QuarantinedMember[]): QuarantinedMember[] {
    return this.held.size === 0 ? quarantined : [...quarantined, ...this.heldBack()];
  }
}
