import { type AddressPolicy, addressVerdict } from '../model/address-policy.js';
import type { Member } from '../model/member.js';
import type { QuarantinedMember } from '../model/quarantine.js';
import type { HostResolver } from './host-resolver.js';

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
): Promise<FilteredMembers> {
  // Fast path: every member an IP literal already judged allowed (the usual render).
  let judged = 0;
  while (judged < members.length && verdicts.get(members[judged]!) === null) judged++;
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
