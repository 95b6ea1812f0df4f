import { execFile } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EtcdConnection } from '@cluster-control/core';
import { connectEtcd } from '@cluster-control/core/etcd';
import { type CliProcess, runCli, spawnCli, tempDir, writeJson } from '#test-support/cli.js';
import { type EtcdServer, haveEtcd, startEtcd } from '#test-support/etcd-server.js';
import { Churn, ExpiryMonitor, type Registrant, type Watcher, lostChanges, waitConverged, watcherOf } from './harness.js';
import { recordResult } from './results.js';

/*
 * 10. Auth and roles, set up exactly as the README's "Least-privilege etcd roles" recipe says
 * (its commands run as written; only the endpoint is substituted), on an etcd whose auth tokens
 * expire every 2 s (--auth-token simple --auth-token-ttl 2).
 * - The web node (the README's config) registers under /clusters/web/ and watches /clusters/db/;
 *   the watcher-only user watches /clusters/web/. Both keep working across many token lifetimes,
 *   under churn and an etcd restart (which forgets every token): nothing lost, no false expiry.
 * - What the roles do not allow is one clear line and exit 1, at once (no retry loop): the web
 *   node registering under /clusters/db/, the watcher registering at all, the watcher reading
 *   /clusters/db/.
 */
const README = resolve(import.meta.dirname, '../../README.md');
const README_ENDPOINT = 'http://10.0.0.2:2379';
const POOL = 39; // odd: with an even pool Churn stops changing the member set after one pass
const TOKEN_TTL = 2;
const run = promisify(execFile);

/** The code block after `<!-- recipe: NAME -->` in the README. */
async function recipe(name: string): Promise<string> {
  const text = await readFile(README, 'utf8');
  const marker = text.indexOf(`<!-- recipe: ${name} -->`);
  expect(marker, `README marker <!-- recipe: ${name} -->`).toBeGreaterThan(0);
  const block = /```\w*\n([^]*?)```/.exec(text.slice(marker));
  expect(block, `a code block after <!-- recipe: ${name} -->`).not.toBeNull();
  return block![1]!;
}

describe.skipIf(!haveEtcd)('10 auth and least-privilege roles', () => {
  let etcd: EtcdServer;
  let admin: EtcdConnection | undefined;
  const churns: Churn[] = [];
  let monitor: ExpiryMonitor | undefined;
  const procs: CliProcess[] = [];
  const dirs: string[] = [];

  beforeAll(async () => {
    etcd = await startEtcd({ extraArgs: ['--auth-token', 'simple', '--auth-token-ttl', String(TOKEN_TTL)] });
  });

  afterAll(async () => {
    monitor?.stop();
    for (const c of churns) await c.stop();
    for (const p of procs) p.kill('SIGKILL');
    admin?.close();
    await etcd?.dispose();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('10 auth roles: README recipe, token expiry every 2 s, etcd restart; refusals are one line', async () => {
    // --- the README's commands, as written, against this etcd ---
    const commands = await recipe('etcd-roles');
    expect(commands).toContain(README_ENDPOINT);
    await run('sh', ['-e', '-c', commands.replaceAll(README_ENDPOINT, etcd.endpoint)], { env: { ...process.env, ETCDCTL_ENDPOINTS: '' } });
    const password = (user: string) => new RegExp(`user add ${user}:(\\S+)`).exec(commands)![1]!;
    admin = await connectEtcd({ endpoints: [etcd.endpoint], auth: { username: 'root', password: password('root') }, timeoutMs: 2000 });
    // Authentication is on: no user, no access.
    await expect(etcd.ctl('get', '/clusters/web/', '--prefix')).rejects.toThrow(/user name is empty|permission denied|authentication/i);

    // --- the README's web node config (only the endpoint substituted), and the watcher's ---
    const nodeConfig = JSON.parse((await recipe('etcd-roles-config')).replaceAll(README_ENDPOINT, etcd.endpoint)) as {
      etcd: { endpoints: string[]; auth: { username: string; password: string } };
      self: { key: string; ttl: number };
      clusters: { name: string; path: string; handlerConfig: string }[];
    };
    expect(nodeConfig.etcd.auth).toEqual({ username: 'web-node', password: password('web-node') });
    const nodeDir = await tempDir('cc-fault-auth-node-');
    const lbDir = await tempDir('cc-fault-auth-lb-');
    const badDir = await tempDir('cc-fault-auth-bad-');
    dirs.push(nodeDir, lbDir, badDir);
    // Short TTL and heartbeat: keepalives every second across 2 s token lifetimes.
    const nodeConf = await writeJson(join(nodeDir, 'cc.conf'), { ...nodeConfig, etcd: { ...nodeConfig.etcd, timeoutMs: 2000 }, self: { ...nodeConfig.self, ttl: 4, heartbeat: 1 } });
    const lbAuth = { username: 'web-watcher', password: password('web-watcher') };
    const lbConf = await writeJson(join(lbDir, 'cc.conf'), {
      etcd: { ...nodeConfig.etcd, auth: lbAuth, timeoutMs: 2000 },
      clusters: [{ name: 'web', path: '/clusters/web', handler: 'json', handlerConfig: 'web.json' }],
    });

    const dbChurn = new Churn(admin, '/clusters/db', { intervalMs: 50, poolSize: POOL, subnet: 10 }).start();
    const webChurn = new Churn(admin, '/clusters/web', { intervalMs: 50, poolSize: POOL, subnet: 11 }).start();
    churns.push(dbChurn, webChurn);

    const startWatch = async (conf: string, cluster: string, file: string): Promise<Watcher> => {
      const proc = spawnCli(['--conf', conf, 'watch', cluster, '0']);
      procs.push(proc);
      await proc.waitForLog(/in sync at revision/, 30_000);
      return watcherOf(proc, file, conf);
    };
    const nodeWatcher = await startWatch(nodeConf, 'db', join(nodeDir, 'db.json'));
    const lbWatcher = await startWatch(lbConf, 'web', join(lbDir, 'web.json'));
    const heartbeat = spawnCli(['--conf', nodeConf, 'heartbeat']);
    procs.push(heartbeat);
    await heartbeat.waitForLog(/registered \/clusters\/web\/10\.0\.0\.5:80/, 30_000);
    const node: Registrant = { key: nodeConfig.self.key, proc: heartbeat, stop: async () => void heartbeat.kill('SIGTERM') };
    monitor = new ExpiryMonitor(admin, [node]).start();

    // --- several token lifetimes, an etcd restart (every token forgotten), several more ---
    const started = Date.now();
    await new Promise((r) => setTimeout(r, 3 * TOKEN_TTL * 1000));
    let worstConvergeMs = Math.max(await waitConverged(admin, '/clusters/db', [nodeWatcher], 20_000), await waitConverged(admin, '/clusters/web', [lbWatcher], 20_000));
    await etcd.stop();
    await new Promise((r) => setTimeout(r, 1000));
    await etcd.start();
    const back = Date.now();
    await waitConverged(admin, '/clusters/db', [nodeWatcher], 30_000);
    await waitConverged(admin, '/clusters/web', [lbWatcher], 30_000);
    const restartConvergeMs = Date.now() - back;
    worstConvergeMs = Math.max(worstConvergeMs, restartConvergeMs);
    await new Promise((r) => setTimeout(r, 4 * TOKEN_TTL * 1000));
    const lifetimes = Math.floor((Date.now() - started) / (TOKEN_TTL * 1000));

    for (const c of churns) await c.stop();
    worstConvergeMs = Math.max(worstConvergeMs, await waitConverged(admin, '/clusters/db', [nodeWatcher], 20_000), await waitConverged(admin, '/clusters/web', [lbWatcher], 20_000));
    const lost = (await lostChanges(admin, '/clusters/db', nodeWatcher)) + (await lostChanges(admin, '/clusters/web', lbWatcher));
    monitor.stop();
    expect(await lbWatcher.members()).toContain('10.0.0.5:80'); // the node's registration, seen by the watcher-only user
    for (const p of [nodeWatcher.proc, lbWatcher.proc, heartbeat]) {
      expect(p.child.exitCode).toBeNull();
      expect(p.stderr()).not.toMatch(/permission denied|authentication failed|registering again/i);
    }

    // --- what the roles do not allow: one line, exit 1, no retries ---
    const refusals: { what: string; config: Record<string, unknown>; args: string[]; message: RegExp }[] = [
      {
        what: 'web node registering under /clusters/db/',
        config: { ...nodeConfig, self: { key: '/clusters/db/10.0.0.5:3306', ttl: 10 } },
        args: ['heartbeat'],
        message: /^cluster-control: could not register \/clusters\/db\/10\.0\.0\.5:3306: put: .*permission denied \(as the configured etcd\.auth user\)$/,
      },
      {
        what: 'watcher-only user registering',
        config: { etcd: { ...nodeConfig.etcd, auth: lbAuth }, self: { key: '/clusters/web/10.0.0.7:80', ttl: 10 } },
        args: ['heartbeat'],
        message: /^cluster-control: could not register \/clusters\/web\/10\.0\.0\.7:80: put: .*permission denied \(as the configured etcd\.auth user\)$/,
      },
      {
        what: 'watcher-only user reading /clusters/db/',
        config: { etcd: { ...nodeConfig.etcd, auth: lbAuth }, clusters: [{ name: 'db', path: '/clusters/db', handler: 'json', handlerConfig: 'db.json' }] },
        args: ['members', 'db', '--timeout', '5'],
        message: /^cluster-control: read: .*permission denied \(as the configured etcd\.auth user\)$/,
      },
      {
        what: 'watcher-only user watching /clusters/db/',
        config: { etcd: { ...nodeConfig.etcd, auth: lbAuth }, clusters: [{ name: 'db', path: '/clusters/db', handler: 'json', handlerConfig: 'db.json' }] },
        args: ['watch', 'db', '0'],
        message: /^cluster-control: read: .*permission denied \(as the configured etcd\.auth user\)$/,
      },
    ];
    const failures: string[] = [];
    for (const [i, r] of refusals.entries()) {
      const conf = await writeJson(join(badDir, `refused-${i}.conf`), r.config);
      const res = await runCli(['--conf', conf, ...r.args], { timeoutMs: 20_000 });
      const lines = res.stderr.trim().split('\n');
      if (res.code !== 1 || lines.length !== 1 || !r.message.test(lines[0]!) || /retrying/.test(res.stderr)) {
        failures.push(`${r.what}: exit ${res.code}, stderr:\n${res.stderr}`);
      }
    }
    expect(failures).toEqual([]);
    expect((await admin.range({ key: '/clusters/db/10.0.0.5:3306', prefix: false })).kvs).toEqual([]);
    expect((await admin.range({ key: '/clusters/web/10.0.0.7:80', prefix: false })).kvs).toEqual([]);

    recordResult({
      scenario: `10 auth roles: ${TOKEN_TTL} s tokens, etcd restart`,
      runs: lifetimes,
      changesMade: dbChurn.made + webChurn.made,
      changesLost: lost,
      falseExpiries: monitor.falseExpiries,
      worstConvergeMs,
      note: `${lifetimes} token lifetimes; README recipe users web-node (register + watch) and web-watcher; back in ${restartConvergeMs} ms after the restart; ${refusals.length} refusals: one line, exit 1`,
    });
    expect(lost).toBe(0);
    expect(monitor.falseExpiries).toBe(0);

    // Shutdown revokes the lease with the web node's own rights (write on its key).
    heartbeat.kill('SIGTERM');
    expect((await heartbeat.exited(15_000)).code).toBe(0);
    expect((await admin.range({ key: nodeConfig.self.key, prefix: false })).kvs).toEqual([]);
    expect(heartbeat.stderr()).toMatch(/deregistered/);
    for (const w of [nodeWatcher, lbWatcher]) await w.stop();
  });
});
