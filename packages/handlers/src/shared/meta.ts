import type { Member, RenderContext } from '@cluster-control/core';

/*
 * Meta values come from etcd, i.e. from the network: a handler only writes the ones that pass
 * these checks, and reports the others (the member itself is still rendered without them).
 * Each helper returns undefined when the field is absent or refused.
 */

function refuse(member: Member, field: string, why: string, context: RenderContext): undefined {
  context.report?.(`member ${member.name}: meta.${field} ignored (${why})`);
  return undefined;
}

export function metaInteger(member: Member, field: string, range: { min: number; max: number }, context: RenderContext): number | undefined {
  const value = member.meta[field];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < range.min || value > range.max) {
    return refuse(member, field, `expected an integer from ${range.min} to ${range.max}`, context);
  }
  return value;
}

export function metaBoolean(member: Member, field: string, context: RenderContext): boolean | undefined {
  const value = member.meta[field];
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') return refuse(member, field, 'expected true or false', context);
  return value;
}

/** A short string of safe characters only: [A-Za-z0-9_.-] by default. */
export function metaToken(member: Member, field: string, context: RenderContext, pattern = /^[A-Za-z0-9_.-]{1,64}$/): string | undefined {
  const value = member.meta[field];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !pattern.test(value)) return refuse(member, field, `expected a string matching ${pattern}`, context);
  return value;
}

/** What a member name may contain once core has validated it: host names, IPs, brackets, port. */
const SAFE_NAME = /^[A-Za-z0-9.:[\]-]{1,261}$/;
const SAFE_HOST = /^[A-Za-z0-9.:-]{1,253}$/;

/**
 * The members whose name, host and port are safe to write into any config format. Core already
 * rejects anything else; handlers check again because they are published on their own and may
 * be fed members from elsewhere.
 */
export function safeMembers(members: readonly Member[], context: RenderContext): Member[] {
  return members.filter((m) => {
    const ok =
      typeof m.name === 'string' &&
      SAFE_NAME.test(m.name) &&
      typeof m.host === 'string' &&
      SAFE_HOST.test(m.host) &&
      (m.port === undefined || (Number.isInteger(m.port) && m.port >= 1 && m.port <= 65535));
    if (!ok) context.report?.(`member ${JSON.stringify(m.name)} left out: not a valid host or host:port`);
    return ok;
  });
}

/** A member with the port it is written with. */
export interface Server {
  member: Member;
  host: string;
  port: number;
}

/**
 * Safe members with their port (theirs, else `defaultPort`); a second member naming the same
 * host:port is left out and reported, for formats that would list that server twice.
 */
export function distinctServers(members: readonly Member[], defaultPort: number, context: RenderContext): Server[] {
  const seen = new Map<string, string>();
  const servers: Server[] = [];
  for (const member of safeMembers(members, context)) {
    const port = member.port ?? defaultPort;
    const address = `${member.host}:${port}`;
    const first = seen.get(address);
    if (first !== undefined) {
      context.report?.(`member ${member.name} left out: same server ${address} as member ${first}`);
      continue;
    }
    seen.set(address, member.name);
    servers.push({ member, host: member.host, port });
  }
  return servers;
}
