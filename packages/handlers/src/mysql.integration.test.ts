import { execFile } from 'node:child_process';
import { mkdir, readFile, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type CliProcess, runCli, spawnCli, tempDir, waitFor, writeJson } from '#test-support/cli.js';
import { type EtcdServer, freePort, haveEtcd, startEtcd } from '#test-support/etcd-server.js';
import { type Haproxy, haveHaproxy, startHaproxy } from '#test-support/haproxy.js';
import { type MariaDb, haveMariaDb, startMariaDb } from '#test-support/mariadb.js';
import { jsonRecipe, recipe } from '#test-support/recipes.js';

const run = promisify(execFile);

type ClusterEntry = { name: string; path: string; handlerConfig: Record<string, unknown>; [key: string]: unknown };

const APP_PASSWORD = 'app-secret';

// The README's recipes with the operator's directories moved into a temp dir, the frontend's port
// replaced by a free one, and the check user's network (10.0.0.%) by loopback's: the only changes.
function localize(text: string, dir: string, port = 0): string {
  return text
    .replaceAll('/etc/webapp/', `${dir}/`)
    .replaceAll('/etc/haproxy/', `${dir}/`)
    .replaceAll('/run/', `${dir}/`)
    .replaceAll('/usr/local/sbin/', `${dir}/`)
    .replaceAll('127.0.0.1:3306', `127.0.0.1:${port}`)
    .replaceAll("'10.0.0.%'", "'127.0.0.%'");
}

function localEntry(name: string, dir: string): ClusterEntry {
  return JSON.parse(localize(JSON.stringify(jsonRecipe(name)), dir)) as ClusterEntry;
}

/** `show stat` on haproxy's stats socket, as `{ "backend/server": {status, check_status} }`. */
async function haproxyStats(socketPath: string): Promise<Record<string, { status: string; check: string }>> {
  const csv = await new Promise<string>((res, rej) => {
    let out = '';
    const socket = connect({ path: socketPath }, () => socket.write('show stat\n'));
    socket.on('data', (d) => (out += d.toString()));
    socket.on('end', () => res(out));
    socket.on('error', rej);
  });
  const [header, ...rows] = csv.trim().split('\n');
  const columns = header!.replace(/^# /, '').split(',');
  const at = (name: string) => columns.indexOf(name);
  return Object.fromEntries(
    rows.map((row) => {
      const f = row.split(',');
      return [`${f[at('pxname')]}/${f[at('svname')]}`, { status: f[at('status')] ?? '', check: f[at('check_status')] ?? '' }];
    }),
  );
}

/** `SELECT @@port` over a fresh connection to host:port (through haproxy, or straight). */
async function portBehind(port: number): Promise<number> {
  const connection = await mysql.createConnection({ host: '127.0.0.1', port, user: 'app', password: APP_PASSWORD, connectTimeout: 10_000 });
  try {
    const [rows] = await connection.query('SELECT @@port AS port');
    return Number((rows as { port: number }[])[0]!.port);
  } finally {
    await connection.end();
  }
}

describe.skipIf(!haveEtcd || !haveMariaDb || !haveHaproxy)('mysql handler: two MariaDB servers, through cluster-control', () => {
  let etcd: EtcdServer;
  let dbs: [MariaDb, MariaDb];
  const cleanups: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    const started = await Promise.allSettled([startEtcd(), startMariaDb('127.0.0.61'), startMariaDb('127.0.0.62')]);
    for (const s of started) if (s.status === 'fulfilled') cleanups.push(() => ('dispose' in s.value ? s.value.dispose() : s.value.stop()));
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
    etcd = (started[0] as PromiseFulfilledResult<EtcdServer>).value;
    dbs = [(started[1] as PromiseFulfilledResult<MariaDb>).value, (started[2] as PromiseFulfilledResult<MariaDb>).value];
    // The check user exactly as the README creates it (for the test's network), and an app user.
    const users = `${localize(recipe('mysql-check-user'), '')} CREATE USER 'app'@'127.0.0.%' IDENTIFIED BY '${APP_PASSWORD}';`;
    await Promise.all(dbs.map((db) => db.sql(users)));
  }, 120_000);

  afterAll(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
  });

  beforeEach(async () => {
    await etcd.ctl('del', '/clusters/', '--prefix');
  });

  async function workDir(): Promise<string> {
    const dir = await tempDir('cc-mysql-test-');
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    return dir;
  }

  it('accepts the PHP version config unchanged (MySQLHandler, handlerConfig as a file name)', async () => {
    const dir = await workDir();
    const conf = await writeJson(join(dir, 'cluster-control.conf'), {
      etcd: { endpoints: [etcd.endpoint] },
      clusters: [{ name: 'mysql', path: '/clusters/mysql', handler: 'AlanKent\\ClusterControl\\Handlers\\MySQLHandler', handlerConfig: 'mysql.json' }],
    });
    for (const db of dbs) await etcd.ctl('put', `/clusters/mysql/${db.name}`, '');
    const res = await runCli(['--conf', conf, 'prepare', 'mysql']);
    expect(res.code).toBe(0);
    expect(await readFile(join(dir, 'mysql.json'), 'utf8')).toBe(`${JSON.stringify(dbs.map((db) => ({ name: db.name, host: db.host, port: db.port })))}\n`);
  });

  it('gives a mysql2 pool cluster both servers (recipes as written)', async () => {
    const dir = await workDir();
    const entry = localEntry('mysql-config', dir);
    const conf = await writeJson(join(dir, 'cluster-control.conf'), { etcd: { endpoints: [etcd.endpoint] }, clusters: [entry] });
    for (const db of dbs) await etcd.ctl('put', `${entry.path}/${db.name}`, '');
    expect((await runCli(['--conf', conf, 'prepare', entry.name])).code).toBe(0);

    // The README's snippet as a program of its own, with mysql2 from this package's dependencies.
    await mkdir(join(dir, 'node_modules'));
    await symlink(await realpath(resolve(import.meta.dirname, '../node_modules/mysql2')), join(dir, 'node_modules/mysql2'));
    const program = join(dir, 'pool.mjs');
    await writeFile(program, localize(recipe('mysql-pool'), dir));
    const { stdout } = await run(process.execPath, [program], { env: { ...process.env, MYSQL_PASSWORD: APP_PASSWORD }, timeout: 30_000 });
    const ports = stdout.trim().split('\n').map(Number);
    expect(ports).toHaveLength(4);
    expect(new Set(ports)).toEqual(new Set(dbs.map((db) => db.port)));
  });

  it('balances connections through haproxy over both servers with mysql-check passing, and follows changes (recipes as written)', async () => {
    const dir = await workDir();
    await mkdir(join(dir, 'cluster-control'));
    const port = await freePort('127.0.0.1');
    const entry = localEntry('mysql-haproxy-config', dir);
    const backendFile = entry.handlerConfig.file as string;
    expect(backendFile).toBe(join(dir, 'cluster-control/mysql.cfg'));
    // The main configuration: what the test needs (a stats socket to read check results, timeouts)
    // and the README's frontend.
    const mainFile = join(dir, 'haproxy.cfg');
    const statsSocket = join(dir, 'admin.sock');
    await writeFile(
      mainFile,
      [
        'global',
        `    stats socket ${statsSocket} level admin`,
        'defaults',
        '    mode tcp',
        '    timeout connect 5s',
        '    timeout client 1m',
        '    timeout server 1m',
        '',
        localize(recipe('mysql-haproxy-frontend'), dir, port),
      ].join('\n'),
    );
    const conf = await writeJson(join(dir, 'cluster-control.conf'), { etcd: { endpoints: [etcd.endpoint] }, clusters: [entry] });
    const [db1, db2] = dbs;
    for (const db of dbs) await etcd.ctl('put', `${entry.path}/${db.name}`, '');

    // prepare runs the recipe's check (haproxy -c on main + staged file) before installing.
    const prepared = await runCli(['--conf', conf, 'prepare', entry.name]);
    expect(prepared.code).toBe(0);
    const name = (db: MariaDb) => db.name.replace(':', '_');
    expect(await readFile(backendFile, 'utf8')).toBe(
      [
        '# Generated by cluster-control for cluster mysql-haproxy. Do not edit.',
        'backend mysql',
        '    mode tcp',
        '    balance leastconn',
        '    option mysql-check user haproxy_check',
        `    server ${name(db1)} ${db1.name} check`,
        `    server ${name(db2)} ${db2.name} check`,
        '',
      ].join('\n'),
    );

    const haproxy: Haproxy = await startHaproxy({ configFiles: [mainFile, backendFile], port });
    cleanups.push(() => haproxy.stop());
    // The recipe's reload reads /run/haproxy.pid, here <dir>/haproxy.pid.
    await symlink(haproxy.pidFile, join(dir, 'haproxy.pid'));
    // ...and runs the haproxy section's reload script, installed here instead of /usr/local/sbin/.
    await writeFile(join(dir, 'cluster-control-haproxy-reload'), recipe('haproxy-reload'), { mode: 0o755 });

    // haproxy's own health check logs in as the check user on both servers.
    await waitFor(
      async () => {
        const stats = await haproxyStats(statsSocket);
        return dbs.every((db) => stats[`mysql/${name(db)}`]?.check === 'L7OK');
      },
      { what: 'mysql-check passing on both servers' },
    );

    const seen = new Set<number>();
    for (let i = 0; i < 6; i++) seen.add(await portBehind(port));
    expect(seen).toEqual(new Set([db1.port, db2.port]));

    // db2 becomes a backup: cluster-control rewrites the backend, checks it and reloads haproxy.
    const watcher: CliProcess = spawnCli(['--conf', conf, 'watch', entry.name, prepared.stdout.trim()]);
    cleanups.push(async () => (watcher.kill('SIGTERM'), watcher.exited()));
    const loads = haproxy.loads();
    await etcd.ctl('put', `${entry.path}/${db2.name}`, '{"backup": true}');
    await haproxy.waitForLoad(loads);
    expect(await readFile(backendFile, 'utf8')).toContain(`    server ${name(db2)} ${db2.name} check backup\n`);
    for (let i = 0; i < 4; i++) expect(await portBehind(port)).toBe(db1.port);

    // Every member gone: the empty backend passes the check, haproxy loads it and turns clients away.
    await etcd.ctl('del', `${entry.path}/`, '--prefix');
    await haproxy.waitForLoad(loads + 1);
    expect(await readFile(backendFile, 'utf8')).toContain('    # No members: haproxy closes client connections.\n');
    await expect(portBehind(port)).rejects.toThrow();

    watcher.kill('SIGTERM');
    const exit = await watcher.exited();
    expect(exit.code).toBe(0);
    expect(exit.stderr).not.toMatch(/check failed|reload.*failed/i);
  });
});
