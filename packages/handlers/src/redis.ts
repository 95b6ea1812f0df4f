import type { Handler, RenderContext } from '@cluster-control/core';
import { HandlerOptionsError } from './options-error.js';
import { distinctServers, metaInteger, metaToken, refuseMeta, type Server, withMetaReports } from './shared/meta.js';
import { IDENTIFIER, IDENTIFIER_TEXT, OptionReader } from './shared/options.js';
import { headerComment, identifierFor } from './shared/text.js';

export const REDIS_FORMATS = ['nutcracker', 'json', 'env'] as const;
export const NUTCRACKER_HASHES = ['one_at_a_time', 'md5', 'crc16', 'crc32', 'crc32a', 'fnv1_64', 'fnv1a_64', 'fnv1_32', 'fnv1a_32', 'hsieh', 'murmur', 'jenkins'] as const;
export const NUTCRACKER_DISTRIBUTIONS = ['ketama', 'modula', 'random'] as const;

/** A twemproxy (nutcracker) pool config in YAML. */
export type RedisNutcrackerOptions = {
  format: 'nutcracker';
  /** The pool's name (the YAML key); default: the cluster's name. */
  pool: string | undefined;
  /** `host:port` (IPv6 without brackets) or a unix socket path, optionally with octal permissions. */
  listen: string;
  /** `murmur` by default: nutcracker's fnv1a_64 puts runs of similar keys (`user:1`, `user:2`, ...) on one server. */
  hash: (typeof NUTCRACKER_HASHES)[number];
  distribution: (typeof NUTCRACKER_DISTRIBUTIONS)[number];
  autoEjectHosts: boolean;
  /** ms */
  serverRetryTimeout: number;
  serverFailureLimit: number;
  defaultPort: number;
};

/** `[{"host","port"(,"weight")}]` for applications. */
export type RedisJsonOptions = { format: 'json'; defaultPort: number };

/** A shell-sourceable `VARIABLE='host:port host:port'` line. */
export type RedisEnvOptions = { format: 'env'; variable: string; defaultPort: number };

export type RedisOptions = RedisNutcrackerOptions | RedisJsonOptions | RedisEnvOptions;

/** Options that only mean something for one format: given with another, they are a mistake. */
const FORMAT_ONLY: Readonly<Record<string, (typeof REDIS_FORMATS)[number]>> = {
  pool: 'nutcracker',
  listen: 'nutcracker',
  hash: 'nutcracker',
  distribution: 'nutcracker',
  autoEjectHosts: 'nutcracker',
  serverRetryTimeout: 'nutcracker',
  serverFailureLimit: 'nutcracker',
  variable: 'env',
};

// nutcracker splits `listen` at its last colon and rejects brackets, so IPv6 is written bare.
const LISTEN_TCP = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*):([0-9]{1,5})$/;
const LISTEN_UNIX = /^\/[A-Za-z0-9_./-]{1,200}( 0?[0-7]{3})?$/;
const LISTEN_TEXT = 'host:port (an IPv6 address without brackets, e.g. ::1:22121) or an absolute unix socket path, optionally followed by a space and octal permissions';
const VARIABLE = /^[A-Z_][A-Z0-9_]*$/;

/** The web tier's Redis servers: a nutcracker pool, or a plain list for applications (JSON, env). */
export const redis: Handler<RedisOptions> = {
  name: 'redis',

  parseOptions(raw) {
    const options = new OptionReader(raw);
    const format = options.oneOf('format', REDIS_FORMATS, 'nutcracker');
    for (const [name, only] of Object.entries(FORMAT_ONLY)) {
      if (only !== format && Object.hasOwn(raw, name)) throw new HandlerOptionsError(name, `only used with format "${only}"`);
    }
    const defaultPort = options.integer('defaultPort', { default: 6379, min: 1, max: 65535 });
    let result: RedisOptions;
    if (format === 'nutcracker') {
      result = {
        format,
        pool: options.string('pool', { pattern: IDENTIFIER, describe: IDENTIFIER_TEXT }),
        listen: parseListen(options.string('listen', { default: '127.0.0.1:22121' })),
        hash: options.oneOf('hash', NUTCRACKER_HASHES, 'murmur'),
        distribution: options.oneOf('distribution', NUTCRACKER_DISTRIBUTIONS, 'ketama'),
        autoEjectHosts: options.boolean('autoEjectHosts', true),
        serverRetryTimeout: options.integer('serverRetryTimeout', { default: 2000, min: 1, max: 86_400_000 }),
        serverFailureLimit: options.integer('serverFailureLimit', { default: 1, min: 1, max: 1000 }),
        defaultPort,
      };
    } else if (format === 'json') {
      result = { format, defaultPort };
    } else {
      result = { format, variable: options.string('variable', { default: 'REDIS_SERVERS', pattern: VARIABLE, describe: 'a shell variable name in capitals: [A-Z_][A-Z0-9_]*' }), defaultPort };
    }
    options.done();
    return result;
  },

  render(members, options, outer) {
    return withMetaReports(outer, (context) => {
      const servers = distinctServers(members, options.defaultPort, context);
      if (options.format === 'nutcracker') return nutcracker(servers, options, context);
      if (options.format === 'json') {
        const list = servers.map(({ member, host, port }) => {
          const weight = metaInteger(member, 'weight', { min: 1, max: 1000 }, context);
          return weight === undefined ? { host, port } : { host, port, weight };
        });
        return JSON.stringify(list) + '\n';
      }
      const value = servers.map(({ host, port }) => `${host.includes(':') ? `[${host}]` : host}:${port}`).join(' ');
      return `${headerComment(context.cluster)}\n${options.variable}=${shellQuote(value)}\n`;
    });
  },
};

function nutcracker(servers: Server[], options: RedisNutcrackerOptions, context: RenderContext): string {
  // nutcracker refuses a pool without servers; throwing keeps the installed file (see README).
  if (servers.length === 0) throw new Error('no member to write, and nutcracker refuses a pool without servers (set minMembers: 1 to have this logged as a refusal)');
  const lines = [
    headerComment(context.cluster),
    `${identifierFor(options.pool, 'pool', context)}:`,
    `  listen: ${options.listen}`,
    `  hash: ${options.hash}`,
    `  distribution: ${options.distribution}`,
    '  redis: true',
    `  auto_eject_hosts: ${options.autoEjectHosts}`,
    `  server_retry_timeout: ${options.serverRetryTimeout}`,
    `  server_failure_limit: ${options.serverFailureLimit}`,
    '  servers:',
  ];
  // nutcracker requires unique server names; an unnamed server is named host:port (never a token).
  const names = new Map<string, string>();
  for (const { member, host, port } of servers) {
    const weight = metaInteger(member, 'weight', { min: 1, max: 1000 }, context) ?? 1;
    let name = metaToken(member, 'name', context);
    const owner = name === undefined ? undefined : names.get(name);
    if (name !== undefined && owner !== undefined) {
      refuseMeta(member, 'name', `${name} is already the name of member ${owner}`, context);
      name = undefined;
    }
    if (name !== undefined) names.set(name, member.name);
    // IPv6 bare: nutcracker reads weight and port from the right.
    lines.push(`   - ${host}:${port}:${weight}${name === undefined ? '' : ` ${name}`}`);
  }
  return lines.join('\n') + '\n';
}

function parseListen(value: string): string {
  const tcp = LISTEN_TCP.exec(value);
  if (tcp ? Number(tcp[1]) >= 1 && Number(tcp[1]) <= 65535 : LISTEN_UNIX.test(value)) return value;
  throw new HandlerOptionsError('listen', `must be ${LISTEN_TEXT}`);
}

function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}
