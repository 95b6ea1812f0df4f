import type { Handler, Member, RenderContext } from '@cluster-control/core';
import { HandlerOptionsError } from './options-error.js';
import { metaBoolean, metaInteger, safeMembers, withMetaReports } from './shared/meta.js';
import { IDENTIFIER, IDENTIFIER_TEXT, OptionReader } from './shared/options.js';
import { headerComment, identifierFor } from './shared/text.js';

export const HAPROXY_BALANCE = ['roundrobin', 'static-rr', 'leastconn', 'first', 'source', 'random', 'uri'] as const;
export const HAPROXY_OPTIONS = ['abortonclose', 'allbackups', 'forwardfor', 'http-keep-alive', 'http-server-close', 'httpchk', 'log-health-checks', 'persist', 'redispatch', 'tcp-check'] as const;

/** Per-server keywords an operator may set for every member (`serverParams`). */
export interface HaproxyServerParams {
  inter?: string;
  fastinter?: string;
  downinter?: string;
  slowstart?: string;
  rise?: number;
  fall?: number;
  maxconn?: number;
  maxqueue?: number;
}

export type HaproxyOptions = {
  /** The backend's name (what `default_backend` / `use_backend` refer to); default: the cluster's name. */
  backend: string | undefined;
  balance: (typeof HAPROXY_BALANCE)[number];
  /** Health-check every server (`check`). */
  check: boolean;
  /** Port for members registered without one; haproxy needs a port, so without it such members are left out. */
  defaultPort: number | undefined;
  /** Writes a `mode` line when set; otherwise the `defaults` section decides. */
  mode: 'http' | 'tcp' | undefined;
  /** `option NAME` lines, in the given order. */
  options: (typeof HAPROXY_OPTIONS)[number][];
  serverParams: HaproxyServerParams;
};

/** haproxy time values: `2s`, `500ms`, `1m`, or plain milliseconds. */
const HAPROXY_TIME = /^[0-9]{1,9}(us|ms|s|m|h|d)?$/;
const TIMES = ['inter', 'fastinter', 'downinter', 'slowstart'] as const;
const COUNTS = { rise: { min: 1, max: 1000 }, fall: { min: 1, max: 1000 }, maxconn: { min: 0, max: 1_000_000 }, maxqueue: { min: 0, max: 1_000_000 } } as const;

/** An haproxy `backend NAME` section with one `server` line per member. */
export const haproxy: Handler<HaproxyOptions> = {
  name: 'haproxy',

  parseOptions(raw) {
    const options = new OptionReader(raw);
    const result: HaproxyOptions = {
      backend: options.string('backend', { pattern: IDENTIFIER, describe: IDENTIFIER_TEXT }),
      balance: options.oneOf('balance', HAPROXY_BALANCE, 'roundrobin'),
      check: options.boolean('check', true),
      defaultPort: options.integer('defaultPort', { min: 1, max: 65535 }),
      mode: parseMode(options.any('mode')),
      options: parseOptionLines(options.any('options')),
      serverParams: parseServerParams(options.any('serverParams')),
    };
    options.done();
    return result;
  },

  render(members, options, outer) {
    return withMetaReports(outer, (context) => {
      const lines = [headerComment(context.cluster), `backend ${identifierFor(options.backend, 'backend', context)}`];
      if (options.mode) lines.push(`    mode ${options.mode}`);
      lines.push(`    balance ${options.balance}`);
      lines.push(...options.options.map((o) => `    option ${o}`));
      const taken = new Set<string>();
      let servers = 0;
      for (const m of safeMembers(members, context)) {
        const port = m.port ?? options.defaultPort;
        if (port === undefined) {
          context.report?.(`member ${m.name} left out: haproxy needs a port (set defaultPort)`);
          continue;
        }
        lines.push(`    ${serverLine(m, port, uniqueName(m.name, taken), options, context)}`);
        servers++;
      }
      if (servers === 0) lines.push('    # No members: haproxy answers 503.');
      return lines.join('\n') + '\n';
    });
  },
};

/** A `server` line; the mysql handler's haproxy format writes its servers with this too. */
export function serverLine(m: Member, port: number, name: string, options: Pick<HaproxyOptions, 'check' | 'serverParams'>, context: RenderContext): string {
  const host = m.host.includes(':') ? `[${m.host}]` : m.host;
  const words = ['server', name, `${host}:${port}`];
  if (options.check) words.push('check');
  const maxconn = metaInteger(m, 'maxconn', COUNTS.maxconn, context);
  for (const [key, value] of Object.entries(options.serverParams)) {
    if (!(key === 'maxconn' && maxconn !== undefined)) words.push(key, String(value));
  }
  const weight = metaInteger(m, 'weight', { min: 0, max: 256 }, context);
  if (weight !== undefined) words.push('weight', String(weight));
  if (maxconn !== undefined) words.push('maxconn', String(maxconn));
  if (metaBoolean(m, 'backup', context) === true) words.push('backup');
  if (metaBoolean(m, 'disabled', context) === true) words.push('disabled');
  return words.join(' ');
}

/** `10.0.0.5:80` → `10.0.0.5_80`; a name already used gets `_2`, `_3`, ... (members come sorted, so this is stable). */
export function uniqueName(memberName: string, taken: Set<string>): string {
  const base = memberName.replace(/[^A-Za-z0-9_.-]/g, '_');
  let name = base;
  for (let i = 2; taken.has(name); i++) name = `${base}_${i}`;
  taken.add(name);
  return name;
}

function parseMode(raw: unknown): HaproxyOptions['mode'] {
  if (raw === undefined || raw === 'http' || raw === 'tcp') return raw;
  throw new HandlerOptionsError('mode', 'must be one of "http", "tcp"');
}

function parseOptionLines(raw: unknown): HaproxyOptions['options'] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) throw new HandlerOptionsError('options', 'must be an array of option names');
  return raw.map((value: unknown, i) => {
    if (typeof value !== 'string' || !(HAPROXY_OPTIONS as readonly string[]).includes(value)) {
      throw new HandlerOptionsError(`options[${i}]`, `must be one of ${HAPROXY_OPTIONS.map((o) => JSON.stringify(o)).join(', ')}`);
    }
    return value as (typeof HAPROXY_OPTIONS)[number];
  });
}

function parseServerParams(raw: unknown): HaproxyServerParams {
  if (raw === undefined) return {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new HandlerOptionsError('serverParams', 'must be an object');
  const values = raw as Record<string, unknown>;
  const result: HaproxyServerParams = {};
  // Read in a fixed order, so the rendered keywords do not depend on the order in the config file.
  for (const key of TIMES) {
    const value = values[key];
    if (value === undefined) continue;
    if (typeof value !== 'string' || !HAPROXY_TIME.test(value)) throw new HandlerOptionsError(`serverParams.${key}`, 'must be a time like "2s", "500ms" or "1m"');
    result[key] = value;
  }
  for (const key of Object.keys(COUNTS) as (keyof typeof COUNTS)[]) {
    const value = values[key];
    if (value === undefined) continue;
    const { min, max } = COUNTS[key];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw new HandlerOptionsError(`serverParams.${key}`, `must be an integer from ${min} to ${max}`);
    }
    result[key] = value;
  }
  for (const key of Object.keys(values)) {
    if (!Object.hasOwn(result, key) && values[key] !== undefined) {
      throw new HandlerOptionsError(`serverParams.${key}`, `unknown server parameter (known: ${[...TIMES, ...Object.keys(COUNTS)].join(', ')})`);
    }
  }
  return result;
}
