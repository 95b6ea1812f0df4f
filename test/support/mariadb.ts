import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './etcd-server.js';
import { type ServerProcess, haveServer, startServer } from './server-process.js';

const run = promisify(execFile);

export const MARIADBD_BIN = process.env.MARIADBD_BIN ?? '/usr/sbin/mariadbd';
export const MARIADB_INSTALL_DB_BIN = process.env.MARIADB_INSTALL_DB_BIN ?? '/usr/bin/mariadb-install-db';
export const MARIADB_BIN = process.env.MARIADB_BIN ?? '/usr/bin/mariadb';

/** Whether integration tests that need MariaDB should run (see haveServer). */
export const haveMariaDb = haveServer(MARIADBD_BIN) && haveServer(MARIADB_INSTALL_DB_BIN) && haveServer(MARIADB_BIN);

export interface MariaDb {
  /** The member name to register: `host:port`. */
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly socket: string;
  readonly server: ServerProcess;
  /** Runs SQL as root over the unix socket (the `mariadb` client); resolves to its tab-separated output. */
  sql(statements: string): Promise<string>;
  /** Stops the server and deletes its data dir. */
  stop(): Promise<void>;
}

// Small, throwaway instances: no binary log, a small buffer pool, no name lookups.
const SERVER_OPTIONS = ['--skip-log-bin', '--innodb-buffer-pool-size=16M', '--innodb-log-file-size=8M', '--skip-name-resolve'];

/**
 * A MariaDB server in the foreground on host and a free TCP port, with a fresh data dir in a temp
 * dir (mariadb-install-db) and root reachable over the unix socket (run as root: `--user=root`).
 */
export async function startMariaDb(host = '127.0.0.1'): Promise<MariaDb> {
  const dir = await mkdtemp(join(tmpdir(), 'cc-mariadb-'));
  const datadir = join(dir, 'data');
  const socket = join(dir, 'mariadb.sock');
  const port = await freePort(host);
  let server: ServerProcess;
  try {
    // Each instance its own tmpdir: two servers set up at once in the shared /tmp can collide on
    // temporary table names ("Could not remove temporary table '/tmp/#sql-temptable-…'").
    const own = [`--tmpdir=${dir}`];
    await run(MARIADB_INSTALL_DB_BIN, ['--no-defaults', `--datadir=${datadir}`, '--user=root', '--auth-root-authentication-method=socket', '--skip-test-db', ...SERVER_OPTIONS, ...own]);
    server = await startServer(
      MARIADBD_BIN,
      ['--no-defaults', `--datadir=${datadir}`, `--socket=${socket}`, `--port=${port}`, `--bind-address=${host}`, `--pid-file=${join(dir, 'mariadb.pid')}`, '--user=root', ...SERVER_OPTIONS, ...own],
      { host, port, timeoutMs: 60_000 },
      { name: 'mariadbd' },
    );
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    name: `${host}:${port}`,
    host,
    port,
    socket,
    server,
    async sql(statements) {
      const { stdout } = await run(MARIADB_BIN, ['--no-defaults', `--socket=${socket}`, '--user=root', '--batch', '--skip-column-names', '-e', statements]);
      return stdout;
    },
    async stop() {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
