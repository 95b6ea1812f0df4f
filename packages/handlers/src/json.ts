import type { Handler, Member } from '@cluster-control/core';
import { HandlerOptionsError } from './options-error.js';

export type JsonOptions = {
  /** `names`: `["10.0.0.5:80", ...]` like the PHP JsonHandler; `objects`: name, host, port and meta. */
  format: 'names' | 'objects';
  /** Indent by two spaces instead of the compact form. */
  pretty: boolean;
};

const known = ['format', 'pretty'];

/** The member list as a JSON array, one trailing newline. */
export const json: Handler<JsonOptions> = {
  name: 'json',

  parseOptions(raw) {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new HandlerOptionsError('', 'options must be an object');
    for (const key of Object.keys(raw)) {
      if (!known.includes(key)) throw new HandlerOptionsError(key, `unknown option (known: ${known.join(', ')})`);
    }
    const { format = 'names', pretty = false } = raw;
    if (format !== 'names' && format !== 'objects') throw new HandlerOptionsError('format', 'must be "names" or "objects"');
    if (typeof pretty !== 'boolean') throw new HandlerOptionsError('pretty', 'must be true or false');
    return { format, pretty };
  },

  render(members, options) {
    const data = options.format === 'names' ? members.map((m) => m.name) : members.map(toObject);
    return JSON.stringify(data, null, options.pretty ? 2 : undefined) + '\n';
  },
};

function toObject(m: Member) {
  return { name: m.name, host: m.host, port: m.port ?? null, meta: m.meta };
}
