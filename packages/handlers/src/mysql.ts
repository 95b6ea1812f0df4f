import type { Handler } from '@cluster-control/core';
import { serverLine, uniqueName } from './haproxy.js';
import { HandlerOptionsError } from './options-error.js';
import { distinctServers, withMetaReports } from './shared/meta.js';
import { IDENTIFIER, IDENTIFIER_TEXT, OptionReader } from './shared/options.js';
import { headerComment, identifierFor } from './shared/text.js';

export const MYSQL_FORMATS = ['json', 'haproxy'] as const;
export const MYSQL_BALANCE = ['leastconn', 'roundrobin', 'static-rr', 'first', 'source'] as const;

/** `[{"name","host","port"}]`: each entry fits mysql2's `poolCluster.add(name, {host, port, ...})`. */
export type MysqlJsonOptions = { format: 'json'; defaultPort: number };

/** An haproxy TCP `backend` with `option mysql-check` and a checked `server` line per member. */
export type MysqlHaproxyOptions = {
  format: 'haproxy';
  /** The backend's name (what `default_backend` / `use_backend` refer to); default: the cluster's name. */
  backend: string | undefined;
  /** The MySQL user `option mysql-check` logs in as (no password; see README). */
  user: string;
  balance: (typeof MYSQL_BALANCE)[number];
  defaultPort: number;
};

export type MysqlOptions = MysqlJsonOptions | MysqlHaproxyOptions;

const HAPROXY_ONLY = ['backend', 'user', 'balance'];
const MYSQL_USER = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}$/;
/** Every server checked (`option mysql-check`), with no per-server keywords. */
const SERVER_OPTIONS = { check: true, serverParams: {} };

/** The web tier's MySQL servers: JSON for application pools, or an haproxy TCP backend. */
export const mysql: Handler<MysqlOptions> = {
  name: 'mysql',

  parseOptions(raw) {
    const options = new OptionReader(raw);
    const format = options.oneOf('format', MYSQL_FORMATS, 'json');
    const defaultPort = options.integer('defaultPort', { default: 3306, min: 1, max: 65535 });
    let result: MysqlOptions;
    if (format === 'json') {
      const misplaced = HAPROXY_ONLY.find((name) => Object.hasOwn(raw, name));
      if (misplaced !== undefined) throw new HandlerOptionsError(misplaced, 'only used with format "haproxy"');
      result = { format, defaultPort };
    } else {
      const user = options.string('user', { pattern: MYSQL_USER, describe: 'a MySQL user name: letters, digits, "_", "." and "-" (at most 80)' });
      if (user === undefined) throw new HandlerOptionsError('user', 'required with format "haproxy": the MySQL user that option mysql-check logs in as');
      result = {
        format,
        backend: options.string('backend', { pattern: IDENTIFIER, describe: IDENTIFIER_TEXT }),
        user,
        balance: options.oneOf('balance', MYSQL_BALANCE, 'leastconn'),
        defaultPort,
      };
    }
    options.done();
    return result;
  },

  render(members, options, outer) {
    return withMetaReports(outer, (context) => {
      const servers = distinctServers(members, options.defaultPort, context);
      if (options.format === 'json') {
        return JSON.stringify(servers.map(({ member, host, port }) => ({ name: member.name, host, port }))) + '\n';
      }
      const lines = [
        headerComment(context.cluster),
        `backend ${identifierFor(options.backend, 'backend', context)}`,
        '    mode tcp',
        `    balance ${options.balance}`,
        `    option mysql-check user ${options.user}`,
      ];
      const taken = new Set<string>();
      for (const { member, port } of servers) {
        // The haproxy handler's line, fed only the meta fields this handler documents: weight and backup.
        const documented = { ...member, meta: { weight: member.meta.weight, backup: member.meta.backup } };
        lines.push(`    ${serverLine(documented, port, uniqueName(member.name, taken), SERVER_OPTIONS, context)}`);
      }
      if (servers.length === 0) lines.push('    # No members: haproxy closes client connections.');
      return lines.join('\n') + '\n';
    });
  },
};
