import type { Handler, Member, RenderContext } from '@cluster-control/core';
import { safeMembers, shallowMeta, withMetaReports } from './shared/meta.js';
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
};

/**
 * A member for the `objects` format. A meta field nested deeper than MAX_META_NESTING (64) levels is
 * left out and reported: JSON.stringify recurses, and meta nested ~6,000 deep would overflow the
 * stack on every render (core caps meta depth too, but a handler does not count on it).
 */
function toObject(m: Member, context: RenderContext) {
  return { name: m.name, host: m.host, port: m.port ?? null, meta: shallowMeta(m, context) };
}
