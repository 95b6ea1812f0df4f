import { type AddressPolicy, addressVerdict } from '../model/address-policy.js';
import type { Member } from '../model/member.js';
import type { QuarantinedMember } from '../model/quarantine.js';
import type { HostResolver } from './host-resolver.js';
import { copyInto } from './list-render.js';

export interface FilteredMembers {
  allowed: Member[];
  quarantined: QuarantinedMember[];
}

/**
 * The members whose address the cluster's policy allows. IP literals are checked as they are; a
 * host name must be allowed (`hostnames`), resolve, and every address it resolves to must pass
 * the policy too (a name is no way around a denied network). Order is kept.
 */
export async function filterByAddress(
  members: readonly Member[],
  policy: AddressPolicy,
  resolver: HostResolver | undefined,
  /**
   * Verdicts on IP-literal members that the policy denies (a caller's map may hold allowed ones
   * too, as null), reused across calls with the same policy: Membership hands out the same Member
   * object until its value changes. Allowed ones are not kept (a weak map entry per member of a
   * large cluster): `last` tells them apart.
   */
  verdicts: WeakMap<Member, string | null> = new WeakMap(),
  /**
   * The last list judged with this policy and these verdicts (`judged`), and whether it was
   * allowed whole (`allowed`: the same list, or undefined), for the next call (read and updated
   * here): a member found in it by identity was judged already (an IP literal not in `verdicts` was
   * allowed), so the usual render after one change costs a walk over the list and one verdict,
   * not a policy check per member.
   */
  last?: { allowed: readonly Member[] | undefined; own?: Member[]; judged?: readonly Member[] | undefined },
): Promise<FilteredMembers> {
  const walk = new StepWalk(last?.judged);
  // Fast path: every member an IP literal judged allowed (the usual render).
  const { judged, seen } = allowedPrefix(members, policy, verdicts, walk, last?.allowed !== undefined && last.allowed === last.judged);
  /** Remember `members` as judged (whole: allowed too) for the next call. */
  const keep = (whole: boolean) => {
    if (!last) return;
    // A copy (the caller's array may change after this call; the Member objects do not), into the
    // same array each time: a new one per change is garbage the size of the cluster.
    last.judged = copyInto((last.own ??= []), members);
    last.allowed = whole ? last.judged : undefined;
  };
  if (judged === members.length) {
    keep(true);
    return { allowed: members.slice(), quarantined: [] };
  }

  const allowed: Member[] = members.slice(0, judged);
  const quarantined: QuarantinedMember[] = [];
  const hostNames = new Set<string>();
  for (let i = judged; i < members.length; i++) {
    const m = members[i]!;
    if (!verdicts.has(m) && isHostName(m.host)) hostNames.add(m.host);
  }
  const resolved = new Map<string, Awaited<ReturnType<HostResolver['resolve']>>>();
  if (policy.hostnames && resolver && hostNames.size > 0) {
    await Promise.all([...hostNames].map(async (host) => resolved.set(host, await resolver.resolve(host))));
  }
  for (let i = judged; i < members.length; i++) {
    const member = members[i]!;
    const verdict = check(member, policy, resolved, resolver !== undefined, verdicts, i === judged ? seen : walk.seen(member));
    if (verdict) quarantined.push({ name: member.name, key: member.key, ...verdict });
    else allowed.push(member);
  }
  keep(false);
  return { allowed, quarantined };
}

/** How far ahead of its place a walk looks for a member of the last list (members that left since). */
const LOOKAHEAD = 256;

/**
 * Walks the last list judged in step with the next one, telling whether each member of the next
 * was in it (by identity): a sorted list after a change has the same members in the same order,
 * give or take those that came (not found: judged now) and those that left (skipped, up to
 * LOOKAHEAD in a row). A member the walk does not find is judged again: never a wrong answer.
 */
class StepWalk {
  private at = 0;

  constructor(private readonly known: readonly Member[] = []) {}

  seen(member: Member): boolean {
    const { known } = this;
    if (known[this.at] === member) {
      this.at++;
      return true;
    }
    const end = Math.min(known.length, this.at + LOOKAHEAD);
    for (let k = this.at + 1; k < end; k++) {
      if (known[k] === member) {
        this.at = k + 1;
        return true;
      }
    }
    return false;
  }
}

/**
 * How many members, from the first, are IP literals the policy allows (`judged`), and whether the
 * first one that is not was seen by the walk: those the walk finds in the last list judged (when
 * that list was allowed whole: `wholeBefore`) at once, the others by their verdict (judged here if
 * new to the walk).
 */
function allowedPrefix(members: readonly Member[], policy: AddressPolicy, verdicts: WeakMap<Member, string | null>, walk: StepWalk, wholeBefore: boolean): { judged: number; seen: boolean } {
  for (let i = 0; i < members.length; i++) {
    const m = members[i]!;
    const seen = walk.seen(m);
    if (seen && wholeBefore) continue;
    let verdict = verdicts.get(m);
    if (verdict === undefined && !isHostName(m.host)) verdict = seen ? null : judge(m, policy, verdicts);
    if (verdict !== null) return { judged: i, seen };
  }
  return { judged: members.length, seen: false };
}

/** An IP-literal member's verdict (null: allowed), kept in `verdicts` when it is a denial. */
function judge(member: Member, policy: AddressPolicy, verdicts: WeakMap<Member, string | null>): string | null {
  const why = addressVerdict(policy, member.host) ?? null;
  if (why !== null) verdicts.set(member, why);
  return why;
}

function check(
  member: Member,
  policy: AddressPolicy,
  resolved: Map<string, Awaited<ReturnType<HostResolver['resolve']>>>,
  resolving: boolean,
  verdicts: WeakMap<Member, string | null>,
  /** The member was in the last list judged: an IP literal not in `verdicts` was allowed. */
  seen: boolean,
): Pick<QuarantinedMember, 'kind' | 'reason'> | undefined {
  const known = verdicts.get(member);
  if (known !== undefined) return known === null ? undefined : { kind: 'address', reason: known };
  if (!isHostName(member.host)) {
    const why = seen ? null : judge(member, policy, verdicts);
    return why === null ? undefined : { kind: 'address', reason: why };
  }
  if (!policy.hostnames) return { kind: 'address', reason: 'host names are not allowed in this cluster (members.hostnames is false)' };
  if (!resolving) return undefined;
  const answer = resolved.get(member.host);
  if (!answer) return undefined;
  if (!answer.ok) return { kind: 'unresolved', reason: answer.reason };
  for (const address of answer.addresses) {
    const why = addressVerdict(policy, address);
    if (why) return { kind: 'address', reason: `host name ${member.host} resolves to ${address}: ${why}` };
  }
  return undefined;
}

/** Core's member names are IPv4, IPv6 (no brackets in `host`) or RFC 1123 names. */
function isHostName(host: string): boolean {
  return !host.includes(':') && !/^[0-9.]+$/.test(host);
}
