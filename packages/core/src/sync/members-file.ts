import { readFile } from 'node:fs/promises';
import { type HostKind, memberSortKey, parseMemberName } from '../model/member-name.js';

/** A member as read back from a cluster file: what its name says, and its meta. */
export interface ListedMember {
  /** The validated, canonical name, e.g. `10.0.0.5:80` or `[fd00::5]:80`. */
  name: string;
  /** IPv4 address, IPv6 address without brackets, or host name. */
  host: string;
  port: number | undefined;
  kind: HostKind;
  /** The meta object written with the member (the `objects` format); otherwise empty. */
  meta: Readonly<Record<string, unknown>>;
}

/**
 * Reads back a member list written by the `json` handler, in either format: `["10.0.0.5:80", ...]`
 * or `[{"name", "host", "port", "meta"}, ...]`. For an application that embeds the Supervisor and
 * reads its own cluster file (on its service's reload): the file's content came from etcd, so
 * every name is validated again with parseMemberName, and host, port and kind come from the
 * parsed name, never from the file's other fields. Entries whose name does not pass, and repeats,
 * are left out. Returns the members in member order; throws when the text is not a JSON array.
 */
export function parseMembersJson(text: string): ListedMember[] {
  const data: unknown = JSON.parse(text);
  if (!Array.isArray(data)) throw new Error('expected a JSON array');
  const members = new Map<string, ListedMember>();
  for (const entry of data as unknown[]) {
    const fields = typeof entry === 'object' && entry !== null && !Array.isArray(entry) ? (entry as Record<string, unknown>) : undefined;
    const raw = typeof entry === 'string' ? entry : fields?.name;
    if (typeof raw !== 'string') continue;
    const parsed = parseMemberName(raw);
    if (!parsed.ok) continue;
    const key = memberSortKey(parsed);
    if (members.has(key)) continue;
    const meta = fields?.meta;
    const { name, host, port, kind } = parsed;
    members.set(key, { name, host, port, kind, meta: typeof meta === 'object' && meta !== null && !Array.isArray(meta) ? (meta as Record<string, unknown>) : {} });
  }
  return [...members.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, member]) => member);
}

/** parseMembersJson on a file: the members a `json` handler cluster file lists. */
export async function readMembersFile(path: string): Promise<ListedMember[]> {
  return parseMembersJson(await readFile(path, 'utf8'));
}
