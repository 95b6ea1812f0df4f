import type { ListLayout } from '../handler/handler.js';
import type { Member } from '../model/member.js';

/** Above this many edits between two member lists, rendering every item again is as cheap. */
const MAX_EDITS = 64;

/**
 * A piece of text encoded apart from the others: no surrogate at all, so no half of a pair at either
 * end and no lone one inside (its UTF-8 bytes decode back to the same text). Items with characters
 * outside the BMP (rare in a config file) leave the file to `render`.
 */
const splitSafe = (text: string): boolean => !/[\uD800-\uDFFF]/.test(text);

/**
 * Renders a handler's file from its ListLayout, as UTF-8 bytes, keeping the last list, the byte
 * length of each item and the bytes, so the next render after a change renders only the members
 * that are new or changed (Membership hands out the same Member object until its value changes)
 * and copies the rest from the last file's bytes: no text of the whole file is built. The bytes are
 * always those of `head + items joined by separator + tail` (`empty` for no members) of the members
 * given, whatever the last list was: the last one only saves work.
 */
export class ListRenderer {
  private members: readonly Member[] | undefined;
  /** The array `members` is copied into. */
  private ownMembers: Member[] = [];
  private itemBytes: number[] = [];
  private bytes: Buffer = Buffer.alloc(0);
  private readonly head: Buffer;
  private readonly separator: Buffer;
  private readonly tail: Buffer;
  /** The layout's fixed parts can be encoded apart from the items. */
  private readonly usable: boolean;

  constructor(private readonly layout: ListLayout) {
    this.head = Buffer.from(layout.head, 'utf8');
    this.separator = Buffer.from(layout.separator, 'utf8');
    this.tail = Buffer.from(layout.tail, 'utf8');
    this.usable = splitSafe(layout.head) && splitSafe(layout.separator) && splitSafe(layout.tail);
  }

  /** The file's bytes for `members`, or undefined when an item is undefined (the handler's `render` decides then). */
  render(members: readonly Member[]): Buffer | undefined {
    if (!this.usable) return undefined;
    if (members.length === 0) {
      const empty = Buffer.from(this.layout.empty, 'utf8');
      return this.keep([], [], empty);
    }
    const last = this.members;
    const bytes = last && last.length > 0 ? this.patch(last, members) : undefined;
    return bytes ?? this.full(members);
  }

  /** One member's item as bytes, or undefined when the layout declines it. */
  private item(member: Member): Buffer | undefined {
    const text = this.layout.item(member);
    return text !== undefined && splitSafe(text) ? Buffer.from(text, 'utf8') : undefined;
  }

  /**
   * Every item rendered, encoded straight into one growing buffer (no Buffer per item: at 100k
   * members that was 100k objects kept until the end), then copied to its exact size.
   */
  private full(members: readonly Member[]): Buffer | undefined {
    const { head, separator, tail } = this;
    const lengths: number[] = [];
    let out = Buffer.allocUnsafeSlow(Math.max(4096, head.length + tail.length + this.bytes.length + (this.bytes.length >>> 3)));
    let at = head.copy(out, 0);
    for (let i = 0; i < members.length; i++) {
      const text = this.layout.item(members[i]!);
      if (text === undefined || !splitSafe(text)) return this.forget();
      const length = Buffer.byteLength(text, 'utf8');
      const need = at + separator.length + length + tail.length;
      if (need > out.length) {
        const bigger = Buffer.allocUnsafeSlow(Math.max(need, out.length * 2));
        out.copy(bigger, 0, 0, at);
        out = bigger;
      }
      if (i > 0) at += separator.copy(out, at);
      at += out.write(text, at, length, 'utf8');
      lengths.push(length);
    }
    at += tail.copy(out, at);
    return this.keep(members, lengths, at === out.length ? out : Buffer.from(out.subarray(0, at)));
  }

  /**
   * The members both lists start and end with (same objects) keep their items, copied from the last
   * bytes in one piece each; between them, the two lists are walked in step: a member found at the
   * same place keeps its item too (copied in runs), anything else is an edit (a member left, one
   * came, or one changed: its item is rendered). Any walk gives the right bytes (an edit can always
   * be read as "the last one left, this one came"); a good one only makes fewer edits. Undefined
   * past MAX_EDITS (render everything then) or for a declined item.
   */
  private patch(last: readonly Member[], next: readonly Member[]): Buffer | undefined {
    const { itemBytes, bytes, separator } = this;
    const sep = separator.length;
    // Same start and same end: a change costs a scan of the two lists, not a walk item by item.
    const shorter = Math.min(last.length, next.length);
    let from = 0;
    while (from < shorter && last[from] === next[from]) from++;
    let lastTo = last.length;
    let nextTo = next.length;
    while (lastTo > from && nextTo > from && last[lastTo - 1] === next[nextTo - 1]) {
      lastTo--;
      nextTo--;
    }
    /** Where the last file's item `from` starts (or where it would: past the last item, its end + sep). */
    let start = this.head.length;
    for (let i = 0; i < from; i++) start += itemBytes[i]! + sep;

    const groups: Buffer[] = [];
    if (from > 0) groups.push(bytes.subarray(this.head.length, start - sep));
    const middle: number[] = [];
    let at = start;
    let runFrom = -1;
    let runTo = 0;
    let edits = 0;
    const endRun = () => {
      if (runFrom >= 0) groups.push(bytes.subarray(runFrom, runTo));
      runFrom = -1;
    };
    let i = from;
    for (let j = from; j < nextTo;) {
      const member = next[j]!;
      if (i < lastTo && last[i] === member) {
        if (runFrom < 0) runFrom = at;
        runTo = at + itemBytes[i]!;
        middle.push(itemBytes[i++]!);
        j++;
        at = runTo + sep;
        continue;
      }
      if (++edits > MAX_EDITS) return undefined;
      endRun();
      if (i + 1 < lastTo && last[i + 1] === member) {
        at += itemBytes[i++]! + sep; // last[i] left
        continue;
      }
      const item = this.item(member);
      if (!item) return this.forget();
      groups.push(item);
      middle.push(item.length);
      // Came (the last one follows it), or else the last one changed or left and this one came.
      if (i < lastTo && next[j + 1] !== last[i]) at += itemBytes[i++]! + sep;
      j++;
    }
    endRun();
    // The members after the middle: the last file's items from lastTo on, up to the tail.
    for (; i < lastTo; i++) at += itemBytes[i]! + sep;
    if (lastTo < last.length) groups.push(bytes.subarray(at, bytes.length - this.tail.length));

    const parts: Buffer[] = [this.head];
    for (const group of groups) parts.push(group, separator);
    parts[parts.length - 1] = this.tail;
    itemBytes.splice(from, lastTo - from, ...middle);
    return this.keep(next, itemBytes, Buffer.concat(parts));
  }

  private keep(members: readonly Member[], itemBytes: number[], bytes: Buffer): Buffer {
    // A copy (the caller's array may change after this call; the Member objects do not), into the
    // same array each time: a new one per change is garbage the size of the cluster.
    this.ownMembers = copyInto(this.ownMembers, members);
    this.members = this.ownMembers;
    this.itemBytes = itemBytes;
    this.bytes = bytes;
    // The caller gets its own copy-free view; the bytes are never written to after this.
    return bytes;
  }

  private forget(): undefined {
    this.members = undefined;
    this.ownMembers.length = 0;
    this.itemBytes = [];
    this.bytes = Buffer.alloc(0);
    return undefined;
  }
}

/** `target` made a copy of `source` (same length, same elements); returns it. */
export function copyInto<T>(target: T[], source: readonly T[]): T[] {
  if (target === source) return target;
  target.length = source.length;
  for (let i = 0; i < source.length; i++) target[i] = source[i]!;
  return target;
}
