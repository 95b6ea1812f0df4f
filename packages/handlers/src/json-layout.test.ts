import type { Handler, Member, RenderContext } from '@cluster-control/core';
import { describe, expect, it } from 'vitest';
import { member } from '#test-support/handler-fixtures.js';
import { json } from './index.js';

const context: RenderContext = { cluster: 'web', path: '/clusters/web' };

type ListLayout = NonNullable<ReturnType<NonNullable<Handler['listLayout']>>>;

/** What a watcher renders from the layout: head, items, separator, tail (empty for none). */
function fromLayout(layout: ListLayout, members: readonly Member[]): string | undefined {
  if (members.length === 0) return layout.empty;
  const items = members.map((m) => layout.item(m));
  return items.every((i) => i !== undefined) ? layout.head + items.join(layout.separator) + layout.tail : undefined;
}

let deep: unknown = 1;
for (let i = 0; i < 70; i++) deep = { d: deep };

const members = [
  member('10.0.0.5:80', '10.0.0.5', 80, { weight: 3, zone: 'b', tags: ['x', { y: [1, 2, {}] }], empty: {}, list: [], s: 'quote " and \\ and \n newline', u: '\u2028 é 😀' }),
  member('10.0.0.6:80', '10.0.0.6', 80),
  member('[fd00::5]', 'fd00::5', undefined, { nested: { a: { b: { c: null } } } }),
  member('web-1', 'web-1', undefined, { weight: 1.5, neg: -0, big: 1e21 }),
];

describe('json handler list layout', () => {
  for (const raw of [{}, { pretty: true }, { format: 'objects' }, { format: 'objects', pretty: true }]) {
    const options = json.parseOptions(raw);
    const layout = json.listLayout!(options)!;

    it(`gives render's bytes item by item (${JSON.stringify(raw)})`, () => {
      for (let n = 0; n <= members.length; n++) {
        for (let from = 0; from + n <= members.length; from++) {
          const list = members.slice(from, from + n);
          expect(fromLayout(layout, list)).toBe(json.render(list, options, context));
        }
      }
    });

    it(`declines what render leaves out or reports (${JSON.stringify(raw)})`, () => {
      const unsafe = { ...member('10.0.0.7:80', '10.0.0.7', 80), name: 'evil\nname' };
      expect(layout.item(unsafe)).toBeUndefined();
      const tooDeep = member('10.0.0.8:80', '10.0.0.8', 80, { deep });
      if (options.format === 'objects') expect(layout.item(tooDeep)).toBeUndefined();
      else expect(fromLayout(layout, [tooDeep])).toBe(json.render([tooDeep], options, context));
    });
  }
});
