import { classifyKey, parseMeta } from './key-model.js';
import type { Member } from './member.js';
import { memberSortKey, parseMemberName } from './member-name.js';

export interface MembershipDiagnostics {
  /** Keys directly under the prefix whose name is not a valid member name. */
  rejected: { key: string; reason: string }[];
  /** Keys deeper under the prefix (`prefix/a/b`): never members. */
  nested: string[];
}

export interface KeyValue {
  key: string;
  value: string;
}

export interface MembershipEvent extends KeyValue {
  type: 'put' | 'delete';
}

interface Entry {
  readonly member: Member;
  /** Derived from the name alone, and unique per name: see `memberSortKey`. */
  readonly sortKey: string;
}

const bySortKey = (a: Entry, b: Entry): number => (a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : 0);

// Above this many changed names, re-sorting everything beats inserting one by one.
const MAX_INCREMENTAL = 256;

/**
 * The members of one cluster, kept up to date from a full read (`reset`) and watch events
 * (`apply`). Pure: no I/O, no logging; problems come back as diagnostics for the caller to log.
 *
 * Two keys can decode to the same canonical name (`10.0.0.5:80` and `10.0.0.5%3A80`). The name
 * is then one member, taken from the highest key in code-unit order (the byte order etcd uses,
 * as valid member keys are ASCII). `:` sorts above `%`, so the plain spelling wins over the
 * percent-encoded one; the choice never depends on the order events arrived in.
 *
 * Built for large clusters: an event costs O(1); the sorted list is patched lazily with a binary
 * search per changed name; a re-read that matches the current state changes nothing. Memory per
 * member is kept small (a watcher may hold 100k+): one entry per key, one per name, and a list of
 * the other spellings only for the rare names that have them.
 */
export class Membership {
  /** Every key whose name is valid. */
  private readonly entries = new Map<string, Entry>();
  /** The effective entry of each name: the highest of its keys. */
  private readonly winners = new Map<string, Entry>();
  /** The other entries of names spelt by more than one key (rare); absent for all others. */
  private readonly others = new Map<string, Entry[]>();
  /** `winners` sorted, and their members (same indexes), as of the last `sorted()`. */
  private order: Entry[] = [];
  private list: Member[] = [];
  /** Names whose winner changed since the last `sort()`, with their sort keys... */
  private readonly unsorted = new Map<string, string>();
  /** ...unless too many did: then everything is sorted again. */
  private resort = false;
  /** Names whose winner changed since the last `takeChanged()`, with their member back then... */
  private readonly untaken = new Map<string, Member | undefined>();
  /** ...unless that grew past the number of members (takeChanged not being called): then "changed". */
  private untakenOverflow = false;

  constructor(readonly prefix: string) {}

  /** Number of (deduplicated) valid members. */
  get size(): number {
    return this.winners.size;
  }

  /** Replace everything with a full read. */
  reset(kvs: Iterable<KeyValue>): MembershipDiagnostics {
    const diagnostics = emptyDiagnostics();
    if (this.entries.size === 0) {
      for (const { key, value } of kvs) this.put(key, value, diagnostics);
      return diagnostics;
    }
    // Applied as a diff, so a re-read that matches what we have (the usual case after a
    // reconnect) costs no parsing, no sorting and reports no change.
    const seen = new Set<string>();
    for (const { key, value } of kvs) {
      seen.add(key);
      this.put(key, value, diagnostics);
    }
    for (const key of [...this.entries.keys()]) if (!seen.has(key)) this.delete(key);
    return diagnostics;
  }

  /** Apply watch events in order. */
  apply(events: Iterable<MembershipEvent>): MembershipDiagnostics {
    const diagnostics = emptyDiagnostics();
    for (const event of events) {
      if (event.type === 'put') this.put(event.key, event.value, diagnostics);
      else this.delete(event.key);
    }
    return diagnostics;
  }

  /**
   * Valid members sorted deterministically: IPv4 numerically by octets, then IPv6, then host
   * names alphabetically; then by port, no port first. Returns a fresh copy.
   */
  members(): Member[] {
    this.sort();
    return this.list.slice();
  }

  /** True if the valid member set (names and values) changed since the previous call. */
  takeChanged(): boolean {
    let changed = this.untakenOverflow;
    this.untakenOverflow = false;
    for (const [name, before] of this.untaken) {
      const after = this.winners.get(name)?.member;
      // Values are strings, so this also catches a member appearing or disappearing.
      if (before?.value !== after?.value) {
        changed = true;
        break;
      }
    }
    this.untaken.clear();
    return changed;
  }

  private sort(): void {
    if (this.resort) {
      this.resort = false;
      this.order = [...this.winners.values()].sort(bySortKey);
      this.list = this.order.map((e) => e.member);
    } else {
      for (const [name, sortKey] of this.unsorted) this.patch(name, sortKey);
    }
    this.unsorted.clear();
  }

  /** Bring `name`'s place in `order` and `list` up to date. */
  private patch(name: string, sortKey: string): void {
    const { order, list } = this;
    let lo = 0;
    let hi = order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (order[mid]!.sortKey < sortKey) lo = mid + 1;
      else hi = mid;
    }
    const present = lo < order.length && order[lo]!.sortKey === sortKey;
    const winner = this.winners.get(name);
    if (winner && present) {
      order[lo] = winner;
      list[lo] = winner.member;
    } else if (winner) {
      order.splice(lo, 0, winner);
      list.splice(lo, 0, winner.member);
    } else if (present) {
      order.splice(lo, 1);
      list.splice(lo, 1);
    }
  }

  private put(key: string, value: string, diagnostics: MembershipDiagnostics): void {
    const previous = this.entries.get(key);
    let name: string;
    let host: string;
    let port: number | undefined;
    let sortKey: string;
    if (previous) {
      if (previous.member.value === value) return;
      ({ name, host, port } = previous.member);
      sortKey = previous.sortKey;
    } else {
      const where = classifyKey(this.prefix, key);
      if (where.kind === 'nested') diagnostics.nested.push(key);
      if (where.kind !== 'member') return;
      const parsed = parseMemberName(where.name);
      if (!parsed.ok) {
        diagnostics.rejected.push({ key, reason: parsed.reason });
        return;
      }
      ({ host, port } = parsed);
      name = flat(parsed.name);
      sortKey = flat(memberSortKey(parsed));
    }
    const entry: Entry = { member: { name, host, port, key, meta: parseMeta(value), value }, sortKey };
    this.entries.set(key, entry);
    const winner = this.winners.get(name);
    if (previous) {
      // Same key, new value: it keeps its place, winner or not.
      if (winner === previous) this.crown(name, sortKey, entry);
      else this.replaceOther(name, previous, entry);
    } else if (!winner) {
      this.crown(name, sortKey, entry);
    } else if (key > winner.member.key) {
      this.addOther(name, winner);
      this.crown(name, sortKey, entry);
    } else {
      this.addOther(name, entry);
    }
  }

  private delete(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    const name = entry.member.name;
    if (this.winners.get(name) === entry) this.crown(name, entry.sortKey, this.takeHighestOther(name));
    else this.removeOther(name, entry);
  }

  /** Makes `next` the effective entry of `name` (none: the name is gone), noting the change. */
  private crown(name: string, sortKey: string, next: Entry | undefined): void {
    if (!this.untakenOverflow && !this.untaken.has(name)) {
      this.untaken.set(name, this.winners.get(name)?.member);
      if (this.untaken.size > this.winners.size + MAX_INCREMENTAL) {
        this.untakenOverflow = true;
        this.untaken.clear();
      }
    }
    if (!this.resort) {
      this.unsorted.set(name, sortKey);
      if (this.unsorted.size > MAX_INCREMENTAL) {
        this.resort = true;
        this.unsorted.clear();
      }
    }
    if (next) this.winners.set(name, next);
    else this.winners.delete(name);
  }

  private addOther(name: string, entry: Entry): void {
    const others = this.others.get(name);
    if (others) others.push(entry);
    else this.others.set(name, [entry]);
  }

  private replaceOther(name: string, previous: Entry, entry: Entry): void {
    const others = this.others.get(name)!;
    others[others.indexOf(previous)] = entry;
  }

  private removeOther(name: string, entry: Entry): void {
    const others = this.others.get(name)!;
    others.splice(others.indexOf(entry), 1);
    if (others.length === 0) this.others.delete(name);
  }

  /** Removes and returns the other entry of `name` with the highest key, if any. */
  private takeHighestOther(name: string): Entry | undefined {
    const others = this.others.get(name);
    if (!others) return undefined;
    let best = 0;
    for (let i = 1; i < others.length; i++) if (others[i]!.member.key > others[best]!.member.key) best = i;
    const [entry] = others.splice(best, 1);
    if (others.length === 0) this.others.delete(name);
    return entry;
  }
}

/**
 * The same text, as one flat string. Names and sort keys are built by concatenation, which V8
 * keeps as a tree of pieces (several objects per string) until the string is first compared; a
 * large cluster holds 100k+ of both. Both are lowercase already, and `toLowerCase()` of a
 * lowercase string returns its flat form, so the pieces can be freed. (Not lowercase: unchanged.)
 */
function flat(text: string): string {
  const lower = text.toLowerCase();
  return lower === text ? lower : text;
}

function emptyDiagnostics(): MembershipDiagnostics {
  return { rejected: [], nested: [] };
}
