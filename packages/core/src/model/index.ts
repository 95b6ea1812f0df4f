// `@cluster-control/core/model`: the key model, pure: member names, Membership, limits and the address policy.
export type { Member } from './member.js';
export type { HostKind, ParsedMemberName } from './member-name.js';
export { parseMemberName, compareMemberNames } from './member-name.js';
export type { KeyClass } from './key-model.js';
export { classifyKey } from './key-model.js';
export type { MembershipDiagnostics, MembershipEvent, MembershipReset, QuarantinedKey, MembershipEntry } from './membership.js';
export { Membership } from './membership.js';
export type { MemberLimits } from './member-limits.js';
export { DEFAULT_MEMBER_LIMITS } from './member-limits.js';
export type { AddressPolicy, Cidr } from './address-policy.js';
export { DEFAULT_ADDRESS_POLICY, addressVerdict, parseCidr } from './address-policy.js';
export type { QuarantineKind, QuarantinedMember } from './quarantine.js';
