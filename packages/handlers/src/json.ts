import type { Handler, Member } from '@cluster-control/core';
import { safeMembers } from './shared/meta.js';
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

  render(members, options, context) {
    const safe = safeMembers(members, context);
    const data = options.format === 'names' ? safe.map((m) => m.name) : safe.map(toObject);
    return JSON.stringify(data, null, options.pretty ? 2 : undefined) + '\n';
  },
};

function toObject(m: Member) {
  return { name: m.name, host: m.host, port: m.port ?? null, meta: m.meta };
}
