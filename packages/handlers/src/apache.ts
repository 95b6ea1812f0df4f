import type { Handler, Member, RenderContext } from '@cluster-control/core';
import { HandlerOptionsError } from './options-error.js';
import { metaBoolean, metaInteger, metaToken, safeMembers, withMetaReports } from './shared/meta.js';
import { IDENTIFIER, IDENTIFIER_TEXT, OptionReader } from './shared/options.js';
import { headerComment } from './shared/text.js';

export const APACHE_SCHEMES = ['http', 'https', 'h2', 'h2c', 'ws', 'wss', 'ajp', 'fcgi', 'scgi', 'uwsgi'] as const;
export const APACHE_LBMETHODS = ['byrequests', 'bytraffic', 'bybusyness', 'heartbeat'] as const;

export type ApacheOptions = {
  /** The balancer's name (`balancer://NAME`); undefined: the cluster's name. */
  balancer: string | undefined;
  scheme: (typeof APACHE_SCHEMES)[number];
  /** Port for members registered without one; undefined: the scheme's default. */
  defaultPort: number | undefined;
  lbmethod: (typeof APACHE_LBMETHODS)[number];
  stickySession: string | undefined;
  /** Extra `key=value` parameters of every BalancerMember, validated, sorted by key. */
  memberParams: ReadonlyArray<readonly [string, string]>;
  /** Extra `key=value` parameters of the balancer's ProxySet, validated, sorted by key. */
  proxySet: ReadonlyArray<readonly [string, string]>;
};

/** A mod_proxy parameter's accepted values, rendered as the text after `=`. */
type Param = { describe: string; parse(value: unknown): string | undefined };

function integer(min: number, max: number): Param {
  return {
    describe: `an integer from ${min} to ${max}`,
    parse: (v) => {
      const n = typeof v === 'string' && /^\d{1,10}$/.test(v) ? Number(v) : v;
      return typeof n === 'number' && Number.isInteger(n) && n >= min && n <= max ? String(n) : undefined;
    },
  };
}

/** Apache's time values: a number in the parameter's default unit, or with ms, s, mi or h. */
function duration(positive: boolean): Param {
  return {
    describe: `${positive ? 'a positive' : 'a'} duration: an integer, or a string such as "500ms", "2s", "5mi", "1h"`,
    parse: (v) => {
      const text = typeof v === 'number' && Number.isInteger(v) && v >= 0 ? String(v) : v;
      if (typeof text !== 'string' || !/^\d{1,9}(?:ms|s|mi|h)?$/.test(text)) return undefined;
      return positive && /^0+\D*$/.test(text) ? undefined : text;
    },
  };
}

const onOff: Param = {
  describe: 'true, false, "On" or "Off"',
  parse: (v) => {
    if (typeof v === 'boolean') return v ? 'On' : 'Off';
    if (typeof v !== 'string') return undefined;
    const lower = v.toLowerCase();
    return lower === 'on' ? 'On' : lower === 'off' ? 'Off' : undefined;
  },
};

function pattern(re: RegExp, describe: string): Param {
  return { describe, parse: (v) => (typeof v === 'string' && re.test(v) ? v : undefined) };
}

const statusCodes: Param = {
  describe: 'an HTTP status code, or codes separated by commas such as "502,503"',
  parse: (v) => {
    const text = typeof v === 'number' ? String(v) : v;
    return typeof text === 'string' && /^[1-5]\d\d(?:,[1-5]\d\d){0,31}$/.test(text) ? text : undefined;
  },
};

/** BalancerMember parameters (mod_proxy worker parameters) that apply to every member alike. */
const MEMBER_PARAMS = new Map<string, Param>([
  ['acquire', duration(false)],
  ['addressttl', duration(false)],
  ['connectiontimeout', duration(true)],
  ['disablereuse', onOff],
  ['enablereuse', onOff],
  ['flushpackets', pattern(/^(?:on|off|auto)$/, '"on", "off" or "auto"')],
  ['flushwait', integer(0, 1000)],
  ['iobuffersize', integer(512, 16 * 1024 * 1024)],
  ['keepalive', onOff],
  ['max', integer(0, 100_000)],
  ['min', integer(0, 100_000)],
  ['ping', duration(true)],
  ['receivebuffersize', integer(512, 16 * 1024 * 1024)],
  ['responsefieldsize', integer(512, 16 * 1024 * 1024)],
  ['retry', duration(false)],
  ['smax', integer(0, 100_000)],
  ['timeout', duration(true)],
  ['ttl', duration(false)],
  ['upgrade', pattern(/^[A-Za-z0-9_.-]{1,32}$/, 'a protocol name such as "websocket"')],
]);

/** Parameters that differ per member: they come from meta, never from memberParams. */
const PER_MEMBER: Record<string, string> = {
  loadfactor: 'meta.weight',
  lbset: 'meta.lbset',
  route: 'meta.route',
  status: 'meta.status / meta.backup',
  redirect: 'nothing (not supported)',
};

/** Balancer parameters for ProxySet; lbmethod and stickysession have options of their own. */
const PROXYSET_PARAMS = new Map<string, Param>([
  ['failonstatus', statusCodes],
  ['failontimeout', onOff],
  ['forcerecovery', onOff],
  ['growth', integer(0, 1000)],
  ['maxattempts', integer(0, 1000)],
  ['nofailover', onOff],
  ['nonce', pattern(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, "_" and "-", or "None"')],
  ['scolonpathdelim', onOff],
  ['stickysessionsep', pattern(/^(?:[.~_-]|Off)$/, 'one of ".", "~", "_", "-", or "Off"')],
  ['timeout', duration(true)],
]);

const OWN_OPTION: Record<string, string> = { lbmethod: 'lbmethod', stickysession: 'stickySession' };

function params(raw: unknown, option: string, known: Map<string, Param>, elsewhere: Record<string, string>, what: string): [string, string][] {
  if (raw === undefined) return [];
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new HandlerOptionsError(option, `must be an object of ${what} parameters`);
  const result: [string, string][] = [];
  for (const [key, value] of Object.entries(raw)) {
    const path = `${option}.${key}`;
    if (Object.hasOwn(elsewhere, key)) throw new HandlerOptionsError(path, `not allowed here: set it with ${elsewhere[key]}`);
    const param = known.get(key);
    if (!param) throw new HandlerOptionsError(path, `unknown ${what} parameter (known: ${[...known.keys()].join(', ')})`);
    const text = param.parse(value);
    if (text === undefined) throw new HandlerOptionsError(path, `must be ${param.describe}`);
    result.push([key, text]);
  }
  return result.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

// Not ".": mod_proxy_balancer splits the session id from the route at the first "." by default.
const ROUTE = /^[A-Za-z0-9_-]{1,32}$/;
const STATUS = /^[+-]?[DSIHENRC]{1,8}(?:[+-][DSIHENRC]{1,8}){0,7}$/;
const STICKY = /^[A-Za-z0-9_.-]{1,64}(?:\|[A-Za-z0-9_.-]{1,64})?$/;

/**
 * A mod_proxy_balancer include: `<Proxy "balancer://NAME">` with one BalancerMember per member.
 * With no members the balancer is still defined and Apache answers 503 through it.
 */
export const apache: Handler<ApacheOptions> = {
  name: 'apache',

  parseOptions(raw) {
    const options = new OptionReader(raw);
    const result: ApacheOptions = {
      balancer: options.string('balancer', { pattern: IDENTIFIER, describe: IDENTIFIER_TEXT }),
      scheme: options.oneOf('scheme', APACHE_SCHEMES, 'http'),
      defaultPort: options.integer('defaultPort', { min: 1, max: 65535 }),
      lbmethod: options.oneOf('lbmethod', APACHE_LBMETHODS, 'byrequests'),
      stickySession: options.string('stickySession', { pattern: STICKY, describe: 'a cookie or parameter name, optionally two joined by "|" (e.g. "JSESSIONID|jsessionid")' }),
      memberParams: params(options.any('memberParams'), 'memberParams', MEMBER_PARAMS, PER_MEMBER, 'BalancerMember'),
      proxySet: params(options.any('proxySet'), 'proxySet', PROXYSET_PARAMS, OWN_OPTION, 'ProxySet'),
    };
    options.done();
    return result;
  },

  render(members, options, outer) {
    return withMetaReports(outer, (context) => {
      const balancer = options.balancer ?? context.cluster;
      // Checked here, not in parseOptions: only render knows the cluster's name.
      if (!IDENTIFIER.test(balancer)) {
        throw new HandlerOptionsError('balancer', `the cluster name ${JSON.stringify(balancer)} cannot be a balancer name (${IDENTIFIER_TEXT}); set the balancer option`);
      }
      const lines = [headerComment(context.cluster), `<Proxy "balancer://${balancer}">`];
      const seen = new Set<string>();
      for (const member of safeMembers(members, context)) {
        const url = memberUrl(member, options);
        // Apache compares worker URLs without case; two names can also meet through defaultPort.
        if (seen.has(url.toLowerCase())) {
          context.report?.(`member ${member.name} left out: ${url} is already a BalancerMember`);
          continue;
        }
        seen.add(url.toLowerCase());
        const line = [`BalancerMember "${url}"`, ...memberParams(member, context), ...options.memberParams.map(([k, v]) => `${k}=${v}`)];
        lines.push(`    ${line.join(' ')}`);
      }
      if (seen.size === 0) lines.push('    # No members: requests to this balancer are answered with 503.');
      const set = [`lbmethod=${options.lbmethod}`];
      if (options.stickySession) set.push(`stickysession=${options.stickySession}`);
      set.push(...options.proxySet.map(([k, v]) => `${k}=${v}`));
      lines.push(`    ProxySet ${set.join(' ')}`, '</Proxy>');
      return lines.join('\n') + '\n';
    });
  },
};

function memberUrl(member: Member, options: ApacheOptions): string {
  const host = member.host.includes(':') ? `[${member.host}]` : member.host;
  const port = member.port ?? options.defaultPort;
  return `${options.scheme}://${host}${port === undefined ? '' : `:${port}`}`;
}

function memberParams(member: Member, context: RenderContext): string[] {
  const out: string[] = [];
  const weight = metaInteger(member, 'weight', { min: 1, max: 100 }, context);
  if (weight !== undefined) out.push(`loadfactor=${weight}`);
  const lbset = metaInteger(member, 'lbset', { min: 0, max: 99 }, context);
  if (lbset !== undefined) out.push(`lbset=${lbset}`);
  const route = metaToken(member, 'route', context, ROUTE);
  if (route !== undefined) out.push(`route=${route}`);
  const status = (metaToken(member, 'status', context, STATUS) ?? '') + (metaBoolean(member, 'backup', context) ? '+H' : '');
  if (status) out.push(`status=${status}`);
  return out;
}
