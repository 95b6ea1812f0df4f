import { describe, expect, it } from 'vitest';
import type { ListLayout } from '../handler/handler.js';
import type { Member } from '../model/member.js';
import { ListRenderer } from './list-render.js';

function member(name: string, value = ''): Member {
  return { name, host: name, port: undefined, key: `/c/${name}`, meta: {}, value };
}

/** Items are `name=value`; a value of `refuse` has no item. Counts the items rendered. */
function layout(): ListLayout & { rendered: number } {
  const l = {
    head: '<<',
    separator: ', ',
    tail: '>>\n',
    empty: '(none)\n',
    rendered: 0,
    item(m: Member) {
      l.rendered++;
      return m.value === 'refuse' ? undefined : `${m.name}=${m.value}`;
    },
  };
  return l;
}

const text = (renderer: ListRenderer, members: readonly Member[]) => renderer.render(members)?.toString('utf8');
const whole = (l: ListLayout, members: readonly Member[]) => (members.length === 0 ? l.empty : l.head + members.map((m) => l.item(m)).join(l.separator) + l.tail);

/** A small deterministic PRNG (mulberry32), so a failure replays. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('ListRenderer', () => {
  it('renders a large list whole, multi-byte items included, as the layout joins it', () => {
    const l = layout();
    const renderer = new ListRenderer(l);
    const members = Array.from({ length: 3000 }, (_, i) => member(`m${i}`, i % 7 === 0 ? 'é€ü' : 'x'.repeat(i % 50)));
    expect(text(renderer, members)).toBe(whole(l, members));
    // Smaller again, then larger than ever: the same bytes as the layout's text each time.
    expect(text(new ListRenderer(l), members.slice(0, 5))).toBe(whole(l, members.slice(0, 5)));
    const more = [...members, ...members.map((m) => member(`${m.name}b`, 'y'.repeat(200)))];
    expect(text(renderer, more)).toBe(whole(l, more));
  });

  it('gives the whole render of every list, whatever the one before was (random edits, shuffles, empty lists)', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const rnd = random(seed);
      const l = layout();
      const renderer = new ListRenderer(l);
      let list: Member[] = Array.from({ length: Math.floor(rnd() * 30) }, (_, i) => member(`m${i}`, 'a'));
      let next = 1000;
      for (let step = 0; step < 200; step++) {
        const edits = rnd() < 0.05 ? 100 : 1 + Math.floor(rnd() * 4);
        for (let e = 0; e < edits; e++) {
          const r = rnd();
          const at = Math.floor(rnd() * (list.length + 1));
          if (r < 0.35) list.splice(at, 0, member(`m${next++}`, 'a'));
          else if (r < 0.65) list.splice(at, 1);
          else if (r < 0.9 && list[at]) list[at] = member(list[at].name, `v${next++}`);
          else if (r < 0.95) list.reverse();
          else list = rnd() < 0.5 ? [] : list.slice(at);
        }
        expect(text(renderer, list)).toBe(whole(l, list));
      }
    }
  });

  it('renders only the items of members that are new or changed', () => {
    const l = layout();
    const renderer = new ListRenderer(l);
    const list = Array.from({ length: 1000 }, (_, i) => member(`m${i}`, 'a'));
    text(renderer, list);
    expect(l.rendered).toBe(1000);
    const next = [...list.slice(0, 500), member('new', 'a'), ...list.slice(501, 700), member('m700', 'b'), ...list.slice(701)];
    l.rendered = 0;
    const out = text(renderer, next);
    expect(l.rendered).toBe(2);
    expect(out).toBe(whole(l, next));
  });

  it('declines a list with a member the layout has no item for, and starts again after it', () => {
    const l = layout();
    const renderer = new ListRenderer(l);
    const list = [member('a', '1'), member('b', '2')];
    expect(text(renderer, list)).toBe('<<a=1, b=2>>\n');
    expect(text(renderer, [...list, member('c', 'refuse')])).toBeUndefined();
    expect(text(renderer, list)).toBe('<<a=1, b=2>>\n');
    expect(text(renderer, [])).toBe('(none)\n');
    expect(text(renderer, list)).toBe('<<a=1, b=2>>\n');
  });

  it('leaves items with characters outside the BMP to render (their halves cannot be encoded apart)', () => {
    const l = layout();
    const renderer = new ListRenderer(l);
    const list = [member('a', '1'), member('b', '2')];
    expect(text(renderer, list)).toBe('<<a=1, b=2>>\n');
    expect(text(renderer, [...list, member('c', '\u{1F600}')])).toBeUndefined();
    expect(text(renderer, [...list, member('c', 'é')])).toBe('<<a=1, b=2, c=é>>\n');
    expect(renderer.render([...list, member('c', 'é')])?.length).toBe(Buffer.byteLength('<<a=1, b=2, c=é>>\n'));
  });

  it('is not misled by a caller changing its array after the call', () => {
    const l = layout();
    const renderer = new ListRenderer(l);
    const list = [member('a', '1'), member('b', '2'), member('c', '3')];
    text(renderer, list);
    const y = member('y', '9');
    list[1] = y; // had the renderer kept this array, it would take y for the member it rendered as b=2
    const again = [list[0]!, y, list[2]!];
    expect(text(renderer, again)).toBe(whole(l, again));
  });
});
