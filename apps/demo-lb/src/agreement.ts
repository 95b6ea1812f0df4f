/** What the load balancer learnt from one web server. */
export interface Observation {
  name: string;
  /** The database ids it reported (any order); undefined when it could not be asked. */
  databases: readonly string[] | undefined;
  /** Why it could not be asked, or which of its databases it could not ask. */
  error?: string | undefined;
}

export interface WebServerRow {
  name: string;
  /** Sorted. */
  databases: string[];
  error?: string;
  agrees: boolean;
}

export interface Agreement {
  webServers: WebServerRow[];
  /** The most common list (see majorityList); empty when no web server answered. */
  databases: string[];
  /** Every web server agrees and none reported an error. */
  consistent: boolean;
}

/**
 * Orders names and ids naturally: runs of digits compare as numbers, so 127.0.0.9:80 comes before
 * 127.0.0.10:80 and db-9 before db-10; ties fall back to plain code-unit order, so distinct names
 * never compare equal.
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

export function sortIds(ids: readonly string[]): string[] {
  return [...ids].sort(compareNames);
}

/** Element by element (natural order), a shorter list first when one is a prefix of the other. */
export function compareLists(a: readonly string[], b: readonly string[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const d = compareNames(a[i]!, b[i]!);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/**
 * The most common of the (sorted) lists; ties go to the longest list, then to the first in
 * lexicographic order. Undefined for no lists.
 */
export function majorityList(lists: readonly (readonly string[])[]): string[] | undefined {
  const counts = new Map<string, { list: readonly string[]; count: number }>();
  for (const list of lists) {
    const key = JSON.stringify(list);
    const entry = counts.get(key);
    if (entry) entry.count++;
    else counts.set(key, { list, count: 1 });
  }
  let best: { list: readonly string[]; count: number } | undefined;
  for (const entry of counts.values()) {
    if (
      !best ||
      entry.count > best.count ||
      (entry.count === best.count && (entry.list.length > best.list.length || (entry.list.length === best.list.length && compareLists(entry.list, best.list) < 0)))
    ) {
      best = entry;
    }
  }
  return best ? [...best.list] : undefined;
}

/**
 * Rows sorted by name; a row agrees when its id list equals the majority among the web servers
 * that answered. One that could not be asked has no list: it neither votes nor agrees.
 */
export function computeAgreement(observations: readonly Observation[]): Agreement {
  const sorted = [...observations].sort((a, b) => compareNames(a.name, b.name));
  const lists = sorted.map((o) => (o.databases === undefined ? undefined : sortIds(o.databases)));
  const majority = majorityList(lists.filter((l): l is string[] => l !== undefined)) ?? [];
  const majorityKey = JSON.stringify(majority);
  const webServers = sorted.map((o, i): WebServerRow => {
    const databases = lists[i] ?? [];
    const agrees = lists[i] !== undefined && JSON.stringify(databases) === majorityKey;
    return o.error === undefined ? { name: o.name, databases, agrees } : { name: o.name, databases, error: o.error, agrees };
  });
  return { webServers, databases: majority, consistent: webServers.every((w) => w.agrees && w.error === undefined) };
}
