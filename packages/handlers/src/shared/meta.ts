import type { Member, RenderContext } from '@cluster-control/core';

/*
 * Meta values come from etcd, i.e. from the network: a handler only writes the ones that pass
 * these checks, and reports the others (the member itself is still rendered without them).
 * Each helper returns undefined when the field is absent or refused.
 */

/** One refused meta field: how to name it in a log line, and why it was refused. */
interface Refusal {
  readonly field: string;
  readonly why: string;
}

/** Per member name: how many fields were refused this render, and the first few (for the line). */
type Refusals = Map<string, { count: number; first: Refusal[] }>;

/** The refusals of the render in progress, for contexts made by `withMetaReports`. */
const collecting = new WeakMap<RenderContext, Refusals>();

/** How many refused fields one summary line names. */
const NAMED_IN_SUMMARY = 3;

/** `weight` → `weight`; anything that is not a plain name → `"x y"` (JSON-quoted, at most 64 characters of it). */
export function metaFieldName(key: string): string {
  if (/^[A-Za-z_][A-Za-z0-9_-]{0,63}$/.test(key)) return key;
  return key.length > 64 ? `${JSON.stringify(key.slice(0, 64))}...` : JSON.stringify(key);
}

/**
 * Runs one render with a context that collects the refused meta fields and, when the render ends
 * (or fails), reports one line per member: `member 10.0.0.5:80: meta.weight ignored (...)`, or
 * `member 10.0.0.5:80: 149,998 meta fields ignored: meta."x y" (...), ... and 149,995 more`. The
 * same data gives the same lines, so core's log-once repeats none of them on later renders; a
 * value with 150k bad keys costs one line, not 150k.
 */
export function withMetaReports<T>(context: RenderContext, render: (context: RenderContext) => T): T {
  if (collecting.has(context)) return render(context);
  const refusals: Refusals = new Map();
  const inner: RenderContext = { ...context };
  collecting.set(inner, refusals);
  try {
    return render(inner);
  } finally {
    for (const [name, { count, first }] of refusals) context.report?.(summaryLine(name, count, first));
  }
}

function summaryLine(name: string, count: number, first: readonly Refusal[]): string {
  if (count === 1 && first[0]) return `member ${name}: meta.${first[0].field} ignored (${first[0].why})`;
  const more = count > first.length ? `, and ${(count - first.length).toLocaleString('en-US')} more` : '';
  return `member ${name}: ${count.toLocaleString('en-US')} meta fields ignored: ${first.map((r) => `meta.${r.field} (${r.why})`).join(', ')}${more}`;
}

/**
 * Reports a refused meta field of `member` (`key` as it is in the meta object): summarised per
 * member when the context comes from `withMetaReports`, else reported at once.
 */
export function refuseMeta(member: Member, key: string, why: string, context: RenderContext): undefined {
  const field = metaFieldName(key);
  const refusals = collecting.get(context);
  if (!refusals) {
    context.report?.(`member ${member.name}: meta.${field} ignored (${why})`);
    return undefined;
  }
  let entry = refusals.get(member.name);
  if (!entry) refusals.set(member.name, (entry = { count: 0, first: [] }));
  entry.count++;
  if (entry.first.length < NAMED_IN_SUMMARY) entry.first.push({ field, why });
  return undefined;
}

const refuse = refuseMeta;

/** How deep a meta field's value may nest (arrays and objects) before a handler refuses it: far more than any real use, far less than a stack. */
export const MAX_META_NESTING = 64;

/**
 * Whether `value` nests arrays/objects more than `limit` levels deep (a scalar is 0, `{}` is 1).
 * Iterative, so a value nested 100,000 deep costs no stack.
 */
export function nestsDeeperThan(value: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  for (let item = stack.pop(); item; item = stack.pop()) {
    const [v, depth] = item;
    if (typeof v !== 'object' || v === null) continue;
    if (depth + 1 > limit) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}

/**
 * A copy of `member.meta` without the fields nested deeper than `MAX_META_NESTING` (each one
 * refused and reported): what a handler that serialises whole meta values (JSON.stringify, a
 * template's `json` filter) may hand on without overflowing the stack. The same object when nothing is refused.
 */
export function shallowMeta(member: Member, context: RenderContext): Readonly<Record<string, unknown>> {
  let result: Record<string, unknown> | undefined;
  for (const [key, value] of Object.entries(member.meta)) {
    if (nestsDeeperThan(value, MAX_META_NESTING - 1)) {
      result ??= { ...member.meta };
      delete result[key];
      refuse(member, key, `nested more than ${MAX_META_NESTING} levels deep`, context);
    }
  }
  return result ?? member.meta;
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
    const ok = isSafeMember(m);
    if (!ok) context.report?.(`member ${JSON.stringify(m.name)} left out: not a valid host or host:port`);
    return ok;
  });
}

/** Whether safeMembers keeps `m` (it reports the others). */
export function isSafeMember(m: Member): boolean {
  return (
    typeof m.name === 'string' &&
    SAFE_NAME.test(m.name) &&
    typeof m.host === 'string' &&
    SAFE_HOST.test(m.host) &&
    (m.port === undefined || (Number.isInteger(m.port) && m.port >= 1 && m.port <= 65535))
  );
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
