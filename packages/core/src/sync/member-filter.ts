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
  /** Verdicts on IP literals by host, reused across calls with the same policy (a large cluster renders often). */
  verdicts: Map<string, string | undefined> = new Map(),
): Promise<FilteredMembers> {
  const allowed: Member[] = [];
  const quarantined: QuarantinedMember[] = [];
  const hostNames = new Set<string>();
  for (const m of members) if (isHostName(m.host)) hostNames.add(m.host);
  const resolved = new Map<string, Awaited<ReturnType<HostResolver['resolve']>>>();
  if (policy.hostnames && resolver && hostNames.size > 0) {
    await Promise.all([...hostNames].map(async (host) => resolved.set(host, await resolver.resolve(host))));
  }
  for (const member of members) {
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
  verdicts: Map<string, string | undefined>,
): Pick<QuarantinedMember, 'kind' | 'reason'> | undefined {
  if (!isHostName(member.host)) {
    let why = verdicts.get(member.host);
    if (why === undefined && !verdicts.has(member.host)) {
      why = addressVerdict(policy, member.host);
      if (verdicts.size >= MAX_VERDICTS) verdicts.clear();
      verdicts.set(member.host, why);
    }
    return why ? { kind: 'address', reason: why } : undefined;
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

const MAX_VERDICTS = 1_000_000;

/** Core's member names are IPv4, IPv6 (no brackets in `host`) or RFC 1123 names. */
function isHostName(host: string): boolean {
  return !host.includes(':') && !/^[0-9.]+$/.test(host);
}
