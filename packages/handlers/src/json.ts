import type { Handler, Member, RenderContext } from '@cluster-control/core';
import { isSafeMember, MAX_META_NESTING, nestsDeeperThan, safeMembers, shallowMeta, withMetaReports } from './shared/meta.js';
import { OptionReader } from './shared/options.js';

export type JsonOptions = {
  /** `names`: `["10.0.0.5:80", ...]` like the PHP JsonHandler; `objects`: name, host, port and meta. */
  format: 'names' | 'objects';
  /** Indent by two spaces instead of the compact form. */
  pretty: boolean;
};

/** The member list as a JSON array, one trailing newline. */
export const json: Handler<JsonOptions> = {
  name: 'json',

  parseOptions(raw) {
    const options = new OptionReader(raw);
    const result = { format: options.oneOf('format', ['names', 'objects'], 'names'), pretty: options.boolean('pretty', false) };
    options.done();
    return result;
  },

  render(members, options, outer) {
    return withMetaReports(outer, (context) => {
      const safe = safeMembers(members, context);
      const data = options.format === 'names' ? safe.map((m) => m.name) : safe.map((m) => toObject(m, context));
      return JSON.stringify(data, null, options.pretty ? 2 : undefined) + '\n';
    });
  },

  // The same bytes as render, item by item: JSON.stringify writes an array's elements one after
  // the other, each as it would alone, one level deeper when pretty (every line of it indented by
  // two more spaces; a JSON text has no raw newline inside a string).
  listLayout(options) {
    const indent = options.pretty ? '\n  ' : '';
    return {
      head: `[${indent}`,
      separator: `,${indent}`,
      tail: options.pretty ? '\n]\n' : ']\n',
      empty: '[]\n',
      item(m) {
        // Left out or reported by render: render decides.
        if (!isSafeMember(m)) return undefined;
        if (options.format === 'names') return JSON.stringify(m.name);
        for (const value of Object.values(m.meta)) if (nestsDeeperThan(value, MAX_META_NESTING - 1)) return undefined;
        const text = JSON.stringify({ name: m.name, host: m.host, port: m.port ?? null, meta: m.meta }, null, options.pretty ? 2 : undefined);
        return options.pretty ? text.replaceAll('\n', indent) : text;
      },
    };
  },
};

/**
 * A member for the `objects` format. A meta field nested deeper than MAX_META_NESTING (64) levels is
 * left out and reported: JSON.stringify recurses, and meta nested ~6,000 deep would overflow the
 * stack on every render (core caps meta depth too, but a handler does not count on it).
 */
function toObject(m: Member, context: RenderContext) {
  return { name: m.name, host: m.host, port: m.port ?? null, meta: shallowMeta(m, context) };
}
