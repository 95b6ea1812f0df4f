import type { Handler, Member, RenderContext } from '@cluster-control/core';
import { HandlerOptionsError } from './options-error.js';
import { metaBoolean, metaInteger, metaToken, refuseMeta, safeMembers, withMetaReports } from './shared/meta.js';
import { IDENTIFIER, IDENTIFIER_TEXT, OptionReader } from './shared/options.js';
import { headerComment, identifierFor } from './shared/text.js';

export const NGINX_METHODS = ['none', 'least_conn', 'ip_hash', 'random', 'random two', 'random two least_conn'] as const;
export type NginxMethod = (typeof NGINX_METHODS)[number];

/** Per-server parameters an operator may set for every member (`serverParams`). */
export interface NginxServerParams {
  max_fails?: number;
  fail_timeout?: string;
  max_conns?: number;
}

export type NginxOptions = {
  /** The upstream's name (what `proxy_pass http://NAME` refers to); default: the cluster's name. */
  upstream: string | undefined;
  /** Port for members registered without one; without it nginx's own default (80) applies. */
  defaultPort: number | undefined;
  /** Load-balancing method; `none` is nginx's default, weighted round robin. */
  method: NginxMethod;
  /** Idle keepalive connections to the upstream per worker (`keepalive N;`). */
  keepalive: number | undefined;
  serverParams: NginxServerParams;
};

/** nginx times in seconds, as fail_timeout takes them: `10s`, `1m`, or plain seconds (no `ms`: nginx refuses it here). */
const NGINX_TIME = /^[0-9]{1,6}[smhd]?$/;
const TIME_TEXT = 'a time like "10s", "1m" or "1h"';
const COUNT = { min: 0, max: 1_000_000 };

/**
 * Placeholder for an upstream without primary servers: nginx refuses an upstream with none, and
 * a server marked `down` is never contacted, so requests fail with 502 (or go to the backups).
 */
const PLACEHOLDER = 'server 127.0.0.1:1 down;';

/** An nginx `upstream NAME { server ...; }` block, included into the `http` context. */
export const nginx: Handler<NginxOptions> = {
  name: 'nginx',

  parseOptions(raw) {
    const options = new OptionReader(raw);
    const result: NginxOptions = {
      upstream: options.string('upstream', { pattern: IDENTIFIER, describe: IDENTIFIER_TEXT }),
      defaultPort: options.integer('defaultPort', { min: 1, max: 65535 }),
      method: options.oneOf('method', NGINX_METHODS, 'none'),
      keepalive: options.integer('keepalive', { min: 1, max: 100_000 }),
      serverParams: parseServerParams(options.any('serverParams')),
    };
    options.done();
    return result;
  },

  render(members, options, outer) {
    return withMetaReports(outer, (context) => {
      const safe = safeMembers(members, context);
      const servers = safe.map((m) => server(m, options, context));
      const primaries = servers.filter((s) => !s.backup).length;
      const lines = [headerComment(context.cluster), `upstream ${identifierFor(options.upstream, 'upstream', context)} {`];
      if (options.method !== 'none') lines.push(`    ${options.method};`);
      if (primaries === 0) {
        lines.push(`    # No ${safe.length ? 'primary ' : ''}members: nginx needs a server here; this one is never contacted (502).`, `    ${PLACEHOLDER}`);
      }
      lines.push(...servers.map((s) => `    ${s.line}`));
      if (options.keepalive !== undefined) lines.push(`    keepalive ${options.keepalive};`);
      lines.push('}');
      return lines.join('\n') + '\n';
    });
  },
};

function server(m: Member, options: NginxOptions, context: RenderContext): { line: string; backup: boolean } {
  const port = m.port ?? options.defaultPort;
  const host = m.host.includes(':') ? `[${m.host}]` : m.host;
  const params: string[] = [];
  const weight = metaInteger(m, 'weight', { min: 1, max: 1000 }, context);
  if (weight !== undefined) params.push(`weight=${weight}`);
  const maxFails = metaInteger(m, 'max_fails', COUNT, context) ?? options.serverParams.max_fails;
  if (maxFails !== undefined) params.push(`max_fails=${maxFails}`);
  const failTimeout = metaToken(m, 'fail_timeout', context, NGINX_TIME) ?? options.serverParams.fail_timeout;
  if (failTimeout !== undefined) params.push(`fail_timeout=${failTimeout}`);
  const maxConns = metaInteger(m, 'max_conns', COUNT, context) ?? options.serverParams.max_conns;
  if (maxConns !== undefined) params.push(`max_conns=${maxConns}`);
  let backup = metaBoolean(m, 'backup', context) === true;
  if (backup && options.method !== 'none' && options.method !== 'least_conn') {
    // nginx -t fails on `backup` with these methods; a config that does not load helps nobody.
    refuseMeta(m, 'backup', `method ${options.method} has no backup servers`, context);
    backup = false;
  }
  if (backup) params.push('backup');
  if (metaBoolean(m, 'down', context) === true) params.push('down');
  return { line: ['server', port === undefined ? host : `${host}:${port}`, ...params].join(' ') + ';', backup };
}

function parseServerParams(raw: unknown): NginxServerParams {
  if (raw === undefined) return {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new HandlerOptionsError('serverParams', 'must be an object');
  const result: NginxServerParams = {};
  for (const [key, value] of Object.entries(raw)) {
    const path = `serverParams.${key}`;
    if (key === 'max_fails' || key === 'max_conns') {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < COUNT.min || value > COUNT.max) {
        throw new HandlerOptionsError(path, `must be an integer from ${COUNT.min} to ${COUNT.max}`);
      }
      result[key] = value;
    } else if (key === 'fail_timeout') {
      if (typeof value !== 'string' || !NGINX_TIME.test(value)) throw new HandlerOptionsError(path, `must be ${TIME_TEXT}`);
      result.fail_timeout = value;
    } else {
      throw new HandlerOptionsError(path, 'unknown server parameter (known: max_fails, fail_timeout, max_conns)');
    }
  }
  return result;
}
