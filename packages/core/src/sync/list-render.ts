import type { ListLayout } from '../handler/handler.js';
import type { Member } from '../model/member.js';

/** Above this many edits between two member lists, rendering every item again is as cheap. */
const MAX_EDITS = 64;

/**
 * Renders a handler's file from its ListLayout, keeping the last list, its items and its text, so
 * the next render after a change re-renders only the members that are new or changed (Membership
 * hands out the same Member object until its value changes) and copies the rest of the text from
 * the last one. The text is always `head + items joined by separator + tail` (`empty` for no
 * members) of the members given, whatever the last list was: the last one only saves work.
 */
export class ListRenderer {
  private members: readonly Member[] | undefined;
  private items: string[] = [];
  private text = '';

  constructor(private readonly layout: ListLayout) {}

  /** The file's text for `members`, or undefined when an item is undefined (the handler's `render` decides then). */
  render(members: readonly Member[]): string | undefined {
    if (members.length === 0) {
      this.keep([], [], this.layout.empty);
      return this.layout.empty;
    }
    const last = this.members;
    const text = last && last.length > 0 ? this.patch(last, members) : undefined;
    return text ?? this.full(members);
  }

  private full(members: readonly Member[]): string | undefined {
    const { layout } = this;
    const items = new Array<string>(members.length);
    for (let i = 0; i < members.length; i++) {
      const item = layout.item(members[i]!);
      if (item === undefined) return this.forget();
      items[i] = item;
    }
    return this.keep(members, items, [layout.head, items.join(layout.separator), layout.tail].join(''));
  }

  /**
   * Walks the last list and `next` in step: a member found at the same place keeps its item, and
   * runs of kept items are copied from the last text in one slice each; anything else is an edit
   * (a member left, one came, or one changed: its item is rendered). Any walk gives the right text
   * (an edit can always be read as "the last one left, this one came"); a good one only makes
   * fewer edits. Undefined past MAX_EDITS (render everything then) or for an undefined item.
   */
  private patch(last: readonly Member[], next: readonly Member[]): string | undefined {
    const { layout, items, text } = this;
    const sep = layout.separator.length;
    const nextItems: string[] = [];
    // The new text's parts (runs copied from the last text, new items), joined at once: one flat string.
    const parts: string[] = [layout.head];
    /** Where the last text's item `i` starts. */
    let at = layout.head.length;
    let runFrom = -1;
    let runTo = 0;
    let edits = 0;
    let i = 0;
    for (let j = 0; j < next.length;) {
      const member = next[j]!;
      if (last[i] === member) {
        if (runFrom < 0) runFrom = at;
        runTo = at + items[i]!.length;
        nextItems.push(items[i++]!);
        j++;
        at = runTo + sep;
        continue;
      }
      if (++edits > MAX_EDITS) return undefined;
      if (runFrom >= 0) {
        parts.push(text.slice(runFrom, runTo), layout.separator);
        runFrom = -1;
      }
      if (i < last.length && last[i + 1] === member) {
        at += items[i++]!.length + sep; // last[i] left
        continue;
      }
      const item = layout.item(member);
      if (item === undefined) return this.forget();
      parts.push(item, layout.separator);
      nextItems.push(item);
      // Came (the last one follows it), or else the last one changed or left and this one came.
      if (next[j + 1] !== last[i] && i < last.length) at += items[i++]!.length + sep;
      j++;
    }
    if (runFrom >= 0) parts.push(text.slice(runFrom, runTo));
    else parts.pop(); // the separator after the last new item
    parts.push(layout.tail);
    return this.keep(next, nextItems, parts.join(''));
  }

  private keep(members: readonly Member[], items: string[], text: string): string {
    // A copy: the caller's array may change after this call; the Member objects do not.
    this.members = members.slice();
    this.items = items;
    this.text = text;
    return text;
  }

  private forget(): undefined {
    this.members = undefined;
    this.items = [];
    this.text = '';
    return undefined;
  }
}
