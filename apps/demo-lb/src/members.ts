import { readFile } from 'node:fs/promises';

// The cluster file written by the `json` handler (format "objects"): [{name, host, port, meta}].
// Its content comes from etcd, so every entry is checked again before it is used.
// (demo-web and demo-lb carry the same copy.)

export interface Peer {
  /** `host:port` as registered. */
  name: string;
  /** `http://host:port`, no trailing slash. */
  url: string;
}

const SAFE_HOST = /^[A-Za-z0-9.:-]{1,253}$/;
const SAFE_NAME = /^[A-Za-z0-9.:[\]-]{1,261}$/;

/** The peers in a cluster file; entries that are not a plain host and port are left out. */
export function parsePeers(text: string): Peer[] {
  const data: unknown = JSON.parse(text);
  if (!Array.isArray(data)) throw new Error('expected a JSON array');
  const peers: Peer[] = [];
  for (const entry of data as unknown[]) {
    if (typeof entry !== 'object' || entry === null) continue;
    const { name, host, port } = entry as Record<string, unknown>;
    if (typeof name !== 'string' || !SAFE_NAME.test(name) || typeof host !== 'string' || !SAFE_HOST.test(host)) continue;
    const p = port === null || port === undefined ? 80 : port;
    if (typeof p !== 'number' || !Number.isInteger(p) || p < 1 || p > 65535) continue;
    peers.push({ name, url: `http://${host.includes(':') ? `[${host}]` : host}:${p}` });
  }
  return sortByName(peers);
}

export async function readPeers(file: string): Promise<Peer[]> {
  return parsePeers(await readFile(file, 'utf8'));
}

/**
 * Orders names naturally: runs of digits compare as numbers, so 127.0.0.9:80 comes before
 * 127.0.0.10:80; ties fall back to plain code-unit order, so distinct names never compare equal.
 */
export function compareNames(a: string, b: string): number {
  const ta = a.match(/\d+|\D+/g) ?? [];
  const tb = b.match(/\d+|\D+/g) ?? [];
  for (let i = 0; i < Math.min(ta.length, tb.length); i++) {
    const x = ta[i]!;
    const y = tb[i]!;
    if (x === y) continue;
    const nx = /^\d/.test(x);
    const ny = /^\d/.test(y);
    if (nx && ny) {
      const dx = x.replace(/^0+(?=\d)/, '');
      const dy = y.replace(/^0+(?=\d)/, '');
      if (dx.length !== dy.length) return dx.length < dy.length ? -1 : 1;
      if (dx !== dy) return dx < dy ? -1 : 1;
    } else {
      return x < y ? -1 : 1;
    }
  }
  if (ta.length !== tb.length) return ta.length - tb.length < 0 ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

export function sortByName<T extends { name: string }>(items: readonly T[]): T[] {
  return [...items].sort((a, b) => compareNames(a.name, b.name));
}
