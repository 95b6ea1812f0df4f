export type { Member } from './member.js';
export type { HostKind, ParsedMemberName } from './member-name.js';
export { parseMemberName, memberSortKey, compareMemberNames } from './member-name.js';
export type { KeyClass } from './key-model.js';
export { classifyKey, parseMeta } from './key-model.js';
export type { MembershipDiagnostics, MembershipEvent, KeyValue } from './membership.js';
export { Membership } from './membership.js';
export { LogOnce } from './log-once.js';
