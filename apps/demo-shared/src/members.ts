import { type ListedMember, readMembersFile } from '@cluster-control/core/sync';

// The peers in a cluster file the `json` handler wrote (format "objects"). Reading it back is
// core's readMembersFile: the file holds data from etcd, so core validates every name again with
// the rules it registered them by (parseMemberName) and returns them in member order. What is
// left here is the app's view of a peer, the URL to ask.

export interface Peer {
  /** `host:port` as registered. */
  name: string;
  /** `http://host:port`, no trailing slash; port 80 when registered without one. */
  url: string;
}

export function toPeer(member: ListedMember): Peer {
  return { name: member.name, url: `http://${member.kind === 'ipv6' ? `[${member.host}]` : member.host}:${member.port ?? 80}` };
}

export async function readPeers(file: string): Promise<Peer[]> {
  return (await readMembersFile(file)).map(toPeer);
}
