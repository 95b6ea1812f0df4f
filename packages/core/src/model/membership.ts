import { classifyKey, metaShapeProblem, parseMeta } from './key-model.js';
import type { Member } from './member.js';
import { DEFAULT_MEMBER_LIMITS, type MemberLimits } from './member-limits.js';
import { memberSortKey, parseMemberName } from './member-name.js';

/** A member key left out of `members()` because its data is over a cap (`MemberLimits`). */
export interface QuarantinedKey {
  /** The member name the key spells. */
  readonly name: string;
  /** The etcd key; for a name spelt by too many keys, `prefix/name` (one entry for all of them). */
  readonly key: string;
  /** One line, naming the cap: `value is 1468006 bytes, over the limit of 65536 (limits.valueBytes)`. */
  readonly reason: string;
}

export interface MembershipDiagnostics {
  /** Keys directly under the prefix whose name is not a valid member name. */
  rejected: { key: string; reason: string }[];
  /** Keys deeper under the prefix (`prefix/a/b`): never members. */
  nested: string[];
  /**
   * Keys newly quarantined by this call (not those already quarantined for the same cap): log
   * each once. `quarantined()` lists all of them.
   */
  quarantined: QuarantinedKey[];
}

/** One key under the cluster's prefix and its value, as Membership takes it (not yet judged a member). */
export interface MembershipEntry {
  key: string;
  value: string;
}

export interface MembershipEvent extends MembershipEntry {
  type: 'put' | 'delete';
}

/**
 * A full read delivered in parts (pages), applied at once by `end()`: until then `members()`,
 * `size` and `quarantined()` show the state before the read, so a read that fails half-way
 * (just drop the object) changes nothing. Each part is judged as it is added: a value over
 * `limits.valueBytes`, or past the cluster's budget, is not kept, so a huge read never
 * accumulates. Do not `apply()` events while a reset is open.
 */
export interface MembershipReset {
  /** Adds the next part of the read (keys in etcd's order, i.e. ascending). */
  add(kvs: Iterable<MembershipEntry>): void;
  /** Makes the membership exactly the keys added; returns the diagnostics of the whole read. */
  end(): MembershipDiagnostics;
}

/**
 * Where a name sorts, derived from the name alone and unique per name: an IPv4 name's address and
 * port as one number (exact below 2^53), any other name's `memberSortKey`. Numbers sort before
 * strings, as IPv4 sorts before IPv6 and host names; each kind in its own natural order.
 */
type SortKey = number | string;

const compareSortKeys = (a: SortKey, b: SortKey): number => {
  if (typeof a === 'number') return typeof b === 'number' ? a - b : -1;
  if (typeof b === 'number') return 1;
  return a < b ? -1 : a > b ? 1 : 0;
};

/**
 * A member as Membership keeps it: the one object per key, handed out by `members()`, with its
 * sort key in a private field (not a property: a handler spreading, listing or serialising the
 * member sees the six fields of `Member` only).
 */
class Entry implements Member {
  readonly name: string;
  readonly host: string;
  readonly port: number | undefined;
  readonly key: string;
  readonly meta: Readonly<Record<string, unknown>>;
  readonly value: string;
  readonly #sortKey: SortKey;

  constructor(parsed: ParsedKey, key: string, meta: Readonly<Record<string, unknown>>, value: string) {
    this.name = parsed.name;
    this.host = parsed.host;
    this.port = parsed.port;
    this.key = key;
    this.meta = meta;
    this.value = value;
    this.#sortKey = parsed.sortKey;
  }

  static sortKeyOf(entry: Entry): SortKey {
    return entry.#sortKey;
  }
}

const sortKeyOf = (entry: Entry): SortKey => Entry.sortKeyOf(entry);

/** The caps a value can be over; `spellings` is a property of a name, not of one key's value. */
type ValueCap = 'valueBytes' | 'metaDepth' | 'metaKeys' | 'clusterBytes';

/** Why a value is not kept: the cap, and its measure (bytes, keys) where the reason names one. */
interface Verdict {
  readonly cap: ValueCap;
  readonly detail: number;
}

/** A quarantined key: no value is kept for it, only what its listing needs. */
interface Held extends Verdict {
  readonly name: string;
  readonly sortKey: SortKey;
}

interface ParsedKey {
  readonly name: string;
  readonly host: string;
  readonly port: number | undefined;
  readonly sortKey: SortKey;
}

/** One key of a reset: its value (undefined: not kept, see `verdict`) and, for a new key, its parsed name. */
interface Staged {
  readonly value: string | undefined;
  readonly verdict: Verdict | undefined;
  readonly parsed: ParsedKey | undefined;
}

const bySortKey = (a: Entry, b: Entry): number => compareSortKeys(sortKeyOf(a), sortKeyOf(b));
const byteLength = (text: string): number => Buffer.byteLength(text, 'utf8');

// Above this many changed names, re-sorting everything beats inserting one by one.
const MAX_INCREMENTAL = 256;

/**
 * The members of one cluster, kept up to date from a full read (`reset`, or `beginReset` for a
 * read in pages) and watch events (`apply`). Pure: no I/O, no logging; problems come back as
 * diagnostics for the caller to log.
 *
 * Two keys can decode to the same canonical name (`10.0.0.5:80` and `10.0.0.5%3A80`). The name
 * is then one member, taken from the highest key in code-unit order (the byte order etcd uses,
 * as valid member keys are ASCII). `:` sorts above `%`, so the plain spelling wins over the
 * percent-encoded one; the choice never depends on the order events arrived in.
 *
 * Member data is untrusted (README: Hostile or broken members), so it is bounded by `limits`. A key
 * with a valid name whose value is over a cap is quarantined: not a member, listed by
 * `quarantined()`, no value kept, judged again when its value changes. Such a key spells no name (a
 * lower spelling of the same name with a good value is the member). A name spelt by more than
 * `limits.spellings` keys is quarantined as a whole until enough of them are deleted (then the
 * highest key wins again), so the verdict depends on the keys present, never on the order they came
 * in. The cluster budget (`limits.clusterBytes`) is spent in the order values arrive: a full read
 * spends it in key order; a value that does not fit stays quarantined until it changes or the next
 * full read.
 *
 * Built for large clusters: an event costs O(1) (a name with several spellings: O(spellings
 * cap) at most); the sorted list is patched lazily with a binary search per changed name; a
 * re-read that matches the current state changes nothing. Memory per member is kept small (a
 * watcher may hold 100k+): one entry per key, one per name, and a set of the other spellings
 * only for the rare names that have them; quarantined keys cost a small record and no value.
 */
export class Membership {
  /** Every key whose name is valid and whose value is within the caps. */
  private readonly entries = new Map<string, Entry>();
  /** The effective entry of each name: the highest of its keys (none: the name is crowded). */
  private readonly winners = new Map<string, Entry>();
  /**
   * The keys of the other entries of names spelt by more than one key (rare); absent for all
   * others. For a crowded name (over `limits.spellings`): all of its keys, and no winner.
   */
  private readonly others = new Map<string, Set<string>>();
  /** Names spelt by more than `limits.spellings` keys, with their sort keys. */
  private readonly crowded = new Map<string, SortKey>();
  /** Keys with a valid name whose value is over a cap. */
  private readonly held = new Map<string, Held>();
  /** `quarantined()`'s answer, until `held` or `crowded` change. */
  private quarantineList: QuarantinedKey[] | undefined;
  /** UTF-8 bytes of the values of all entries (the budget `limits.clusterBytes` bounds). */
  private usedBytes = 0;
  /** `winners` sorted, as of the last `sort()`. */
  private list: Entry[] = [];
  /** Names whose winner changed since the last `sort()`, with their sort keys... */
  private readonly unsorted = new Map<string, SortKey>();
  /** ...unless too many did: then everything is sorted again. */
  private resort = false;
  /** Names whose winner changed since the last `takeChanged()`, with their member back then... */
  private readonly untaken = new Map<string, Member | undefined>();
  /** ...unless that grew past the number of members (takeChanged not being called): then "changed". */
  private untakenOverflow = false;
  /** A reset into an empty membership with nothing untaken: `end()` says "changed" at once if a member came. */
  private untakenQuiet = false;
  /** Meta objects (frozen) of recent values, shared by the members with that value, and the value itself. */
  private readonly metas = new Map<string, { value: string; meta: Readonly<Record<string, unknown>> }>();
  private readonly limits: MemberLimits;

  constructor(
    readonly prefix: string,
    limits: MemberLimits = DEFAULT_MEMBER_LIMITS,
  ) {
    this.limits = { ...limits, spellings: Math.max(1, limits.spellings) };
  }

  /** Number of (deduplicated) valid members. */
  get size(): number {
    return this.winners.size;
  }

  /** Replace everything with a full read. */
  reset(kvs: Iterable<MembershipEntry>): MembershipDiagnostics {
    const reset = this.beginReset();
    reset.add(kvs);
    return reset.end();
  }

  /**
   * Starts a full read delivered in parts: `add()` each page as it arrives, then `end()`.
   * Abandoning it (a read that failed) leaves the membership as it was.
   */
  beginReset(): MembershipReset {
    /** A key's unchanged value, its new member (judged within the caps), or what a verdict needs. */
    const staged = new Map<string, string | Entry | Staged>();
    const diagnostics = emptyDiagnostics();
    /** Budget spent by the values kept so far, in the order they were added. */
    let spent = 0;
    let ended = false;
    const add = (kvs: Iterable<MembershipEntry>) => {
      if (ended) throw new Error('Membership reset already ended');
      for (const { key, value } of kvs) {
        const known = this.entries.get(key);
        if (known && known.value === value) {
          // Unchanged (the usual case of a re-read): no parsing, no judging.
          const bytes = byteLength(value);
          if (spent + bytes <= this.limits.clusterBytes) {
            spent += bytes;
            staged.set(key, value);
          } else {
            staged.set(key, { value: undefined, verdict: { cap: 'clusterBytes', detail: 0 }, parsed: undefined });
          }
          continue;
        }
        let parsed: ParsedKey | undefined;
        if (!known && !this.held.has(key)) {
          parsed = this.parseKey(key, diagnostics);
          if (!parsed) continue;
        }
        const bytes = byteLength(value);
        let verdict = this.judge(value, bytes);
        if (!verdict) {
          if (spent + bytes <= this.limits.clusterBytes) spent += bytes;
          else verdict = { cap: 'clusterBytes', detail: 0 };
        }
        // Within the caps: the member itself, made once (a held key's name is parsed again at `end()`).
        const name = parsed ?? (known ? parsedOf(known) : undefined);
        if (!verdict && name) staged.set(key, this.entry(name, key, value));
        else staged.set(key, { value: verdict ? undefined : value, verdict, parsed });
      }
    };
    const end = () => {
      if (ended) throw new Error('Membership reset already ended');
      ended = true;
      // Keys gone first: they free their spellings and budget before the new values come in.
      // (Deleting the current key of a Map being iterated is safe: the walk goes on.)
      for (const key of this.entries.keys()) if (!staged.has(key)) this.delete(key);
      for (const key of this.held.keys()) if (!staged.has(key)) this.delete(key);
      // From nothing (and nothing untaken), the member set changed iff a member came: no need to
      // note each name for `takeChanged`.
      this.untakenQuiet = this.winners.size === 0 && this.untaken.size === 0 && !this.untakenOverflow;
      try {
        for (const [key, item] of staged) {
          if (typeof item === 'string') this.put(key, item, diagnostics);
          else if (item instanceof Entry) this.putEntry(item, diagnostics);
          else this.put(key, item.value ?? '', diagnostics, item);
        }
      } finally {
        if (this.untakenQuiet && this.winners.size > 0) this.untakenOverflow = true;
        this.untakenQuiet = false;
      }
      return diagnostics;
    };
    return { add, end };
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

  /**
   * Keys with a valid name left out of `members()` for being over a cap, in member order (then
   * by key), with the reason. A name spelt by too many keys is one entry (key `prefix/name`).
   */
  quarantined(): QuarantinedKey[] {
    if (!this.quarantineList) {
      const items: { sortKey: SortKey; item: QuarantinedKey }[] = [];
      for (const [key, held] of this.held) items.push({ sortKey: held.sortKey, item: { name: held.name, key, reason: this.reason(held) } });
      for (const [name, sortKey] of this.crowded) items.push({ sortKey, item: this.crowdedItem(name) });
      items.sort((a, b) => compareSortKeys(a.sortKey, b.sortKey) || (a.item.key < b.item.key ? -1 : a.item.key > b.item.key ? 1 : 0));
      this.quarantineList = items.map((x) => x.item);
    }
    return this.quarantineList.slice();
  }

  /** True if the valid member set (names and values) changed since the previous call. */
  takeChanged(): boolean {
    let changed = this.untakenOverflow;
    this.untakenOverflow = false;
    for (const [name, before] of this.untaken) {
      const after = this.winners.get(name);
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
      this.list = [...this.winners.values()].sort(bySortKey);
    } else {
      for (const [name, sortKey] of this.unsorted) this.patch(name, sortKey);
    }
    this.unsorted.clear();
  }

  /** Bring `name`'s place in `list` up to date. */
  private patch(name: string, sortKey: SortKey): void {
    const { list } = this;
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareSortKeys(sortKeyOf(list[mid]!), sortKey) < 0) lo = mid + 1;
      else hi = mid;
    }
    const present = lo < list.length && sortKeyOf(list[lo]!) === sortKey;
    const winner = this.winners.get(name);
    if (winner && present) list[lo] = winner;
    else if (winner) list.splice(lo, 0, winner);
    else if (present) list.splice(lo, 1);
  }

  /** The name of a member key, or undefined (reported in `diagnostics`) when it has none. */
  private parseKey(key: string, diagnostics: MembershipDiagnostics | undefined): ParsedKey | undefined {
    const where = classifyKey(this.prefix, key);
    if (where.kind === 'nested') diagnostics?.nested.push(key);
    if (where.kind !== 'member') return undefined;
    const parsed = parseMemberName(where.name);
    if (!parsed.ok) {
      diagnostics?.rejected.push({ key, reason: parsed.reason });
      return undefined;
    }
    return { name: flat(parsed.name), host: parsed.host, port: parsed.port, sortKey: parsed.kind === 'ipv4' ? ipv4SortKey(parsed.host, parsed.port) : flat(memberSortKey(parsed)) };
  }

  /** A member for `key`, its meta (and value) shared with the members of the same value when recent. */
  private entry(parsed: ParsedKey, key: string, value: string): Entry {
    const known = this.metas.get(value);
    if (known) return new Entry(parsed, key, known.meta, known.value);
    const meta = parseMeta(value);
    if (value.length > MAX_SHARED_VALUE_LENGTH) return new Entry(parsed, key, deepFreeze(meta), value);
    if (this.metas.size >= MAX_SHARED_METAS) this.metas.clear();
    this.metas.set(value, { value, meta: deepFreeze(meta) });
    return new Entry(parsed, key, meta, value);
  }

  /**
   * The cap a value is over, budget aside: its size first (so the shape checks only ever scan
   * a bounded text), then its JSON's depth and keys per object, when it is a JSON object.
   */
  private judge(value: string, bytes: number): Verdict | undefined {
    const { limits } = this;
    if (bytes > limits.valueBytes) return { cap: 'valueBytes', detail: bytes };
    // Too short to nest deeper or hold more keys than allowed, or no JSON object: nothing to check.
    if (value.length <= Math.min(limits.metaDepth, limits.metaKeys) || !value.trimStart().startsWith('{')) return undefined;
    const problem = metaShapeProblem(value, limits.metaDepth, limits.metaKeys);
    if (!problem || !isJsonObject(value)) return undefined; // not JSON: opaque, no meta, no harm
    return problem.kind === 'depth' ? { cap: 'metaDepth', detail: 0 } : { cap: 'metaKeys', detail: problem.keys };
  }

  private reason(verdict: Verdict): string {
    const { limits } = this;
    switch (verdict.cap) {
      case 'valueBytes':
        return `value is ${verdict.detail} bytes, over the limit of ${limits.valueBytes} (limits.valueBytes)`;
      case 'metaDepth':
        return `meta nested deeper than ${limits.metaDepth} (limits.metaDepth)`;
      case 'metaKeys':
        return `meta object with ${verdict.detail} keys, over ${limits.metaKeys} (limits.metaKeys)`;
      case 'clusterBytes':
        return `cluster value budget of ${limits.clusterBytes} bytes used up (limits.clusterBytes)`;
    }
  }

  private crowdedItem(name: string): QuarantinedKey {
    return { name, key: `${this.prefix}/${name}`, reason: `spelt by more than ${this.limits.spellings} keys (limits.spellings)` };
  }

  /**
   * `staged`: judged already by a reset (its verdict, budget included, and the parsed name of a
   * new key); otherwise judged here against the budget left.
   */
  private put(key: string, value: string, diagnostics: MembershipDiagnostics, staged?: Staged): void {
    const previous = this.entries.get(key);
    if (previous && previous.value === value && !staged?.verdict) return;
    const wasHeld = this.held.get(key);
    let parsed: ParsedKey | undefined;
    if (previous) {
      parsed = parsedOf(previous);
    } else {
      // A held key's name was valid and reported already: parse it again without diagnostics.
      parsed = staged?.parsed ?? this.parseKey(key, wasHeld ? undefined : diagnostics);
      if (!parsed) return;
    }
    const bytes = byteLength(value);
    const before = previous ? byteLength(previous.value) : 0;
    let verdict: Verdict | undefined;
    if (staged) verdict = staged.verdict;
    else {
      verdict = this.judge(value, bytes);
      if (!verdict && this.usedBytes - before + bytes > this.limits.clusterBytes) verdict = { cap: 'clusterBytes', detail: 0 };
    }
    const { name, sortKey } = parsed;
    if (verdict) {
      if (previous) this.removeEntry(previous);
      this.held.set(key, { cap: verdict.cap, detail: verdict.detail, name, sortKey });
      this.quarantineList = undefined;
      if (wasHeld?.cap !== verdict.cap) diagnostics.quarantined.push({ name, key, reason: this.reason(verdict) });
      return;
    }
    this.insert(this.entry(parsed, key, value), previous, wasHeld, bytes - before, diagnostics);
  }

  /** A reset's member, judged within the caps (budget included) when its read was added. */
  private putEntry(entry: Entry, diagnostics: MembershipDiagnostics): void {
    const previous = this.entries.get(entry.key);
    if (previous && previous.value === entry.value) return;
    const before = previous ? byteLength(previous.value) : 0;
    this.insert(entry, previous, this.held.get(entry.key), byteLength(entry.value) - before, diagnostics);
  }

  /** Makes `entry` its key's entry (within the caps), in place of `previous` or of a held key. */
  private insert(entry: Entry, previous: Entry | undefined, wasHeld: Held | undefined, addedBytes: number, diagnostics: MembershipDiagnostics): void {
    const { key, name } = entry;
    const sortKey = sortKeyOf(entry);
    if (wasHeld) {
      this.held.delete(key);
      this.quarantineList = undefined;
    }
    this.usedBytes += addedBytes;
    this.entries.set(key, entry);
    if (previous) {
      // Same key, new value: it keeps its place, winner or not (a crowded name's keys are all "others").
      if (this.winners.get(name) === previous) this.crown(name, sortKey, entry);
    } else {
      this.addSpelling(name, sortKey, entry, diagnostics);
    }
  }

  private delete(key: string): void {
    if (this.held.delete(key)) {
      this.quarantineList = undefined;
      return;
    }
    const entry = this.entries.get(key);
    if (entry) this.removeEntry(entry);
  }

  private removeEntry(entry: Entry): void {
    const { name, key } = entry;
    this.entries.delete(key);
    this.usedBytes -= byteLength(entry.value);
    const winner = this.winners.get(name);
    if (winner === entry) {
      this.crown(name, sortKeyOf(entry), this.takeHighestOther(name));
      return;
    }
    const others = this.others.get(name)!;
    others.delete(key);
    if (!winner && others.size <= this.limits.spellings) {
      // A crowded name back within the cap: the highest of its keys is the member again.
      this.crowded.delete(name);
      this.quarantineList = undefined;
      this.crown(name, sortKeyOf(entry), this.takeHighestOther(name));
    } else if (others.size === 0) {
      this.others.delete(name);
    }
  }

  /** A new key for `name`: it may take over as the highest spelling, or crowd the name out. */
  private addSpelling(name: string, sortKey: SortKey, entry: Entry, diagnostics: MembershipDiagnostics): void {
    const key = entry.key;
    const winner = this.winners.get(name);
    const others = this.others.get(name);
    if (!winner) {
      if (others)
        others.add(key); // crowded already
      else this.crown(name, sortKey, entry);
      return;
    }
    if (2 + (others?.size ?? 0) > this.limits.spellings) {
      // One key too many: the name is quarantined as a whole, whatever order its keys came in.
      const all = others ?? new Set<string>();
      all.add(winner.key);
      all.add(key);
      this.others.set(name, all);
      this.crowded.set(name, sortKey);
      this.quarantineList = undefined;
      this.crown(name, sortKey, undefined);
      diagnostics.quarantined.push(this.crowdedItem(name));
      return;
    }
    if (key > winner.key) {
      this.addOther(name, winner.key);
      this.crown(name, sortKey, entry);
    } else {
      this.addOther(name, key);
    }
  }

  /** Makes `next` the effective entry of `name` (none: the name is gone), noting the change. */
  private crown(name: string, sortKey: SortKey, next: Entry | undefined): void {
    if (!this.untakenOverflow && !this.untakenQuiet && !this.untaken.has(name)) {
      this.untaken.set(name, this.winners.get(name));
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

  private addOther(name: string, key: string): void {
    const others = this.others.get(name);
    if (others) others.add(key);
    else this.others.set(name, new Set([key]));
  }

  /**
   * Removes and returns the other entry of `name` with the highest key, if any. Only called
   * while the name is within `limits.spellings`, so the scan is bounded by that cap.
   */
  private takeHighestOther(name: string): Entry | undefined {
    const others = this.others.get(name);
    if (!others) return undefined;
    let best: string | undefined;
    for (const key of others) if (best === undefined || key > best) best = key;
    others.delete(best!);
    if (others.size === 0) this.others.delete(name);
    return this.entries.get(best!);
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

/** A member's parsed name, as a new key's parse gives it. */
function parsedOf(entry: Entry): ParsedKey {
  return { name: entry.name, host: entry.host, port: entry.port, sortKey: sortKeyOf(entry) };
}

/** Address and port as one number: the order of `memberSortKey` among IPv4 names (a name is its address and port). */
function ipv4SortKey(host: string, port: number | undefined): number {
  let address = 0;
  let octet = 0;
  for (let i = 0; i < host.length; i++) {
    const c = host.charCodeAt(i);
    if (c === 0x2e /* . */) {
      address = address * 256 + octet;
      octet = 0;
    } else octet = octet * 10 + (c - 0x30);
  }
  return (address * 256 + octet) * 65536 + (port ?? 0);
}

/** Distinct values whose meta is kept for sharing; past it the cache starts again. */
const MAX_SHARED_METAS = 256;
/** Longer values are not kept for sharing (the cache must stay small when their members leave). */
const MAX_SHARED_VALUE_LENGTH = 1024;

/** `meta` and every object in it made read-only (shared by members), with an explicit stack. */
function deepFreeze(meta: Record<string, unknown>): Readonly<Record<string, unknown>> {
  const stack: object[] = [meta];
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    Object.freeze(node);
    for (const child of Object.values(node)) if (typeof child === 'object' && child !== null && !Object.isFrozen(child)) stack.push(child as object);
  }
  return meta;
}

function emptyDiagnostics(): MembershipDiagnostics {
  return { rejected: [], nested: [], quarantined: [] };
}

/** Whether `value` is a JSON object (JSON.parse is iterative in V8: any depth is safe). */
function isJsonObject(value: string): boolean {
  try {
    const parsed: unknown = JSON.parse(value);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed);
  } catch {
    return false;
  }
}
