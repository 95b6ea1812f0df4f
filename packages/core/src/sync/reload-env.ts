import type { Member } from '../model/member.js';

/**
 * Linux refuses to start a program when any one environment string is longer than 128 KiB
 * (MAX_ARG_STRLEN): `spawn E2BIG`, and the reload would never run. Stay well below it.
 */
export const MAX_MEMBERS_ENV_BYTES = 100_000;

/**
 * The environment of a reload command: which cluster and file changed, and its members
 * (space-separated). A member list too long for one environment string is left out, and
 * CLUSTER_CONTROL_MEMBERS_OMITTED=1 says so; the file always has them all.
 */
export function reloadEnvironment(cluster: string, file: string, members: readonly Member[]): Record<string, string> {
  const names = members.map((m) => m.name).join(' ');
  const env: Record<string, string> = {
    CLUSTER_CONTROL_CLUSTER: cluster,
    CLUSTER_CONTROL_FILE: file,
    CLUSTER_CONTROL_MEMBER_COUNT: String(members.length),
  };
  if (Buffer.byteLength(names) <= MAX_MEMBERS_ENV_BYTES) env.CLUSTER_CONTROL_MEMBERS = names;
  else env.CLUSTER_CONTROL_MEMBERS_OMITTED = '1';
  return env;
}
