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
   * Verdicts on IP-literal members, reused across calls with the same policy: Membership hands out
   * the same Member object until its value changes, so a render of 100k members costs a lookup
   * each, not a policy check each.
   */
  verdicts: WeakMap<Member, string | null> = new WeakMap(),
  /**
   * The last list this policy allowed whole, for the next call (read and updated here): a member
   * found in it by identity needs no lookup, so the usual render after one change costs a walk
   * over the list and one verdict, not a lookup per member.
   */
  last?: { allowed: readonly Member[] | undefined; own?: Member[] },
): Promise<FilteredMembers> {
  // Fast path: every member an IP literal judged allowed (the usual render).
  const judged = allowedPrefix(members, policy, verdicts, last?.allowed);
  // A copy (the caller's array may change after this call; the Member objects do not), into the
  // same array each time: a new one per change is garbage the size of the cluster.
  if (last) last.allowed = judged === members.length ? copyInto((last.own ??= []), members) : undefined;
  if (judged === members.length) return { allowed: members.slice(), quarantined: [] };

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
    const verdict = check(member, policy, resolved, resolver !== undefined, verdicts);
    if (verdict) quarantined.push({ name: member.name, key: member.key, ...verdict });
    else allowed.push(member);
  }
  return { allowed, quarantined };
}

/**
 * How many members, from the first, are IP literals the policy allows: those found in `before`
 * (a list allowed whole, same policy) by walking both in step, the others by their verdict (judged
 * here if new). A member the walk does not find is looked up, so a walk that loses step costs
 * lookups, never a wrong answer.
 */
function allowedPrefix(members: readonly Member[], policy: AddressPolicy, verdicts: WeakMap<Member, string | null>, before: readonly Member[] | undefined): number {
  let j = 0;
  const known = before ?? [];
  for (let i = 0; i < members.length; i++) {
    const m = members[i]!;
    if (known[j] === m) {
      j++;
      continue;
    }
    if (known[j + 1] === m) {
      j += 2; // one member left since
      continue;
    }
    let verdict = verdicts.get(m);
    if (verdict === undefined && !isHostName(m.host)) {
      verdict = addressVerdict(policy, m.host) ?? null;
      verdicts.set(m, verdict);
    }
    if (verdict !== null) return i;
  }
  return members.length;
}

function check(
  member: Member,
  policy: AddressPolicy,
  resolved: Map<string, Awaited<ReturnType<HostResolver['resolve']>>>,
  resolving: boolean,
  verdicts: WeakMap<Member, string | null>,
): Pick<QuarantinedMember, 'kind' | 'reason'> | undefined {
  const known = verdicts.get(member);
  if (known !== undefined) return known === null ? undefined : { kind: 'address', reason: known };
  if (!isHostName(member.host)) {
    const why = addressVerdict(policy, member.host) ?? null;
    verdicts.set(member, why);
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
